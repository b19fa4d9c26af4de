{#- dbt-spark loads a seed's rows by wrapping each value in single quotes as it is, so a value with
    an apostrophe (xi'an) breaks the insert. These render each value as a literal Spark reads back
    exactly: single quotes, or double quotes around a value that holds a single quote. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    {%- set column = agate_table.column_names[loop.index0] -%}
                    {%- set type = column_override.get(column, adapter.convert_type(agate_table, loop.index0)) -%}
                    cast({{ spark_seed_literal(value) }} as {{ type }}){{ ',' if not loop.last }}
                {%- endfor -%}){{ ',' if not loop.last }}
            {%- endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.first -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{% macro spark_seed_literal(value) -%}
    {%- if value is none -%} null
    {%- elif value is number -%} {{ value }}
    {%- elif "'" not in value | string -%} '{{ value }}'
    {%- elif '"' not in value | string -%} "{{ value }}"
    {%- else -%} {{ exceptions.raise_compiler_error("a seed value holds both quote characters: " ~ value) }}
    {%- endif -%}
{%- endmacro %}
