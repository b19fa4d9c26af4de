-- Every consent decision with the unified person behind it (null when its identifiers reach nobody
-- identity knows), so any decision can be traced to its source row.
select
    c.source,
    c.consent_id,
    r.unified_id,
    c.purpose,
    c.decision,
    c.decided_at,
    c.captured_via,
    c.store_id
from {{ ref('stg_consents') }} as c
left join {{ source('identity', 'resolved_records') }} as r
    on r.source = c.source and r.record_id = c.identity_key
