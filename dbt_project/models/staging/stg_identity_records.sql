-- The records identity resolution must map: every row of every identity-bearing feed, once, with
-- when it was first loaded (identity links only what arrived since its last run).
select source, record_id, min(observed_at) as observed_at, min(_loaded_at) as loaded_at
from {{ source('raw', 'identity_records') }}
where record_id is not null
group by all
