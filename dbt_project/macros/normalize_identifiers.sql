{#- Normalisation of raw identity values into comparable keys. Invalid values become NULL so they
    can never act as a merge key. -#}

{% macro ascii_digits(value) -%}
    translate({{ value }}, '０１２３４５６７８９＋－　', '0123456789+- ')
{%- endmacro %}

{#- China mobile: 11 digits starting 1[3-9], after dropping separators, +86 / 0086 / 86 prefixes
    and full-width digits. Landlines and malformed numbers are rejected. -#}
{% macro normalize_mobile(value) -%}
    nullif(regexp_extract({{ regex_replace_all(ascii_digits(value), "'[^0-9]'", "''") }},
                          '^(?:0086|86)?(1[3-9][0-9]{9})$', 1), '')
{%- endmacro %}

{% macro normalize_email(value) -%}
    case when {{ regex_full_match('lower(trim(' ~ value ~ '))', "'[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}'") }}
         then lower(trim({{ value }})) end
{%- endmacro %}

{#- Device ids: IDFA/OAID/MAC in any case or separator style; all-zero ids carry no identity. -#}
{% macro normalize_device_id(value) -%}
    {%- set alphanumeric = regex_replace_all(value, "'[^0-9A-Za-z]'", "''") %}
    case when not {{ regex_full_match(alphanumeric, "'0*'") }} then upper({{ alphanumeric }}) end
{%- endmacro %}

{% macro normalize_identifier(kind, value) -%}
    case {{ kind }}
        when 'mobile' then {{ normalize_mobile(value) }}
        when 'email' then {{ normalize_email(value) }}
        when 'device_id' then {{ normalize_device_id(value) }}
        when 'member_id' then nullif(upper({{ regex_replace_all(value, "'[^0-9A-Za-z]'", "''") }}), '')
        when 'national_id' then nullif(upper({{ regex_replace_all(value, "'[^0-9Xx]'", "''") }}), '')
        when 'wechat_id' then nullif(lower(trim({{ value }})), '')
        when 'platform_account' then nullif(lower(trim({{ value }})), '')
        when 'unionid' then nullif(trim({{ value }}), '')
        when 'openid' then nullif(trim({{ value }}), '')
        when 'person_name' then nullif(lower({{ regex_replace_all('trim(' ~ ascii_digits(value) ~ ')', "'\s+'", "' '") }}), '')
        else nullif(lower(trim({{ value }})), '')
    end
{%- endmacro %}
