{#- Generic data tests written here because dbt hub packages cannot be installed offline. -#}

{#- No two rows share ``columns``. ``written`` (optional) says how to find the rows this build wrote
    in a model that keeps its other rows from earlier builds (rows_written): only the keys of those
    rows are counted then, over all rows, since a key no build touched since it was last tested is
    still unique. Its cost stays that of the day's rows, not of all the history the model holds
    (grouping 10 M events took 2 s a run at 200 k people, and a year of profile snapshots is 208 M
    rows). The written rows are matched by a semi-join, their side the small one: an inner join on
    their distinct keys took as long as grouping every row. A --full-refresh build, which rewrites
    every row, tests every key, and so does an engine that keeps no record of what its builds wrote
    (tests_only_what_was_written). -#}
{% test unique_combination(model, columns, written=none) %}
{#- Parsing renders the narrowed form whatever the build, so the test depends on what rows_written
    reads: a parse inside a --full-refresh build would otherwise leave those refs out. -#}
{%- set narrowed = written is not none
    and (not execute or (not flags.FULL_REFRESH and tests_only_what_was_written())) %}
select {% for c in columns %}held.{{ c }}{{ ', ' if not loop.last }}{% endfor %}, count(*) as n
from {{ model }} as held
{%- if narrowed %}
where exists (
    select 1 from ({{ rows_written(model, written) }}) as touched
    where {% for c in columns %}touched.{{ c }} = held.{{ c }}{{ ' and ' if not loop.last }}{% endfor %}
)
{%- endif %}
group by {% for c in columns %}held.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
having count(*) > 1
{% endtest %}


{#- The rows of ``model`` the current build wrote (a superset is fine: more is tested), by how the
    model keeps its rows:
    - ``loaded_since_marts_build``: an appended staging model, whose rows carry their load time; the
      rows loaded since the marts step's last build include every row staged since;
    - ``facts_of: <staging model>``: a fact replaced by key (facts_to_build), whose rows are those
      staged since the last build and those re-resolved since (the staging model read by
      relation_of, not ref);
    - ``profile_dates``: dated profile snapshots, written for the profile date of ``dim_users``. -#}
{% macro rows_written(model, written) -%}
    {%- if written == 'loaded_since_marts_build' -%}
        select * from {{ model }} where _loaded_at > {{ marts_watermark(model.identifier) }}
    {%- elif written is mapping and 'facts_of' in written -%}
        {{ facts_to_build(relation_of(written['facts_of']), incremental=true) }}
    {%- elif written == 'profile_dates' -%}
        select * from {{ model }} where as_of in (select profile_as_of from {{ ref('dim_users') }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("unique_combination: unknown written: " ~ written) }}
    {%- endif -%}
{%- endmacro %}

{#- Every normalised mobile is 11 digits starting 1[3-9]. -#}
{% test valid_mobile(model, column_name, kind_column) %}
select *
from {{ model }}
where {{ kind_column }} = 'mobile'
  and {{ column_name }} is not null
  and not {{ regex_full_match(column_name, "'1[3-9][0-9]{9}'") }}
{% endtest %}


{#- The relation a model of this project builds, named without a ref: a test that reads a model of
    another step would depend on it, and dbt's selection of one step drops every test that depends
    on a model it leaves out (the marts step leaves staging out). -#}
{% macro relation_of(model_name) -%}
    {%- if not execute -%}
        {{ return(api.Relation.create(identifier=model_name)) }}
    {%- endif -%}
    {%- set node = graph.nodes['model.' ~ project_name ~ '.' ~ model_name] -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}


{#- Whether the engine's tests may count only the keys a build wrote. Not on Spark: the marts step's
    watermarks are kept in the DuckDB control file, out of Spark's sight, and its facts are rebuilt
    whole every run. -#}
{% macro tests_only_what_was_written() -%}
    {{ return(adapter.dispatch('tests_only_what_was_written', 'o2o_cdp')()) }}
{%- endmacro %}

{% macro default__tests_only_what_was_written() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro spark__tests_only_what_was_written() -%}
    {{ return(false) }}
{%- endmacro %}
