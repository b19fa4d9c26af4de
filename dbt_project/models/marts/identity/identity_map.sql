-- The unified user id of every identity-bearing record, with how and how surely it was linked.
-- Records without any usable identifier are listed with method 'anonymous' and no unified id.
select
    source,
    record_id,
    unified_id,
    method,
    rule,
    confidence,
    cluster_size,
    first_linked_run,
    id_created_at,
    resolved_at
from {{ source('identity', 'resolved_records') }}
where record_type = 'record'
