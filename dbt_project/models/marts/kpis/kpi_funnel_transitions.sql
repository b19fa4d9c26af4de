-- First-order Markov chain between funnel states (vars.kpi_funnel): each user's funnel events
-- within window_days of their first one, in time order, repeats of the same state collapsed, form
-- a path start → … that ends in the absorbing last step (purchase) — the path stops at the first
-- one — or in the absorbing `null` state. Counted by the channel of the user's first funnel event
-- and over all channels (`all`).
{% set funnel = var('kpi_funnel') %}
{% set steps = funnel['steps'] %}
with steps as (
    select s.*, case s.step_no
        {%- for step in steps %} when {{ loop.index }} then '{{ step["step"] }}'{% endfor %} end as state
    from ({{ funnel_step_events() }}) as s
    where s.step_no is not null
),

firsts as (
    select unified_id, min(occurred_at) as first_at, {{ min_by_stable('channel', 'occurred_at') }} as entry_channel
    from steps
    group by unified_id
),

windowed as (
    select s.unified_id, s.occurred_at, s.step_no, s.state, f.entry_channel
    from steps as s
    inner join firsts as f using (unified_id)
    where s.occurred_at <= f.first_at + interval {{ funnel['window_days'] }} day
),

converted as (
    select unified_id, min(occurred_at) as converted_at
    from windowed
    where step_no = {{ steps | length }}
    group by unified_id
),

ordered as (
    select
        w.unified_id, w.entry_channel, w.state, c.converted_at is not null as converts,
        lag(w.state) over (partition by w.unified_id order by w.occurred_at, w.step_no) as previous_state,
        lead(w.state) over (partition by w.unified_id order by w.occurred_at, w.step_no) is null as is_last
    from windowed as w
    left join converted as c using (unified_id)
    where c.converted_at is null or w.occurred_at < c.converted_at
       or w.occurred_at = c.converted_at and w.step_no = {{ steps | length }}
),

moves as (
    -- the path's steps, with repeats of one state collapsed (a repeat is not a move)
    select entry_channel, coalesce(previous_state, 'start') as from_state, state as to_state
    from ordered
    where previous_state is distinct from state
    union all
    -- paths that never reach the last step are absorbed in `null`
    select entry_channel, state, 'null'
    from ordered
    where is_last and not converts
),

counted as (
    select coalesce(entry_channel, 'all') as channel, from_state, to_state, count(*) as transitions
    from moves
    group by grouping sets ((entry_channel, from_state, to_state), (from_state, to_state))
)

select
    channel,
    from_state,
    to_state,
    transitions,
    transitions / sum(transitions) over (partition by channel, from_state) as probability
from counted
