{#- A parenthesised list of string literals for `in` / `not in`, built from a list in the config
    (event types, segments): ('a', 'b'). Quotes inside a value are escaped the adapter's way
    (dbt.escape_single_quotes), so a value can never end its literal early. An empty config list
    renders ('') (SQL has no empty `in` list), which matches only the empty string. -#}
{% macro quoted_list(values) -%}
    {%- set literals = [] -%}
    {%- for value in values -%}
        {%- do literals.append("'" ~ dbt.escape_single_quotes(value | string) ~ "'") -%}
    {%- endfor -%}
    ({{ literals | join(', ') if literals else "''" }})
{%- endmacro %}
