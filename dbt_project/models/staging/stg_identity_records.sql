-- The records identity resolution must map: every row of every identity-bearing feed, once.
select source, record_id, min(observed_at) as observed_at
from {{ source('raw', 'identity_records') }}
where record_id is not null
group by all
