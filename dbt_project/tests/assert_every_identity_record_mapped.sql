{{ config(meta={"dagster": {"ref": {"name": "identity_map"}}}) }}
-- Every record of an identity-bearing feed has exactly one unified id.
select r.source, r.record_id
from {{ ref('stg_identity_records') }} as r
left join {{ ref('identity_map') }} as m using (source, record_id)
where m.unified_id is null
