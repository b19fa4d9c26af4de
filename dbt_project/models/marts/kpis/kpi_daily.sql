-- Daily KPIs per date × channel (online / offline) × source feed × campaign ('(none)' for rows
-- without one), with anomaly flags. Window KPIs (30-day retention, 12-month repurchase) follow the
-- users who were new on the date (int_kpi_daily_cohorts) and stay null until their window has ended
-- by the profile date. Money is summed with money_sum (exact DECIMAL: same figures whatever the row
-- order).
{% set anomaly = var('kpi_anomaly') %}
{% set types = var('kpi_daily') %}
with as_of as (
    select as_of from {{ ref('int_profile_date') }}
),

active as (
    select date, channel, source, campaign_id, count(distinct unified_id) as active_users
    from {{ ref('int_kpi_daily_activity') }}
    where unified_id is not null
    group by all
),

orders as (
    select
        order_date as date,
        channel,
        source,
        {{ campaign_or_none('campaign_id') }} as campaign_id,
        count(*) filter (where {{ completed_sale() }}) as orders,
        count(distinct unified_id) filter (where {{ completed_sale() }}) as buyers,
        coalesce({{ money_sum('gross_amount', where='not is_cancelled') }}, 0) as gmv,
        coalesce({{ money_sum('refund_amount', where='not is_cancelled') }}, 0) as refunds,
        coalesce({{ money_sum('net_amount', where='not is_cancelled') }}, 0) as net_revenue
    from {{ ref('fct_orders') }}
    group by all
),

events as (
    select
        event_date as date,
        channel,
        source,
        {{ campaign_or_none('campaign_id') }} as campaign_id,
        count(*) as events,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'click') as clicks,
        count(*) filter (where event_type in {{ quoted_list(types['exposure_event_types']) }}) as exposures,
        count(*) filter (where event_type in {{ quoted_list(types['interaction_event_types']) }})
            as interactions,
        coalesce({{ money_sum('cost') }}, 0) as cost
    from {{ ref('fct_events') }}
    where event_type not in {{ quoted_list(var('non_activity_event_types')) }}
    group by all
),

grain as (
    select date, channel, source, campaign_id from {{ ref('int_kpi_daily_activity') }}
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
    coalesce(c.new_users, 0) as new_users,
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
    case when g.date + interval 30 day <= x.as_of then c.retained_30d / nullif(c.new_users, 0) end
        as retention_30d,
    coalesce(c.first_time_buyers, 0) as first_time_buyers,
    case when g.date + interval 365 day <= x.as_of then c.repurchased_12m / nullif(c.first_time_buyers, 0) end
        as repurchase_rate_12m,
    coalesce(o.net_revenue, 0) / nullif(a.active_users, 0) as arpu,
    c.new_user_value / nullif(c.new_users, 0) as ltv,
    e.cost / nullif(e.clicks, 0) as cpc
from grain as g
cross join as_of as x
left join {{ ref('int_kpi_daily_cohorts') }} as c using (date, channel, source, campaign_id)
left join active as a using (date, channel, source, campaign_id)
left join orders as o using (date, channel, source, campaign_id)
left join events as e using (date, channel, source, campaign_id)
),

-- cost sits on ad rows and orders on order rows: a campaign's spend efficiency is over all its feeds
campaign_days as (
    select date, campaign_id, {{ money_sum('cost') }} as cost, sum(orders) as orders,
        {{ money_sum('gmv') }} as gmv, {{ money_sum('net_revenue') }} as net_revenue
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
    * {{ star_except() }} (history_days),
    history_days >= {{ anomaly['min_history_days'] }} and (
        {%- for kpi in anomaly['kpis'] %}
        abs({{ kpi }}_zscore) > {{ anomaly['z_threshold'] }}{{ ' or' if not loop.last }}
        {%- endfor %}
    ) is true as is_anomaly
from scored
