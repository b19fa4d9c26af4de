-- Content / KOL scorecard per month (vars.scorecards.kols): plays of the KOL's content, the
-- interaction rate on it and the share of reached users who bought within conversion_days of
-- their first touch with it that month, each a 0-100 peer score among the month's KOLs, weighted.
{% set cfg = var('scorecards')['kols'] %}
{% set interactions = var('kpi_daily')['interaction_event_types'] %}
with touches as (
    select unified_id, kol_id, occurred_at, event_type, date_trunc('month', occurred_at)::date as month
    from {{ ref('fct_events') }}
    where kol_id is not null
),

reached as (
    select t.month, t.kol_id, t.unified_id, min(t.occurred_at) as first_at
    from touches as t
    where t.unified_id is not null
    group by all
),

converted as (
    select r.month, r.kol_id, count(distinct r.unified_id) as converted_users
    from reached as r
    inner join {{ ref('fct_orders') }} as o
        on o.unified_id = r.unified_id and {{ completed_sale('o') }}
       and o.ordered_at >= r.first_at and o.ordered_at < r.first_at + interval {{ cfg['conversion_days'] }} day
    group by all
),

monthly as (
    select
        t.month,
        t.kol_id,
        count(*) filter (where t.event_type in {{ quoted_list(cfg['play_event_types']) }}) as plays,
        count(*) filter (where t.event_type in {{ quoted_list(interactions) }}) as interactions,
        count(distinct t.unified_id) as reached_users
    from touches as t
    group by all
),

rates as (
    select
        m.*,
        coalesce(c.converted_users, 0) as converted_users,
        m.interactions / nullif(m.plays, 0) as interaction_rate,
        coalesce(c.converted_users, 0) / nullif(m.reached_users, 0) as conversion_rate
    from monthly as m
    left join converted as c using (month, kol_id)
),

scored as (
    select
        *,
        {{ peer_score('plays') }} as plays_score,
        {{ peer_score('interaction_rate') }} as interaction_score,
        {{ peer_score('conversion_rate') }} as conversion_score
    from rates
)

select
    *,
    round({{ cfg['weights']['plays'] }} * plays_score + {{ cfg['weights']['interaction'] }} * interaction_score
          + {{ cfg['weights']['conversion'] }} * conversion_score, 2) as score
from scored
