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
    case when {{ value }} is not null then {{ sha256_hex("'" ~ var('hash_salt') ~ "' || " ~ value) }} end
{%- endmacro %}

{#- One identity attribute for display, by its kind: contacts and names masked as above, birth dates
    to the year, context kinds (where, not who) as they are, any other identifier only as present. -#}
{% macro mask_identity_value(kind, value) -%}
    case
        when {{ kind }} = 'mobile' then {{ mask_mobile(value) }}
        when {{ kind }} = 'email' then {{ mask_email(value) }}
        when {{ kind }} like '%name%' then {{ mask_name(value) }}
        when {{ kind }} like '%date%' then left({{ value }}, 4) || '-**-**'
        when {{ kind }} in ('city', 'store', 'gender') then {{ value }}
        else '***'
    end
{%- endmacro %}
