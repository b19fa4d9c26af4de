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
    where unified_id is not null and {{ completed_sale() }}
)
{%- endmacro %}

{% macro peer_score(metric, partition='month', descending=false) %}
{#- 0-100 position of `metric` among its peers (rows of the same partition): mid-rank percentile,
    (peers strictly worse + half the other peers tied with it) / (peers - 1), so the best scores
    100, the worst 0 and all-equal peers 50. A null metric, or a row without peers, scores 50
    (nothing to compare). `descending`: lower values are better (costs). -#}
case
    when {{ metric }} is null or count(*) over (partition by {{ partition }}, {{ metric }} is null) = 1 then 50.0
    else 100.0 * (
        rank() over (partition by {{ partition }}, {{ metric }} is null order by {{ metric }}{{ ' desc' if descending }}) - 1
        + (count(*) over (partition by {{ partition }}, {{ metric }}) - 1) / 2
    ) / (count(*) over (partition by {{ partition }}, {{ metric }} is null) - 1)
end
{%- endmacro %}
