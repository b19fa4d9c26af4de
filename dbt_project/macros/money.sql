{#- Money aggregates. Amounts are DOUBLE in the marts, but a DOUBLE sum depends on the order it adds
    its rows in (0.05 + 0.8 + 0.05 differs from 0.05 + 0.05 + 0.8 in the last bit), and rows reach
    an aggregate in no fixed order: re-runs would not reproduce the same figures. Each amount is
    therefore rounded to 4 decimals (half away from zero) and aggregated as DECIMAL(18, 4), which is
    exact, then returned as DOUBLE. `where`: an optional aggregate FILTER condition. -#}

{% macro money_sum(amount, where=none) -%}
    {{ return(adapter.dispatch('money_aggregate', 'o2o_cdp')('sum', amount, where)) }}
{%- endmacro %}

{#- The exact sum divided by the count once, in DOUBLE: an engine's own avg of a DECIMAL rounds on
    its own terms (Spark's to 8 decimals, DuckDB's not), and a lift (a difference of two means) turns
    that last digit into a visible difference. -#}
{% macro money_avg(amount, where=none) -%}
    {{ money_sum(amount, where) }} / count({{ amount }}){% if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}

{#- The engine-specific part: decimal cast, aggregate FILTER clause and the cast back to DOUBLE. -#}
{% macro default__money_aggregate(function, amount, where) -%}
    cast({{ function }}(cast({{ amount }} as decimal(18, 4)))
         {%- if where %} filter (where {{ where }}){% endif %} as double)
{%- endmacro %}

{#- Sample variance of money amounts, reproducible like the sums above: the sums of the amounts and
    of their squares are exact DECIMALs, so the figure does not depend on the order rows arrive in
    (var_samp over DOUBLE does, in its last bits). NULL for fewer than two amounts, as var_samp. -#}
{% macro money_variance(amount) -%}
    {{ return(adapter.dispatch('money_variance', 'o2o_cdp')(amount)) }}
{%- endmacro %}

{% macro default__money_variance(amount) -%}
    {%- set exact = 'cast(' ~ amount ~ ' as decimal(18, 4))' -%}
    case when count({{ amount }}) > 1 then
        (cast(sum({{ exact }} * {{ exact }}) as double)
         - cast(sum({{ exact }}) as double) * cast(sum({{ exact }}) as double) / count({{ amount }}))
        / (count({{ amount }}) - 1)
    end
{%- endmacro %}
