-- Every merge and split of unified ids across runs.
select
    run_id,
    event,
    unified_id,
    other_unified_id,
    records,
    record_keys,
    reason,
    happened_at
from {{ source('identity', 'history') }}
