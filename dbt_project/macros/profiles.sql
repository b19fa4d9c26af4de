{#- Profile rules compiled from the `profiles` var in dbt_project.yml (config, not code). -#}

{#- 1-5 quintile score of `column` (higher = better; pass descending=true when lower is better):
    1 + floor(5 * p) where p is the value's mid-rank percentile - the midpoint of the positions
    its ties occupy, (rank - 1 + cume_dist * n) / 2n. Tie rule: tied values share one score, that
    of the middle of their group; with distinct values each score holds one fifth. -#}
{% macro quintile_score(column, descending=false) -%}
    {%- set w = "order by " ~ column ~ (" desc" if descending else " asc") -%}
    least(5, 1 + floor(5 * (rank() over ({{ w }}) - 1 + cume_dist() over ({{ w }}) * count(*) over ())
                        / (2.0 * count(*) over ())))::integer
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
        when {{ segment }} in ('{{ segments | join("', '") }}') then '{{ class }}'
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
