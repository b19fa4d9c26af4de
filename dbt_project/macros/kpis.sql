{% macro funnel_step_events() %}
{#- Events and sales of unified users tagged with their funnel step (vars.kpi_funnel.steps, first
    matching rule wins; step_no null when none matches): the shared input of kpi_funnel and
    kpi_funnel_transitions. -#}
{%- set steps = var('kpi_funnel')['steps'] -%}
select
    unified_id, occurred_at, channel, campaign_id,
    case
    {%- for step in steps %}
        when {{ step['rule'] }} then {{ loop.index }}
    {%- endfor %}
    end as step_no
from (
    select unified_id, occurred_at, source, event_type, channel, campaign_id
    from {{ ref('fct_events') }}
    where unified_id is not null
    union all
    select unified_id, ordered_at, source, 'purchase', channel, campaign_id
    from {{ ref('fct_orders') }}
    where unified_id is not null and order_type = 'sale' and not is_cancelled
)
{%- endmacro %}
