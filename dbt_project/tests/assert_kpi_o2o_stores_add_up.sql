{{ config(meta={"dagster": {"ref": {"name": "kpi_o2o"}}}) }}
-- The (all) row of kpi_o2o is the sum of the store rows for every additive column.
with stores as (
    select sum(store_orders) as store_orders, sum(store_revenue) as store_revenue,
           sum(platform_driven_orders) as platform_driven_orders, sum(platform_driven_revenue) as platform_driven_revenue,
           sum(store_driven_online_orders) as store_driven_online_orders,
           sum(store_driven_online_revenue) as store_driven_online_revenue
    from {{ ref('kpi_o2o') }} where store_id <> '(all)'
),
total as (select * from {{ ref('kpi_o2o') }} where store_id = '(all)')
select *
from stores cross join total
where stores.store_orders <> total.store_orders
   or abs(stores.store_revenue - total.store_revenue) > 0.01
   or stores.platform_driven_orders <> total.platform_driven_orders
   or abs(stores.platform_driven_revenue - total.platform_driven_revenue) > 0.01
   or stores.store_driven_online_orders <> total.store_driven_online_orders
   or abs(stores.store_driven_online_revenue - total.store_driven_online_revenue) > 0.01
