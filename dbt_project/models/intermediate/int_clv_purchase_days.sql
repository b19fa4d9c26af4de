-- Each buyer's purchase days up to the profile date, with the day's spend: the input of the CLV
-- models (user_clv, fitted in Python). The models count purchase occasions, and an occasion is a
-- calendar day, so the engine reduces the orders to one row per buyer and day and the driver fits
-- from those, on DuckDB and on Spark alike. Cancelled orders and refund tickets are no purchase; an
-- order refunded below 0 is worth 0 (a purchase without spend).
select
    o.unified_id,
    o.order_date as purchase_date,
    cast(sum(greatest(o.net_amount, 0)) as double) as amount
from {{ ref('fct_orders') }} as o
cross join {{ ref('int_profile_date') }} as p
where
    o.unified_id is not null
    and o.order_type = 'sale'
    and not o.is_cancelled
    and o.order_date <= p.as_of
group by o.unified_id, o.order_date
