{#- "The value with the largest (smallest) order_by" with a fixed answer for ties. DuckDB's arg_max
    and Spark's max_by return any one of the tied rows, so a re-run on the same data could name a
    different favourite store or entry channel; ordering by (order_by, value) breaks the tie by the
    value itself (the largest for max, the smallest for min). -#}

{% macro max_by_stable(value, order_by) -%}
    {{ return(adapter.dispatch('pick_by', 'o2o_cdp')('max', value, order_by)) }}
{%- endmacro %}

{% macro min_by_stable(value, order_by) -%}
    {{ return(adapter.dispatch('pick_by', 'o2o_cdp')('min', value, order_by)) }}
{%- endmacro %}

{% macro default__pick_by(direction, value, order_by) -%}
    arg_{{ direction }}({{ value }}, row({{ order_by }}, {{ value }}))
{%- endmacro %}
