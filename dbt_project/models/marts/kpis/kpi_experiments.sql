-- Experiment readout per arm: members come from the ad platform's `assignment` rows (experiment,
-- arm); a member converts with a sale (any feed, online or offline) within window_days of their
-- assignment — the same window for every arm, so arms compare like for like.
-- Lift is against the arm named control_arm, with 95 % normal intervals: two-proportion (unpooled)
-- for conversion, Welch's standard error for revenue per user.
{% set cfg = var('kpi_experiments') %}
with assignments as (
    select experiment_id, experiment_arm as arm, unified_id, min(occurred_at) as assigned_at
    from {{ ref('fct_events') }}
    where event_type = 'assignment' and experiment_id is not null and unified_id is not null
    group by all
),

-- a person assigned to two arms of one experiment (identity merges) is dropped: their arm is unknown
members as (
    select * from assignments
    qualify count(*) over (partition by experiment_id, unified_id) = 1
),

outcomes as (
    select
        m.experiment_id, m.arm, m.unified_id,
        count(o.order_id) > 0 as converted,
        coalesce({{ money_sum('o.net_amount') }}, 0) as revenue
    from members as m
    left join {{ ref('fct_orders') }} as o
        on o.unified_id = m.unified_id and {{ completed_sale('o') }}
       and o.ordered_at >= m.assigned_at and o.ordered_at < m.assigned_at + interval {{ cfg['window_days'] }} day
    group by all
),

arms as (
    select
        experiment_id,
        arm,
        count(*) as users,
        count(*) filter (where converted) as conversions,
        avg(converted::int) as conversion_rate,
        {{ money_avg('revenue') }} as revenue_per_user,
        coalesce({{ money_variance('revenue') }}, 0) as revenue_variance
    from outcomes
    group by all
),

compared as (
    select
        a.experiment_id,
        a.arm,
        a.arm = '{{ cfg["control_arm"] }}' as is_control,
        a.users,
        a.conversions,
        a.conversion_rate,
        a.revenue_per_user,
        c.users as control_users,
        c.conversion_rate as control_conversion_rate,
        c.revenue_per_user as control_revenue_per_user,
        a.conversion_rate - c.conversion_rate as conversion_lift,
        sqrt(a.conversion_rate * (1 - a.conversion_rate) / a.users
             + c.conversion_rate * (1 - c.conversion_rate) / c.users) as conversion_se,
        a.revenue_per_user - c.revenue_per_user as revenue_lift,
        sqrt(a.revenue_variance / a.users + c.revenue_variance / c.users) as revenue_se,
        least(a.conversions, a.users - a.conversions, c.conversions, c.users - c.conversions) as smallest_cell
    from arms as a
    left join arms as c on c.experiment_id = a.experiment_id and c.arm = '{{ cfg["control_arm"] }}'
)

select
    experiment_id,
    arm,
    is_control,
    users,
    conversions,
    conversion_rate,
    revenue_per_user,
    control_users,
    control_conversion_rate,
    control_revenue_per_user,
    case when not is_control then conversion_lift end as conversion_lift_abs,
    case when not is_control then conversion_lift / nullif(control_conversion_rate, 0) end as conversion_lift_rel,
    case when not is_control then conversion_lift - {{ cfg['z'] }} * conversion_se end as conversion_lift_ci_low,
    case when not is_control then conversion_lift + {{ cfg['z'] }} * conversion_se end as conversion_lift_ci_high,
    case when not is_control then revenue_lift end as revenue_lift_abs,
    case when not is_control then revenue_lift / nullif(control_revenue_per_user, 0) end as revenue_lift_rel,
    case when not is_control then revenue_lift - {{ cfg['z'] }} * revenue_se end as revenue_lift_ci_low,
    case when not is_control then revenue_lift + {{ cfg['z'] }} * revenue_se end as revenue_lift_ci_high,
    case when not is_control then
        control_users is null
        or least(users, control_users) < {{ cfg['min_users_per_arm'] }}
        or smallest_cell < {{ cfg['min_conversions_per_cell'] }}
    end as sample_too_small
from compared
