-- Purchase cohorts: buyers grouped by the week and by the month of their first purchase, followed
-- period by period up to the profile date (the current period is flagged as incomplete).
with as_of as (
    select as_of from {{ ref('int_profile_date') }}
),

sales as (
    select o.unified_id, o.order_date, o.net_amount
    from {{ ref('fct_orders') }} as o
    cross join as_of as a
    where o.unified_id is not null and {{ completed_sale('o') }} and o.order_date <= a.as_of
),

first_purchase as (
    select unified_id, min(order_date) as first_date from sales group by unified_id
),

buyers as (
    select
        f.unified_id,
        f.first_date,
        bool_or(s.order_date > f.first_date and s.order_date <= f.first_date + interval 30 day) as retained_30d,
        bool_or(s.order_date > f.first_date and s.order_date <= f.first_date + interval 365 day) as repurchased_12m
    from first_purchase as f
    inner join sales as s using (unified_id)
    group by all
),

grains as (
    select 'week' as cohort_grain union all select 'month'
),

cohorts as (
    select
        g.cohort_grain,
        cast(date_trunc(g.cohort_grain, b.first_date) as date) as cohort_start,
        count(*) as cohort_buyers,
        -- rates only over buyers observed for the whole window
        avg(case when b.first_date + interval 30 day <= a.as_of then b.retained_30d::int end) as retention_30d,
        avg(case when b.first_date + interval 365 day <= a.as_of then b.repurchased_12m::int end)
            as repurchase_rate_12m
    from buyers as b
    cross join grains as g
    cross join as_of as a
    group by all
),

periods as (
    select
        g.cohort_grain,
        cast(date_trunc(g.cohort_grain, b.first_date) as date) as cohort_start,
        case g.cohort_grain
            when 'week' then {{ units_between('week', "date_trunc('week', b.first_date)", "date_trunc('week', s.order_date)") }}
            else {{ units_between('month', "date_trunc('month', b.first_date)", "date_trunc('month', s.order_date)") }}
        end as period,
        count(distinct s.unified_id) as active_buyers,
        {{ money_sum('s.net_amount') }} as revenue
    from sales as s
    inner join buyers as b using (unified_id)
    cross join grains as g
    group by all
)

select
    c.cohort_grain,
    c.cohort_start,
    p.period,
    c.cohort_buyers,
    p.active_buyers,
    p.active_buyers / c.cohort_buyers as retention_rate,
    p.revenue,
    p.revenue / c.cohort_buyers as arpu,
    sum(p.revenue) over (partition by c.cohort_grain, c.cohort_start order by p.period) / c.cohort_buyers
        as realised_ltv,
    c.retention_30d,
    c.repurchase_rate_12m,
    case c.cohort_grain
        when 'week' then {{ plus_units('week', 'c.cohort_start', 'p.period + 1') }}
        else {{ plus_units('month', 'c.cohort_start', 'p.period + 1') }}
    end <= a.as_of + interval 1 day as is_complete
from cohorts as c
inner join periods as p using (cohort_grain, cohort_start)
cross join as_of as a
