{{ config(meta={"dagster": {"ref": {"name": "identity_map"}}}) }}
-- Every record of an identity-bearing feed is in identity_map, and only anonymous ones lack an id.
select r.source, r.record_id
from {{ ref('stg_identity_records') }} as r
left join {{ ref('identity_map') }} as m using (source, record_id)
where m.source is null
   or (m.unified_id is null) <> (m.method = 'anonymous')
