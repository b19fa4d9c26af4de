{{ config(meta={"dagster": {"ref": {"name": "kpi_daily"}}}) }}
-- Orders and media cost in kpi_daily add up to fct_orders' sales and fct_events' cost, day by day.
with kpi as (select date, sum(orders) as orders, sum(cost) as cost from {{ ref('kpi_daily') }} group by date),
     sales as (select order_date as date, count(*) as orders from {{ ref('fct_orders') }}
               where order_type = 'sale' and not is_cancelled group by order_date),
     spend as (select event_date as date, sum(cost) as cost from {{ ref('fct_events') }} group by event_date)
select *
from kpi
full outer join sales using (date)
full outer join spend using (date)
where coalesce(kpi.orders, 0) <> coalesce(sales.orders, 0)
   or abs(coalesce(kpi.cost, 0) - coalesce(spend.cost, 0)) > 0.01
