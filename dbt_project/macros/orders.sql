{#- What counts as a sale in every KPI: a sale order or ticket (not a refund ticket) that was not
    cancelled. `alias`: the fct_orders alias of the query, if any. -#}
{% macro completed_sale(alias=none) -%}
    {%- set p = alias ~ '.' if alias else '' -%}
    ({{ p }}order_type = 'sale' and not {{ p }}is_cancelled)
{%- endmacro %}

{#- The campaign of a KPI row: activity without a campaign is grouped under '(none)', so it keeps
    a row of its own and the (date, channel, source, campaign_id) grain has no null key. -#}
{% macro campaign_or_none(campaign_id) -%}
    coalesce({{ campaign_id }}, '(none)')
{%- endmacro %}
