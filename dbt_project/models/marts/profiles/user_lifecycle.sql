-- Lifecycle stage and user layer of every user as of the profile date (thresholds: var profiles).
{% set life = var('profiles')['lifecycle'] %}
{% set layers = var('profiles')['layers'] %}
with facts as (
    select *,
        {{ units_between('day', 'first_seen_date', 'as_of') }} as tenure_days,
        {{ units_between('day', 'coalesce(last_active_date, first_seen_date)', 'as_of') }} as days_since_active
    from {{ ref('int_user_facts') }}
)

select
    unified_id,
    as_of,
    tenure_days,
    days_since_active,
    case
        when days_since_active > {{ life['dormant_after_days'] }} then 'dormant'
        when tenure_days <= {{ life['new_max_days'] }} then 'new'
        when tenure_days <= {{ life['growing_max_days'] }} then 'growing'
        else 'mature'
    end as lifecycle_stage,
    case
        when repurchase_rate >= {{ layers['loyal_min_repurchase_rate'] }}
             and (shares_and_invites > 0 or expo_registrations > 0) then 'loyal'
        when visit_days_30d >= {{ layers['active_min_visit_days_30d'] }}
             and orders_30d >= {{ layers['active_min_orders_30d'] }} then 'active'
        when orders <= 1 then 'new'
        else 'casual'
    end as user_layer
from facts
