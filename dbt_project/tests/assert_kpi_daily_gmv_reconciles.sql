{{ config(meta={"dagster": {"ref": {"name": "kpi_daily"}}}) }}
-- GMV in kpi_daily adds up to the GMV of fct_orders, day by day.
with kpi as (select date, sum(gmv) as gmv from {{ ref('kpi_daily') }} group by date),
     facts as (select order_date as date, sum(gross_amount) as gmv from {{ ref('fct_orders') }}
               where not is_cancelled group by order_date)
select *
from kpi full outer join facts using (date)
where abs(coalesce(kpi.gmv, 0) - coalesce(facts.gmv, 0)) > 0.01
