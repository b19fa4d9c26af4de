-- Daily KPIs per date × channel (online / offline) × source feed × campaign ('(none)' for rows
-- without one), with anomaly flags. Window KPIs (30-day retention, 12-month repurchase) follow the
-- users who were new on the date and stay null until their window has ended by the profile date.
-- Money is summed as DECIMAL: exact, so a re-run gives the same figures whatever the row order
-- (a DOUBLE sum of 0.05 + 0.8 + 0.05 depends on the order it adds them in).
{% set anomaly = var('kpi_anomaly') %}
{% set types = var('kpi_daily') %}
with as_of as (
    select as_of from {{ ref('int_profile_date') }}
),

activity as (
    select unified_id, source, channel, coalesce(campaign_id, '(none)') as campaign_id, order_date as date,
           ordered_at as occurred_at
    from {{ ref('fct_orders') }}
    union all
    select unified_id, source, channel, coalesce(campaign_id, '(none)'), event_date, occurred_at
    from {{ ref('fct_events') }}
    where event_type not in {{ "('" ~ var('non_activity_event_types') | join("', '") ~ "')" }}
),

active as (
    select date, channel, source, campaign_id, count(distinct unified_id) as active_users
    from activity
    where unified_id is not null
    group by all
),

-- a user is new in a source on the day of their first activity there, under that activity's campaign
firsts as (
    select unified_id, channel, source, min(date) as date, arg_min(campaign_id, occurred_at) as campaign_id
    from activity
    where unified_id is not null
    group by unified_id, channel, source
),

-- each day a user was active (any feed) and the next such day
user_days as (
    select unified_id, date, lead(date) over (partition by unified_id order by date) as next_date
    from (select distinct unified_id, date from activity where unified_id is not null)
),

sales as (
    select unified_id, order_date, net_amount, source, channel, coalesce(campaign_id, '(none)') as campaign_id,
           ordered_at
    from {{ ref('fct_orders') }}
    where unified_id is not null and order_type = 'sale' and not is_cancelled
),

user_value as (
    select o.unified_id, cast(sum(o.net_amount::decimal(18, 4)) as double) as net_to_date
    from {{ ref('fct_orders') }} as o, as_of
    where o.unified_id is not null and not o.is_cancelled and o.order_date <= as_of.as_of
    group by o.unified_id
),

-- each buyer's first purchase (its feed and campaign) and the next day they bought again
first_purchases as (
    select
        unified_id,
        min(order_date) as date,
        arg_min(source, ordered_at) as source,
        arg_min(channel, ordered_at) as channel,
        arg_min(campaign_id, ordered_at) as campaign_id
    from sales
    group by unified_id
),

repurchases as (
    select f.*, min(s.order_date) as next_order_date
    from first_purchases as f
    left join sales as s on s.unified_id = f.unified_id and s.order_date > f.date
    group by all
),

new_users as (
    select
        f.date, f.channel, f.source, f.campaign_id,
        count(*) as new_users,
        count(*) filter (where d.next_date <= f.date + interval 30 day) as retained_30d,
        cast(sum(coalesce(v.net_to_date, 0)::decimal(18, 4)) as double) as new_user_value
    from firsts as f
    left join user_days as d on d.unified_id = f.unified_id and d.date = f.date
    left join user_value as v on v.unified_id = f.unified_id
    group by all
),

first_buyers as (
    select date, channel, source, campaign_id,
           count(*) as first_time_buyers,
           count(*) filter (where next_order_date <= date + interval 365 day) as repurchased_12m
    from repurchases
    group by all
),

orders as (
    select
        order_date as date,
        channel,
        source,
        coalesce(campaign_id, '(none)') as campaign_id,
        count(*) filter (where order_type = 'sale' and not is_cancelled) as orders,
        count(distinct unified_id) filter (where order_type = 'sale' and not is_cancelled) as buyers,
        coalesce(cast(sum(gross_amount::decimal(18, 4)) filter (where not is_cancelled) as double), 0) as gmv,
        coalesce(cast(sum(refund_amount::decimal(18, 4)) filter (where not is_cancelled) as double), 0) as refunds,
        coalesce(cast(sum(net_amount::decimal(18, 4)) filter (where not is_cancelled) as double), 0) as net_revenue
    from {{ ref('fct_orders') }}
    group by all
),

