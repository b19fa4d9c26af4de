{#- How a model whose rows are replaced by key (delete+insert) is materialised on this engine.

    DuckDB deletes the rows of the keys a build brings and inserts them again. Spark's tables here
    are plain Parquet (Delta and Iceberg need JARs from Maven), which have no row-level delete and
    cannot be overwritten while they are read, so on Spark these models are rebuilt whole: the same
    rows, as a full build gives them. -#}
{% macro replaced_by_key() -%}
    {{ return(adapter.dispatch('replaced_by_key', 'o2o_cdp')()) }}
{%- endmacro %}

{% macro default__replaced_by_key() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__replaced_by_key() -%}
    {{ return('table') }}
{%- endmacro %}


{#- How DuckDB deletes the rows a delete+insert build replaces (dbt's own dispatch picks this over
    dbt-duckdb's). dbt-duckdb deletes by a key of several columns with ``delete … using <new rows>
    where k1 = … and k2 = …``: a join pairing each held row with every new row of its key, so when
    the new rows hold a key many times (a record's attributes) it costs rows × rows per key, 4 s at
    200 k people for stg_identity_attributes' daily build. The semi-join here deletes the same rows
    (a key with a null part matches nothing either way) in 0.2 s. -#}
{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set keys = ([unique_key] if unique_key is string else unique_key or []) | join(', ') -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}
    {%- if keys %}
    delete from {{ target }}
    where ({{ keys }}) in (select {{ keys }} from {{ source }})
    {%- for predicate in incremental_predicates or [] %}
      and {{ predicate }}
    {%- endfor %};
    {%- endif %}
    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }} from {{ source }}
{%- endmacro %}


{#- How a model that only filters and unions the facts' rows is materialised (int_kpi_daily_activity):
    a view on DuckDB, which reads the facts in place for less than copying their 11 M rows at 200 k
    people costs (3.3 s a run); a table on Spark, whose tables, not views, the deployment's DuckDB
    file mounts (assets/common/spark_mount.py). -#}
{% macro projection_of_facts() -%}
    {{ return(adapter.dispatch('projection_of_facts', 'o2o_cdp')()) }}
{%- endmacro %}

{% macro default__projection_of_facts() -%}
    {{ return('view') }}
{%- endmacro %}

{% macro spark__projection_of_facts() -%}
    {{ return('table') }}
{%- endmacro %}

{#- Every match of ``pattern`` in ``value`` replaced (DuckDB needs the 'g' flag; Spark replaces every
    match already, and under dbt-spark's non-ANSI mode a fourth argument makes it return NULL). -#}
{% macro regex_replace_all(value, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all', 'o2o_cdp')(value, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(value, pattern, replacement) -%}
    regexp_replace({{ value }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro spark__regex_replace_all(value, pattern, replacement) -%}
    regexp_replace({{ value }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}


{#- Whether the whole of ``value`` matches ``pattern`` (a quoted SQL string). -#}
{% macro regex_full_match(value, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'o2o_cdp')(value, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(value, pattern) -%}
    regexp_full_match({{ value }}, {{ pattern }})
{%- endmacro %}

{% macro spark__regex_full_match(value, pattern) -%}
    ({{ value }} rlike concat('^(?:', {{ pattern }}, ')$'))
{%- endmacro %}


{#- The sorted list of ``expr``'s non-null values in the group (distinct ones with ``distinct``):
    sorted, so a list's order never depends on the order rows arrive in. -#}
{% macro sorted_list(expr, distinct=false) -%}
    {{ return(adapter.dispatch('sorted_list', 'o2o_cdp')(expr, distinct)) }}
{%- endmacro %}

{% macro default__sorted_list(expr, distinct) -%}
    list_sort(list({{ 'distinct ' if distinct }}{{ expr }}) filter (where {{ expr }} is not null))
{%- endmacro %}

{% macro spark__sorted_list(expr, distinct) -%}
    array_sort({{ 'collect_set' if distinct else 'collect_list' }}({{ expr }}))
{%- endmacro %}


{#- The sorted distinct values of two lists, a missing list counting as empty. -#}
{% macro sorted_union(left, right) -%}
    {{ return(adapter.dispatch('sorted_union', 'o2o_cdp')(left, right)) }}
{%- endmacro %}

{% macro default__sorted_union(left, right) -%}
    list_sort(list_distinct(list_concat(coalesce({{ left }}, []), coalesce({{ right }}, []))))
{%- endmacro %}

{% macro spark__sorted_union(left, right) -%}
    array_sort(array_distinct(concat(coalesce({{ left }}, array()), coalesce({{ right }}, array()))))
{%- endmacro %}


{#- A list's elements as one string, joined by ``separator`` (a quoted SQL string). -#}
{% macro join_list(list, separator) -%}
    {{ return(adapter.dispatch('join_list', 'o2o_cdp')(list, separator)) }}
{%- endmacro %}

{% macro default__join_list(list, separator) -%}
    array_to_string({{ list }}, {{ separator }})
{%- endmacro %}

{% macro spark__join_list(list, separator) -%}
    array_join({{ list }}, {{ separator }})
{%- endmacro %}


{#- The group's values of ``expr`` as one string, in the order of ``order_by``. -#}
{% macro ordered_string_agg(expr, separator, order_by) -%}
    {{ return(adapter.dispatch('ordered_string_agg', 'o2o_cdp')(expr, separator, order_by)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(expr, separator, order_by) -%}
    string_agg({{ expr }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_string_agg(expr, separator, order_by) -%}
    listagg({{ expr }}, {{ separator }}) within group (order by {{ order_by }})
{%- endmacro %}


{#- ``unit``s (day, week, month, year) between two dates, counted as DuckDB's date_diff counts them:
    day, month and year boundaries crossed (31 January to 1 February is one month), and whole
    seven-day spans for weeks. Spark's own timestampdiff counts whole elapsed months and years (zero
    months there): a silent difference. -#}
{% macro units_between(unit, start, end) -%}
    {{ return(adapter.dispatch('units_between', 'o2o_cdp')(unit, start, end)) }}
{%- endmacro %}

{% macro default__units_between(unit, start, end) -%}
    date_diff('{{ unit }}', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__units_between(unit, start, end) -%}
    {%- if unit == 'day' -%} datediff({{ end }}, {{ start }})
    {%- elif unit == 'week' -%} cast(datediff({{ end }}, {{ start }}) / 7 as bigint)
    {%- elif unit == 'month' -%} ((year({{ end }}) - year({{ start }})) * 12 + month({{ end }}) - month({{ start }}))
    {%- elif unit == 'year' -%} (year({{ end }}) - year({{ start }}))
    {%- else -%} {{ exceptions.raise_compiler_error("units_between: unit must be day, week, month or year, not " ~ unit) }}
    {%- endif -%}
{%- endmacro %}


{#- ``date`` moved ``count`` (a SQL expression) weeks or months on. -#}
{% macro plus_units(unit, date, count) -%}
    {{ return(adapter.dispatch('plus_units', 'o2o_cdp')(unit, date, count)) }}
{%- endmacro %}

{% macro default__plus_units(unit, date, count) -%}
    {{ date }} + to_{{ unit }}s({{ count }})
{%- endmacro %}

{% macro spark__plus_units(unit, date, count) -%}
    {%- if unit == 'week' -%} date_add({{ date }}, cast(7 * ({{ count }}) as int))
    {%- else -%} add_months({{ date }}, cast({{ count }} as int))
    {%- endif -%}
{%- endmacro %}


{#- ``select * <star_except> (a, b)``: every column but these. -#}
{% macro star_except() -%}
    {{ return(adapter.dispatch('star_except', 'o2o_cdp')()) }}
{%- endmacro %}

{% macro default__star_except() -%} exclude {%- endmacro %}

{% macro spark__star_except() -%} except {%- endmacro %}


{#- SHA-256 of a string, as lowercase hex. -#}
{% macro sha256_hex(value) -%}
    {{ return(adapter.dispatch('sha256_hex', 'o2o_cdp')(value)) }}
{%- endmacro %}

{% macro default__sha256_hex(value) -%} sha256({{ value }}) {%- endmacro %}

{% macro spark__sha256_hex(value) -%} sha2({{ value }}, 256) {%- endmacro %}


{#- How a model whose rows are replaced a partition (a date) at a time is built incrementally:
    DuckDB deletes the partition's rows and inserts them; Spark overwrites the partitions the build
    brings (dynamic insert_overwrite), so its table is partitioned by ``columns``. Use both in the
    model's config: incremental_strategy=replaced_by_partition(), partition_by=partitioned_by([…]). -#}
{% macro replaced_by_partition() -%}
    {{ return(adapter.dispatch('replaced_by_partition', 'o2o_cdp')()) }}
{%- endmacro %}

{% macro default__replaced_by_partition() -%} {{ return('delete+insert') }} {%- endmacro %}

{% macro spark__replaced_by_partition() -%} {{ return('insert_overwrite') }} {%- endmacro %}

{% macro partitioned_by(columns) -%}
    {{ return(adapter.dispatch('partitioned_by', 'o2o_cdp')(columns)) }}
{%- endmacro %}

{% macro default__partitioned_by(columns) -%} {{ return(none) }} {%- endmacro %}

{% macro spark__partitioned_by(columns) -%} {{ return(columns) }} {%- endmacro %}


{#- Whether a per-user model may keep its previous build's rows for the users nothing touched
    (``int_user_event_facts``): on DuckDB, when its table exists and this build is not a full one.
    The marts step builds in full (``--full-refresh``) whenever a model, a macro, the deployment's
    vars, a full identity run or retention changed history (pipelines/dbt_builds.py), so a kept row
    is one a full build would give again. Spark's plain Parquet tables cannot be read while they are
    replaced, so there the model is built whole. -#}
{% macro reuse_previous_build() -%}
    {{ return(adapter.dispatch('reuse_previous_build', 'o2o_cdp')()) }}
{%- endmacro %}

{% macro default__reuse_previous_build() -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(adapter.get_relation(this.database, this.schema, this.identifier) is not none) }}
{%- endmacro %}

{% macro spark__reuse_previous_build() -%}
    {{ return(false) }}
{%- endmacro %}
