-- Restricted. Each unified user's most frequent valid contact and demographic values (ties go to
-- the most recently seen value), ignoring placeholders and shared values that identity refused as
-- merge keys. Marts only ever expose masked or hashed forms of these.
with resolved as (
    select * from {{ source('identity', 'resolved_records') }} where unified_id is not null
),

attributes as (
    select
        r.unified_id,
        a.attribute_kind,
        a.value,
        min(a.raw_value) as raw_value,
        count(*) as n,
        max(a.observed_at) as last_seen_at
    from {{ ref('stg_identity_attributes') }} as a
    inner join resolved as r
        on r.source = a.source and r.record_id = a.record_id
    left join {{ source('identity', 'guarded_values') }} as g
        on g.attribute_kind = a.attribute_kind and g.value = a.value
    where a.is_valid
      and g.value is null
      and a.attribute_kind in ('mobile', 'email', 'person_name', 'city', 'gender', 'birth_date')
    group by all
),

ranked as (
    select *,
        row_number() over (partition by unified_id, attribute_kind order by n desc, last_seen_at desc, value) as rank
    from attributes
)

select
    unified_id,
    max(value) filter (where attribute_kind = 'mobile') as mobile,
    max(value) filter (where attribute_kind = 'email') as email,
    max(raw_value) filter (where attribute_kind = 'person_name') as person_name,
    max(value) filter (where attribute_kind = 'city') as city,
    max(value) filter (where attribute_kind = 'gender') as gender,
    max(value) filter (where attribute_kind = 'birth_date') as birth_date
from ranked
where rank = 1
group by unified_id
