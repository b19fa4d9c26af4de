-- RFM as of the profile date, across online and offline orders, for every user with a purchase.
with facts as (
    select * from {{ ref('int_user_facts') }} where orders > 0
),

scored as (
    select
        unified_id,
        as_of,
        {{ units_between('day', 'last_order_date', 'as_of') }} as recency_days,
        orders as frequency,
        net_spend as monetary,
        {{ quintile_score(units_between('day', 'last_order_date', 'as_of'), descending=true) }} as r_score,
        {{ quintile_score('orders') }} as f_score,
        {{ quintile_score('net_spend') }} as m_score
    from facts
),

segmented as (
    select *,
        cast(round((f_score + m_score) / 2.0) as integer) as fm_score,  -- halves round up
        r_score + f_score + m_score as rfm_total
    from scored
)

select
    unified_id,
    as_of,
    recency_days,
    frequency,
    monetary,
    r_score,
    f_score,
    m_score,
    fm_score,
    rfm_total,
    r_score::string || f_score::string || m_score::string as rfm_cell,
    {{ rfm_segment('r_score', 'fm_score') }} as segment,
    {{ value_class(rfm_segment('r_score', 'fm_score')) }} as value_class,
    {{ member_tier('rfm_total') }} as member_tier
from segmented
