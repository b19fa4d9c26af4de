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

{#- Spark has no row type to order by: a struct orders field by field, as DuckDB's row does. DuckDB's
    arg_max skips rows whose value is null and Spark's max_by does not (it skips null orderings), so
    a null value's ordering is made null: both then answer with the extreme non-null value. -#}
{% macro spark__pick_by(direction, value, order_by) -%}
    {{ direction }}_by({{ value }}, case when {{ value }} is not null then struct({{ order_by }}, {{ value }}) end)
{%- endmacro %}
