-- Per unified user: what their orders say as of the profile date (later orders are ignored).
with as_of as (
    select as_of from {{ ref('int_profile_date') }}
),

orders as (
    select o.*, a.as_of
    from {{ ref('fct_orders') }} as o
    cross join as_of as a
    where o.unified_id is not null
      and o.order_date <= a.as_of
      and not o.is_cancelled
),

category_spend as (
    select unified_id, category, {{ money_sum('gross_amount') }} as spend
    from orders
    where order_type = 'sale' and category is not null
    group by all
),

-- The store of most orders and the category of most spend; ties go to the larger id / name, so a
-- re-run names the same ones.
favourites as (
    select
        unified_id,
        {{ max_by_stable('store_id', 'n') }} filter (where store_id is not null) as favourite_store_id
    from (select unified_id, store_id, count(*) as n from orders group by all)
    group by unified_id
),

preferred as (
    select unified_id, {{ max_by_stable('category', 'spend') }} as preferred_category
    from category_spend
    group by unified_id
)

select
    o.unified_id,
    count(*) filter (where o.order_type = 'sale') as orders,
    count(distinct o.order_date) filter (where o.order_type = 'sale') as purchase_days,
    min(o.order_date) filter (where o.order_type = 'sale') as first_order_date,
    max(o.order_date) filter (where o.order_type = 'sale') as last_order_date,
    min(o.ordered_at) filter (where o.order_type = 'sale') as first_order_at,
    max(o.ordered_at) filter (where o.order_type = 'sale') as last_order_at,
    min(o.ordered_at) filter (where o.channel = 'online') as first_online_at,
    max(o.ordered_at) filter (where o.channel = 'online') as last_online_at,
    min(o.ordered_at) filter (where o.channel = 'offline') as first_offline_at,
    max(o.ordered_at) filter (where o.channel = 'offline') as last_offline_at,
    {{ sorted_list('o.source', distinct=true) }} as order_sources,
    coalesce({{ money_sum('o.gross_amount') }}, 0) as gross_spend,
    coalesce({{ money_sum('o.net_amount') }}, 0) as net_spend,
    count(*) filter (where o.order_type = 'sale' and o.coupon_amount > 0) as coupon_orders,
    count(*) filter (where o.order_type = 'sale' and o.order_date > o.as_of - interval 365 day) as orders_12m,
    count(distinct o.order_date) filter (where o.order_type = 'sale' and o.order_date > o.as_of - interval 365 day)
        as purchase_days_12m,
    count(*) filter (where o.order_type = 'sale' and o.order_date > o.as_of - interval 30 day) as orders_30d,
    count(*) filter (where o.order_type = 'sale' and o.channel = 'online') as online_orders,
    count(*) filter (where o.order_type = 'sale' and o.channel = 'offline') as offline_orders,
    any_value(f.favourite_store_id) as favourite_store_id,
    any_value(p.preferred_category) as preferred_category,
    {{ sorted_list('o.category', distinct=true) }} as bought_categories
from orders as o
left join favourites as f on f.unified_id = o.unified_id
left join preferred as p on p.unified_id = o.unified_id
group by o.unified_id
