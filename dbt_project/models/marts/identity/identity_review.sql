-- The review queue: the candidate pairs the match model was least sure about, accepted and
-- rejected, closest to the threshold first (identity.yaml review.pairs of each), with their
-- evidence and both sides' records masked. A reviewer who settles one pins it in
-- config/identity.yaml (pins.must_link / pins.cannot_link).
with candidates as (
    select * from {{ source('identity', 'match_candidates') }}
    where in_review
),

attributes as (
    select
        source,
        record_id,
        record_type,
        {{ ordered_string_agg(
            "attribute_kind || ': ' || " ~ mask_identity_value('attribute_kind', 'value'), "'; '", 'attribute_kind, value'
        ) }} as shown
    from {{ ref('stg_identity_attributes') }}
    where is_valid
        and (source, record_id, record_type) in (
            select source_a, record_id_a, record_type_a from candidates
            union all
            select source_b, record_id_b, record_type_b from candidates
        )
    group by all
),

ids as (
    select source, record_id, record_type, unified_id from {{ source('identity', 'resolved_records') }}
)

select
    case when c.score >= c.threshold then 'accepted side' else 'rejected side' end as queue,
    c.review_rank,
    c.decision,
    c.score,
    c.threshold,
    c.margin_bits,
    c.agreed,
    c.disagreed,
    c.evidence,
    c.source_a,
    c.record_id_a,
    ida.unified_id as unified_id_a,
    a.shown as record_a,
    c.source_b,
    c.record_id_b,
    idb.unified_id as unified_id_b,
    b.shown as record_b,
    ida.unified_id is not null and ida.unified_id = idb.unified_id as same_unified_id_now,
    c.run_id
from candidates as c
left join attributes as a
    on a.source = c.source_a and a.record_id = c.record_id_a and a.record_type = c.record_type_a
left join attributes as b
    on b.source = c.source_b and b.record_id = c.record_id_b and b.record_type = c.record_type_b
left join ids as ida
    on ida.source = c.source_a and ida.record_id = c.record_id_a and ida.record_type = c.record_type_a
left join ids as idb
    on idb.source = c.source_b and idb.record_id = c.record_id_b and idb.record_type = c.record_type_b
order by queue, c.review_rank
