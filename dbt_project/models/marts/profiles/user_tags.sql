-- Tags in long form, compiled from the tag definitions declared in dbt_project.yml (vars.user_tags).
-- Each definition is a SQL expression over int_user_facts; a null value means "no tag".
{% set definitions = var('user_tags', []) %}
with facts as (
    select * from {{ ref('int_user_facts') }}
)

{% for tag in definitions %}
select
    unified_id,
    '{{ tag["group"] }}' as tag_group,
    '{{ tag["tag"] }}' as tag,
    cast(({{ tag["rule"] }}) as string) as value,
    as_of
from facts
where ({{ tag["rule"] }}) is not null
union all
{% endfor %}
select null, null, null, null, null where false
