-- The unified user id of every identity-bearing record, with how and how surely it was linked.
-- Records without any usable identifier are listed with method 'anonymous' and no unified id.
-- Cluster sizes are counted here rather than stored, so a person gaining a record does not
-- rewrite every record they already had.
with resolved as (
    select
        *,
        case when unified_id is null then 1 else count(*) over (partition by unified_id) end as cluster_size
    from {{ source('identity', 'resolved_records') }}
)

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
from resolved
where record_type = 'record'