events as (
    select
        event_date as date,
        channel,
        source,
        coalesce(campaign_id, '(none)') as campaign_id,
        count(*) as events,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'click') as clicks,
        count(*) filter (where event_type in {{ "('" ~ types['exposure_event_types'] | join("', '") ~ "')" }}) as exposures,
        count(*) filter (where event_type in {{ "('" ~ types['interaction_event_types'] | join("', '") ~ "')" }}) as interactions,
        coalesce(cast(sum(cost::decimal(18, 4)) as double), 0) as cost
    from {{ ref('fct_events') }}
    where event_type not in {{ "('" ~ var('non_activity_event_types') | join("', '") ~ "')" }}
    group by all
),

grain as (
    select date, channel, source, campaign_id from activity
    union
    select date, channel, source, campaign_id from orders
    union
    select date, channel, source, campaign_id from events
),

daily as (
select
    g.date,
    g.channel,
    g.source,
    coalesce(n.new_users, 0) as new_users,
    coalesce(a.active_users, 0) as active_users,
    coalesce(o.orders, 0) as orders,
    coalesce(o.buyers, 0) as buyers,
    coalesce(o.gmv, 0) as gmv,
    coalesce(o.refunds, 0) as refunds,
    coalesce(o.net_revenue, 0) as net_revenue,
    o.gmv / nullif(o.orders, 0) as aov,
    coalesce(e.events, 0) as events,
    coalesce(e.impressions, 0) as impressions,
    coalesce(e.clicks, 0) as clicks,
    e.clicks / nullif(e.impressions, 0) as ctr,
    coalesce(e.cost, 0) as cost,
    g.campaign_id,
    coalesce(e.exposures, 0) as exposures,
    coalesce(e.interactions, 0) as interactions,
    e.interactions / nullif(e.exposures, 0) as interaction_rate,
    coalesce(o.buyers, 0) / nullif(a.active_users, 0) as order_conversion,
    case when g.date + interval 30 day <= x.as_of then n.retained_30d / nullif(n.new_users, 0) end as retention_30d,
    coalesce(b.first_time_buyers, 0) as first_time_buyers,
    case when g.date + interval 365 day <= x.as_of then b.repurchased_12m / nullif(b.first_time_buyers, 0) end
        as repurchase_rate_12m,
    coalesce(o.net_revenue, 0) / nullif(a.active_users, 0) as arpu,
    n.new_user_value / nullif(n.new_users, 0) as ltv,
    e.cost / nullif(e.clicks, 0) as cpc
from grain as g
cross join as_of as x
left join new_users as n using (date, channel, source, campaign_id)
left join active as a using (date, channel, source, campaign_id)
left join orders as o using (date, channel, source, campaign_id)
left join events as e using (date, channel, source, campaign_id)
left join first_buyers as b using (date, channel, source, campaign_id)
),

-- cost sits on ad rows and orders on order rows: a campaign's spend efficiency is over all its feeds
campaign_days as (
    select date, campaign_id, cast(sum(cost::decimal(18, 4)) as double) as cost, sum(orders) as orders,
        cast(sum(gmv::decimal(18, 4)) as double) as gmv, cast(sum(net_revenue::decimal(18, 4)) as double) as net_revenue
    from daily
    where campaign_id <> '(none)'
    group by all
),

with_spend as (
    select
        d.*,
        c.cost / nullif(c.orders, 0) as cpa,
        c.gmv / nullif(c.cost, 0) as roas,
        (c.net_revenue - c.cost) / nullif(c.cost, 0) as roi
    from daily as d
    left join campaign_days as c using (date, campaign_id)
),

scored as (
    select
        *,
        {%- for kpi in anomaly['kpis'] %}
        ({{ kpi }} - avg({{ kpi }}) over history) / nullif(stddev_samp({{ kpi }}) over history, 0) as {{ kpi }}_zscore,
        {%- endfor %}
        count(*) over history as history_days
    from with_spend
    window history as (partition by channel, source, campaign_id order by date
                       rows between {{ anomaly['history_days'] }} preceding and 1 preceding)
)

select
    * exclude (history_days),
    history_days >= {{ anomaly['min_history_days'] }} and (
        {%- for kpi in anomaly['kpis'] %}
        abs({{ kpi }}_zscore) > {{ anomaly['z_threshold'] }}{{ ' or' if not loop.last }}
        {%- endfor %}
    ) is true as is_anomaly
from scored
