-- Conversion funnel per unified user (steps and window in vars.kpi_funnel): a user reaches step k
-- when a step-k event follows their step k-1 within window_days of their first step. Grouped by
-- the channel and campaign of the first step; step conversion and drop-off against the step before.
{% set funnel = var('kpi_funnel') %}
{% set steps = funnel['steps'] %}
with steps as (
    {{ funnel_step_events() }}
),

reached_1 as (
    select unified_id, min(occurred_at) as reached_at, {{ min_by_stable('channel', 'occurred_at') }} as entry_channel,
           {{ min_by_stable('campaign_id', 'occurred_at') }} as entry_campaign
    from steps
    where step_no = 1
    group by unified_id
)
{%- for step in steps[1:] %}
{%- set k = loop.index + 1 %},

reached_{{ k }} as (
    select p.unified_id, min(s.occurred_at) as reached_at
    from reached_{{ k - 1 }} as p
    inner join reached_1 as first using (unified_id)
    inner join steps as s
        on s.unified_id = p.unified_id and s.step_no = {{ k }}
       and s.occurred_at >= p.reached_at
       and s.occurred_at <= first.reached_at + interval {{ funnel['window_days'] }} day
    group by p.unified_id
)
{%- endfor %},

counts as (
    {%- for step in steps %}
    select {{ loop.index }} as step_no, '{{ step["step"] }}' as step, f.entry_channel, {{ campaign_or_none('f.entry_campaign') }} as entry_campaign,
           count(*) as users
    from reached_{{ loop.index }} as r
    inner join reached_1 as f using (unified_id)
    group by all
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    entry_channel,
    entry_campaign,
    step_no,
    step,
    users,
    users / lag(users) over w as step_conversion,
    1 - users / lag(users) over w as drop_off,
    users / first_value(users) over w as overall_conversion
from counts
window w as (partition by entry_channel, entry_campaign order by step_no)
