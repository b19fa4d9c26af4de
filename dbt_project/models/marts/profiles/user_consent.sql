-- One row per known person and declared consent purpose (config/consent.yaml): the latest decision
-- over all the person's records wins (a withdrawal at the same instant as a grant wins), so a
-- withdrawal at a store applies online too; without any decision the purpose's basis applies
-- (opt_in: not granted). Audiences send only people with granted = true for their purpose.
{% set purposes = var('consent_purposes', []) %}
with decisions as (
    select *
    from {{ ref('consent_history') }}
    where unified_id is not null and decision is not null
),

latest as (
    select *
    from decisions
    qualify row_number() over (
        partition by unified_id, purpose
        order by decided_at desc, decision = 'withdrawn' desc, source, consent_id) = 1
),

people as (
    select distinct unified_id
    from {{ source('identity', 'resolved_records') }}
    where unified_id is not null and record_type = 'record'
    union
    select unified_id from decisions
),

purposes as (
    {%- for p in purposes %}
    select '{{ p.purpose }}' as purpose, '{{ p.basis }}' as basis
    {%- if not loop.last %} union all{% endif %}
    {%- else %}
    select cast(null as string) as purpose, cast(null as string) as basis where false
    {%- endfor %}
)

select
    p.unified_id,
    k.purpose,
    k.basis,
    coalesce(l.decision, 'no_record') as status,
    coalesce(l.decision = 'granted', k.basis = 'opt_out') as granted,
    l.decided_at as since,
    l.source,
    l.captured_via
from people as p
cross join purposes as k
left join latest as l on l.unified_id = p.unified_id and l.purpose = k.purpose
