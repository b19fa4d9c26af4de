{#- Display values for marts: enough to recognise a contact, never enough to use it. -#}

{% macro mask_mobile(value) -%}
    case when {{ value }} is not null then left({{ value }}, 3) || '****' || right({{ value }}, 4) end
{%- endmacro %}

{% macro mask_email(value) -%}
    case when {{ value }} is not null
         then left({{ value }}, 1) || '***@' || split_part({{ value }}, '@', 2) end
{%- endmacro %}

{% macro mask_name(value) -%}
    case when {{ value }} is not null then left({{ value }}, 1) || '*' end
{%- endmacro %}

{#- Salted SHA-256: joinable across tables and exports, not reversible without the salt. -#}
{% macro pseudonymize(value) -%}
    {%- if execute and not var('hash_salt') -%}
        {{ exceptions.raise_compiler_error("CDP_HASH_SALT is empty: run through the pipeline (cdp run), which sets it from $CDP_DATA_DIR/secrets/hash_salt, or export it") }}
    {%- endif -%}
    case when {{ value }} is not null then sha256('{{ var("hash_salt") }}' || {{ value }}) end
{%- endmacro %}
