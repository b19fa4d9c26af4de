-- Identity-graph KPIs in one long table (metric, dimension, value) so new breakdowns need no new
-- columns: match rate and records per user per feed, cross-feed overlap, cluster-size distribution
-- and the largest clusters; what the match threshold does (the expected precision of the accepted
-- matches, the candidate pairs just above and below it and, with ground truth, the precision /
-- recall / F1 curve over it).
with records as (
    select * from {{ ref('identity_map') }}
),

per_feed as (
    select
        source,
        count(*) as records,
        count(*) filter (where method in ('deterministic', 'probabilistic')) as linked,
        count(*) filter (where method = 'anonymous') as anonymous,
        count(distinct unified_id) as users
    from records
    group by source
),

user_sources as (
    select distinct unified_id, source from records where unified_id is not null
),

overlap as (
    select a.source as source_a, b.source as source_b, count(*) as users
    from user_sources as a
    inner join user_sources as b using (unified_id)
    group by all
),

sizes as (
    select unified_id, count(*) as records from records where unified_id is not null group by unified_id
),

size_bands as (
    select
        case
            when records = 1 then '1'
            when records <= 3 then '2-3'
            when records <= 10 then '4-10'
            when records <= 30 then '11-30'
            when records <= 100 then '31-100'
            else '>100'
        end as band,
        count(*) as users
    from sizes
    group by band
),

candidates as (
    select * from {{ source('identity', 'match_candidates') }}
),

matches as (
    select score from {{ ref('identity_links') }} where method = 'probabilistic'
),

curve as (
    select printf('%.2f', threshold) as threshold, precision, recall, f1
    from {{ source('identity', 'threshold_curve') }}
),

largest as (
    select unified_id, records, row_number() over (order by records desc, unified_id) as rank
    from sizes
    qualify rank <= 10
)

select 'match_rate' as metric, source as dimension, null as dimension_2, linked / records as value from per_feed
union all
select 'anonymous_share', source, null, anonymous / records from per_feed
union all
select 'records_per_user', source, null, (records - anonymous) / nullif(users, 0) from per_feed
union all
select 'users', source, null, users from per_feed
union all
select 'overlap_users', source_a, source_b, users from overlap
union all
select 'cluster_size_users', band, null, users from size_bands
union all
select 'largest_cluster_records', unified_id, cast(rank as string), records from largest
union all
select 'match_threshold', null, null, max(threshold) from candidates having count(*) > 0
union all
select 'expected_precision_accepted', null, null, avg(score) from matches having count(*) > 0
union all
select 'pairs_just_above_threshold', null, null, count(*) filter (where near_threshold and margin_bits >= 0)
from candidates
union all
select 'pairs_just_below_threshold', null, null, count(*) filter (where near_threshold and margin_bits < 0)
from candidates
union all
select 'threshold_precision', threshold, null, precision from curve
union all
select 'threshold_recall', threshold, null, recall from curve
union all
select 'threshold_f1', threshold, null, f1 from curve
