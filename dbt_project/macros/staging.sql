{#- One row per (source, record_id) of a canonical raw view: the first delivery wins (a record id
    delivered again in a later file is a duplicate, not an update). -#}
{% macro first_delivery(relation) -%}
    select *
    from {{ relation }}
    qualify row_number() over (partition by source, record_id order by _loaded_at, _file_id) = 1
{%- endmacro %}
