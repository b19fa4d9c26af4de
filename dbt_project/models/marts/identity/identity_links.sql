-- Why records share a unified id: every accepted link, with the stitching rule or the match score
-- and per-attribute evidence. Identifier values never appear here, only their kinds and weights.
select
    unified_id,
    source_a,
    record_id_a,
    record_type_a,
    source_b,
    record_id_b,
    record_type_b,
    method,
    rule,
    score,
    evidence
from {{ source('identity', 'links') }}
