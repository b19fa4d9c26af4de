-- Online-to-offline performance (vars.kpi_o2o), one row per store plus an `(all)` row.
-- A store sale is platform-driven when its buyer had an online touch in the window_days before
-- it; an online sale is store-driven when its buyer had an offline touch (a store event or a store
-- sale) in the window_days before it, and belongs to the store of the latest such touch. Each side
-- earns its commission rate on the net revenue it drove. Store sales of feeds without a store id
-- (a till log) count under `(no store)`.
{% set cfg = var('kpi_o2o') %}
with touches as (
    select unified_id, channel, occurred_at, store_id
    from {{ ref('fct_events') }}
    where unified_id is not null
      and event_type not in {{ quoted_list(cfg['non_touch_event_types']) }}
),

sales as (
    select unified_id, channel, store_id, ordered_at, net_amount
    from {{ ref('fct_orders') }}
    where unified_id is not null and {{ completed_sale() }}
),

online_touches as (
    select unified_id, occurred_at from touches where channel = 'online'
),

offline_touches as (
    select unified_id, occurred_at, store_id from touches where channel = 'offline' and store_id is not null
    union all
    select unified_id, ordered_at, store_id from sales where channel = 'offline' and store_id is not null
),

-- The latest touch at or before each sale (strictly before, for online sales): touches and sales in
-- one timeline per user, the running maximum of the touch times read at each sale. A touch at the
-- sale's own instant sorts before the sale when it may count (<=) and after it when it may not (<).
store_sale_timeline as (
    select unified_id, occurred_at as happened_at, 0 as is_sale, occurred_at as touched_at,
           cast(null as string) as store_id, cast(null as double) as net_amount
    from online_touches
    where unified_id in (select unified_id from sales where channel = 'offline')  -- the others drive no sale
    union all
    select unified_id, ordered_at, 1, null, store_id, net_amount from sales where channel = 'offline'
),

store_sales as (
    select unified_id, store_id, ordered_at, net_amount,
           last_touch_at >= ordered_at - interval {{ cfg['window_days'] }} day as platform_driven
    from (
        select unified_id, store_id, happened_at as ordered_at, net_amount, is_sale,
               max(touched_at) over (partition by unified_id order by happened_at, is_sale
                                     rows between unbounded preceding and current row) as last_touch_at
        from store_sale_timeline
    )
    where is_sale = 1
),

online_sale_timeline as (
    select unified_id, occurred_at as happened_at, 1 as is_touch, occurred_at as touched_at,
           cast(null as double) as net_amount
    from offline_touches
    where unified_id in (select unified_id from sales where channel = 'online')  -- the others drive no sale
    union all
    select unified_id, ordered_at, 0, null, net_amount from sales where channel = 'online'
),

online_sales_touched as (
    select unified_id, happened_at as ordered_at, net_amount,
           max(touched_at) over (partition by unified_id order by happened_at, is_touch
                                 rows between unbounded preceding and current row) as last_touch_at,
           is_touch
    from online_sale_timeline
),

-- The store of the latest touch; of several touches at that instant, the first store id.
touch_stores as (
    select unified_id, occurred_at, min(store_id) as store_id
    from offline_touches
    group by unified_id, occurred_at
),

online_sales as (
    select s.unified_id, s.ordered_at, s.net_amount, t.store_id as driving_store,
           s.last_touch_at >= s.ordered_at - interval {{ cfg['window_days'] }} day as store_driven
    from online_sales_touched as s
    left join touch_stores as t on t.unified_id = s.unified_id and t.occurred_at = s.last_touch_at
    where s.is_touch = 0
),

users as (
    select unified_id,
           bool_or(channel = 'online') as online,
           bool_or(channel = 'offline') as offline
    from (select unified_id, channel from touches union all select unified_id, channel from sales)
    group by unified_id
),

-- A grouping set () over no rows gives a total row on DuckDB and none on Spark: the rates below
-- therefore read a missing count as 0, so a store with touches but no driven sale is 0 % on both.
per_store as (
    select
        case when grouping(store_id) = 1 then '(all)' else coalesce(store_id, '(no store)') end as store_id,
        count(*) as store_orders,
        {{ money_sum('net_amount') }} as store_revenue,
        count(distinct unified_id) as store_buyers,
        count(*) filter (where platform_driven) as platform_driven_orders,
        coalesce({{ money_sum('net_amount', where='platform_driven') }}, 0) as platform_driven_revenue,
        count(distinct unified_id) filter (where platform_driven) as platform_driven_buyers,
        count(distinct unified_id) filter (where u.online) as omnichannel_buyers
    from store_sales
    left join users as u using (unified_id)
    group by grouping sets ((store_id), ())
),

per_driving_store as (
    select
        case when grouping(driving_store) = 1 then '(all)' else coalesce(driving_store, '(no store)') end
            as store_id,
        count(*) as store_driven_online_orders,
        {{ money_sum('net_amount') }} as store_driven_online_revenue,
        count(distinct unified_id) as store_driven_online_buyers
    from online_sales
    where store_driven
    group by grouping sets ((driving_store), ())
),

per_touch_store as (
    select coalesce(store_id, '(all)') as store_id, count(distinct unified_id) as offline_touch_users
    from offline_touches
    group by grouping sets ((store_id), ())
),

overall as (
    select
        '(all)' as store_id,
        (select count(distinct unified_id) from online_touches) as online_touch_users,
        count(*) filter (where online and offline) as omnichannel_users,
        count(*) as users
    from users
),

stores as (
    select store_id from per_store
    union
    select store_id from per_driving_store
    union
    select store_id from per_touch_store
    union
    select '(all)'
)

select
    s.store_id,
    coalesce(p.store_orders, 0) as store_orders,
    coalesce(p.store_revenue, 0) as store_revenue,
    coalesce(p.store_buyers, 0) as store_buyers,
    coalesce(p.platform_driven_orders, 0) as platform_driven_orders,
    coalesce(p.platform_driven_revenue, 0) as platform_driven_revenue,
    coalesce(p.platform_driven_buyers, 0) as platform_driven_buyers,
    p.platform_driven_orders / nullif(p.store_orders, 0) as platform_driven_order_share,
    coalesce(d.store_driven_online_orders, 0) as store_driven_online_orders,
    coalesce(d.store_driven_online_revenue, 0) as store_driven_online_revenue,
    coalesce(d.store_driven_online_buyers, 0) as store_driven_online_buyers,
    round({{ cfg['platform_commission_rate'] }} * coalesce(p.platform_driven_revenue, 0), 2) as platform_commission,
    round({{ cfg['store_commission_rate'] }} * coalesce(d.store_driven_online_revenue, 0), 2) as store_commission,
    p.omnichannel_buyers / nullif(p.store_buyers, 0) as omnichannel_buyer_share,
    coalesce(t.offline_touch_users, 0) as offline_touch_users,
    o.online_touch_users,
    o.omnichannel_users,
    o.users,
    o.omnichannel_users / nullif(o.users, 0) as omnichannel_user_share,
    coalesce(p.platform_driven_buyers, 0) / nullif(o.online_touch_users, 0) as online_to_offline_rate,
    coalesce(d.store_driven_online_buyers, 0) / nullif(t.offline_touch_users, 0) as offline_to_online_rate,
    {{ cfg['window_days'] }} as window_days,
    {{ cfg['platform_commission_rate'] }} as platform_commission_rate,
    {{ cfg['store_commission_rate'] }} as store_commission_rate
from stores as s
left join per_store as p using (store_id)
left join per_driving_store as d using (store_id)
left join per_touch_store as t using (store_id)
left join overall as o using (store_id)
