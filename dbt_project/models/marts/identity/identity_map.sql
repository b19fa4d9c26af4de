-- The unified user id of every identity-bearing record, with how it was linked.
select
    source,
    record_id,
    unified_id,
    method,
    rule,
    cluster_size,
    resolved_at
from {{ source('identity', 'resolved_records') }}
where record_type = 'record'
