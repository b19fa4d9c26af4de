{#- Profile rules compiled from the `profiles` var in dbt_project.yml (config, not code). -#}

{#- 1-5 quintile score of `column` (higher = better; pass descending=true when lower is better):
    1 + floor(5 * (rank - 1) / n). Tie rule: tied values share the score of the lowest-ranked of
    them ("ties go down"), so a value most buyers share - a single order - scores 1, and with
    distinct values each score holds one fifth. -#}
{% macro quintile_score(column, descending=false) -%}
    {%- set w = "order by " ~ column ~ (" desc" if descending else " asc") -%}
    (1 + floor(5 * (rank() over ({{ w }}) - 1) / count(*) over ()))::integer
{%- endmacro %}

{% macro rfm_segment(r, fm) -%}
    case
    {%- for s in var('profiles')['rfm']['segments'] %}
        when {{ r }} in ({{ s['r'] | join(', ') }}) and {{ fm }} in ({{ s['fm'] | join(', ') }}) then '{{ s["segment"] }}'
    {%- endfor %}
    end
{%- endmacro %}

{% macro value_class(segment) -%}
    case
    {%- for class, segments in var('profiles')['rfm']['value_classes'].items() %}
        when {{ segment }} in {{ quoted_list(segments) }} then '{{ class }}'
    {%- endfor %}
    end
{%- endmacro %}

{% macro member_tier(score) -%}
    case
    {%- for t in var('profiles')['member_tiers'] %}
        when {{ score }} >= {{ t['min_score'] }} then '{{ t["tier"] }}'
    {%- endfor %}
    end
{%- endmacro %}
