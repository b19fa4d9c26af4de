-- Daily KPIs per channel (online / offline) and source feed, with anomaly flags.
-- new_users: unified users whose first activity in that source falls on the date.
-- Money is summed as DECIMAL: exact, so a re-run gives the same figures whatever the row order
-- (a DOUBLE sum of 0.05 + 0.8 + 0.05 depends on the order it adds them in).
{% set anomaly = var('kpi_anomaly') %}
with activity as (
    select unified_id, source, channel, order_date as date from {{ ref('fct_orders') }}
    union all
    select unified_id, source, channel, event_date as date from {{ ref('fct_events') }}
),

active as (
    select date, channel, source, count(distinct unified_id) as active_users
    from activity
    where unified_id is not null
    group by all
),

new_users as (
    select first_date as date, channel, source, count(*) as new_users
    from (
        select unified_id, channel, source, min(date) as first_date
        from activity
        where unified_id is not null
        group by all
    )
    group by all
),

orders as (
    select
        order_date as date,
        channel,
        source,
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
        count(*) as events,
        count(*) filter (where event_type = 'impression') as impressions,
        count(*) filter (where event_type = 'click') as clicks,
        coalesce(cast(sum(cost::decimal(18, 4)) as double), 0) as cost
    from {{ ref('fct_events') }}
    group by all
),

grain as (
    select date, channel, source from activity
    union
    select date, channel, source from orders
    union
    select date, channel, source from events
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
    coalesce(e.cost, 0) as cost
from grain as g
left join new_users as n using (date, channel, source)
left join active as a using (date, channel, source)
left join orders as o using (date, channel, source)
left join events as e using (date, channel, source)
),

scored as (
    select
        *,
        {%- for kpi in anomaly['kpis'] %}
        ({{ kpi }} - avg({{ kpi }}) over history) / nullif(stddev_samp({{ kpi }}) over history, 0) as {{ kpi }}_zscore,
        {%- endfor %}
        count(*) over history as history_days
    from daily
    window history as (partition by channel, source order by date
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
