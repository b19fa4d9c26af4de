-- The cohorts behind kpi_daily's window KPIs, per date × channel × source × campaign: the users new
-- in a source that day (how many were active again, any feed, within 30 days; their net spend up to
-- the profile date) and the buyers whose first ever purchase was that day (how many bought again
-- within 365 days). kpi_daily turns these counts into rates once the windows have ended.
with as_of as (
    select as_of from {{ ref('int_profile_date') }}
),

-- a user is new in a source on the day of their first activity there, under that activity's campaign
firsts as (
    select unified_id, channel, source, min(date) as date, {{ min_by_stable('campaign_id', 'occurred_at') }} as campaign_id
    from {{ ref('int_kpi_daily_activity') }}
    where unified_id is not null
    group by unified_id, channel, source
),

-- each day a user was active (any feed) and the next such day
user_days as (
    select unified_id, date, lead(date) over (partition by unified_id order by date) as next_date
    from (
        select distinct unified_id, date from {{ ref('int_kpi_daily_activity') }} where unified_id is not null
    )
),

user_value as (
    select o.unified_id, {{ money_sum('o.net_amount') }} as net_to_date
    from {{ ref('fct_orders') }} as o, as_of
    where o.unified_id is not null and not o.is_cancelled and o.order_date <= as_of.as_of
    group by o.unified_id
),

new_users as (
    select
        f.date, f.channel, f.source, f.campaign_id,
        count(*) as new_users,
        count(*) filter (where d.next_date <= f.date + interval 30 day) as retained_30d,
        {{ money_sum('coalesce(v.net_to_date, 0)') }} as new_user_value
    from firsts as f
    left join user_days as d on d.unified_id = f.unified_id and d.date = f.date
    left join user_value as v on v.unified_id = f.unified_id
    group by all
),

sales as (
    select unified_id, order_date, source, channel, {{ campaign_or_none('campaign_id') }} as campaign_id,
           ordered_at
    from {{ ref('fct_orders') }}
    where unified_id is not null and {{ completed_sale() }}
),

-- each buyer's first purchase (its feed and campaign) and the next day they bought again
first_purchases as (
    select
        unified_id,
        min(order_date) as date,
        {{ min_by_stable('source', 'ordered_at') }} as source,
        {{ min_by_stable('channel', 'ordered_at') }} as channel,
        {{ min_by_stable('campaign_id', 'ordered_at') }} as campaign_id
    from sales
    group by unified_id
),

repurchases as (
    select f.*, min(s.order_date) as next_order_date
    from first_purchases as f
    left join sales as s on s.unified_id = f.unified_id and s.order_date > f.date
    group by all
),

first_buyers as (
    select date, channel, source, campaign_id,
           count(*) as first_time_buyers,
           count(*) filter (where next_order_date <= date + interval 365 day) as repurchased_12m
    from repurchases
    group by all
)

select
    date, channel, source, campaign_id,
    coalesce(n.new_users, 0) as new_users,
    coalesce(n.retained_30d, 0) as retained_30d,
    coalesce(n.new_user_value, 0) as new_user_value,
    coalesce(b.first_time_buyers, 0) as first_time_buyers,
    coalesce(b.repurchased_12m, 0) as repurchased_12m
from new_users as n
full join first_buyers as b using (date, channel, source, campaign_id)
