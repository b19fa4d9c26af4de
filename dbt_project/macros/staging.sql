{#- One row per (source, record_id) of a canonical raw view: the first delivery wins (a record id
    delivered again in a later file is a duplicate, not an update).

    Built incrementally, a model reads only the rows delivered since its last build (``_loaded_at``
    after the newest it holds) and skips record ids it already holds. That gives the rows a full
    build would, because raw only grows between builds and a later delivery never beats an earlier
    one: whatever removes raw rows (retention) or changes what a row becomes (a changed model, macro
    or deployment config) makes the pipeline rebuild the models in full (pipelines/dbt_builds.py).
    ``key`` is the model's name for the record id. -#}
{% macro first_delivery(relation, key) -%}
    select delivered.*
    from {{ relation }} as delivered
    {%- if is_incremental() %}
    where delivered._loaded_at > {{ newest_held('_loaded_at') }}
      and not exists (
          select 1 from {{ this }} as kept
          where kept.source = delivered.source and kept.{{ key }} = delivered.record_id
      )
    {%- endif %}
    qualify row_number() over (partition by delivered.source, delivered.record_id order by delivered._loaded_at, delivered._file_id) = 1
{%- endmacro %}
