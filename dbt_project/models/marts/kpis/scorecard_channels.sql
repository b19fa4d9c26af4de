-- Channel / resource scorecard per month (vars.scorecards.channels). A resource is the feed and
-- ad channel or platform through which users first reached the brand; each month it is judged on
-- the users it acquired: quality (bought within window_days), match (came back on another day
-- within window_days), cost (media cost per acquired user, cheaper is better) and potential
-- (growth of acquired users on the month before). Components are 0-100 peer scores among the
-- month's resources; the score is their weighted sum, flagged when below flag_below for
-- flag_months consecutive months.
{% set cfg = var('scorecards')['channels'] %}
with activity as (
    select unified_id, occurred_at, event_date as date,
           source || coalesce(':' || coalesce(ad_channel, platform), '') as resource, cost
    from {{ ref('fct_events') }}
    where event_type not in {{ quoted_list(var('non_activity_event_types')) }}
    union all
    select unified_id, ordered_at, order_date, source || coalesce(':' || platform, ''), 0
    from {{ ref('fct_orders') }}
),

acquired as (
    select unified_id, min(occurred_at) as first_at, {{ min_by_stable('resource', 'occurred_at') }} as resource
    from activity
    where unified_id is not null
    group by unified_id
),

first_sales as (
    select unified_id, min(ordered_at) as first_sale_at
    from {{ ref('fct_orders') }}
    where unified_id is not null and {{ completed_sale() }}
    group by unified_id
),

returned as (
    select distinct a.unified_id
    from acquired as a
    inner join activity as d
        on d.unified_id = a.unified_id and d.date > cast(a.first_at as date)
       and d.occurred_at <= a.first_at + interval {{ cfg['window_days'] }} day
),

per_user as (
    select
        a.resource,
        date_trunc('month', a.first_at)::date as month,
        a.unified_id,
        coalesce(s.first_sale_at <= a.first_at + interval {{ cfg['window_days'] }} day, false) as bought,
        r.unified_id is not null as came_back
    from acquired as a
    left join first_sales as s using (unified_id)
    left join returned as r using (unified_id)
),

costs as (
    select resource, date_trunc('month', date)::date as month, {{ money_sum('cost') }} as cost
    from activity
    group by all
),

monthly as (
    select
        u.month,
        u.resource,
        count(*) as acquired_users,
        avg(u.bought::int) as quality_rate,
        avg(u.came_back::int) as match_rate,
        coalesce(any_value(c.cost), 0) as cost,
        coalesce(any_value(c.cost), 0) / count(*) as cost_per_user
    from per_user as u
    left join costs as c using (resource, month)
    group by all
),

with_growth as (
    select
        m.*,
        m.acquired_users / p.acquired_users - 1 as acquired_growth
    from monthly as m
    left join monthly as p on p.resource = m.resource and p.month = m.month - interval 1 month
),

scored as (
    select
        *,
        {{ peer_score('quality_rate') }} as quality_score,
        {{ peer_score('match_rate') }} as match_score,
        {{ peer_score('cost_per_user', descending=true) }} as cost_score,
        {{ peer_score('acquired_growth') }} as potential_score
    from with_growth
),

totals as (
    select
        *,
        round({{ cfg['weights']['quality'] }} * quality_score + {{ cfg['weights']['match'] }} * match_score
              + {{ cfg['weights']['cost'] }} * cost_score + {{ cfg['weights']['potential'] }} * potential_score, 2) as score,
        year(month) * 12 + month(month) as month_no
    from scored
)

select
    month, resource, acquired_users, quality_rate, match_rate, cost, cost_per_user, acquired_growth,
    quality_score, match_score, cost_score, potential_score, score,
    score < {{ cfg['flag_below'] }} as is_below,
    coalesce(
        sum((score < {{ cfg['flag_below'] }})::int) over recent = {{ cfg['flag_months'] }}
        and month_no - min(month_no) over recent = {{ cfg['flag_months'] - 1 }}
        and count(*) over recent = {{ cfg['flag_months'] }},
        false) as is_flagged
from totals
window recent as (partition by resource order by month_no rows between {{ cfg['flag_months'] - 1 }} preceding and current row)
