-- One row per unified user: masked and hashed contacts, demographics, activity span per channel,
-- order totals and the profile (RFM, segment, tier, lifecycle, layer, tags), all as of the profile
-- date. No clear-text personal data leaves int_user_contacts.
with users as (
    select
        unified_id,
        count(*) filter (where record_type = 'record') as identity_records,
        count(*) filter (where record_type = 'actor') as event_actors
    from {{ source('identity', 'resolved_records') }}
    where unified_id is not null
    group by unified_id
),

tags as (
    select unified_id, {{ sorted_list("tag || '=' || value") }} as tags
    from {{ ref('user_tags') }}
    group by unified_id
),

spans as (
    select
        unified_id,
        least(o.first_online_at, e.first_online_at) as first_seen_online_at,
        greatest(o.last_online_at, e.last_online_at) as last_seen_online_at,
        least(o.first_offline_at, e.first_offline_at) as first_seen_offline_at,
        greatest(o.last_offline_at, e.last_offline_at) as last_seen_offline_at,
        {{ sorted_union('o.order_sources', 'e.event_sources') }}
            as sources,
        o.orders,
        o.gross_spend,
        o.net_spend,
        o.first_order_at,
        o.last_order_at
    from {{ ref('int_user_order_facts') }} as o
    full outer join {{ ref('int_user_event_facts') }} as e using (unified_id)
)

select
    u.unified_id,
    {{ mask_mobile('c.mobile') }} as mobile_masked,
    {{ pseudonymize('c.mobile') }} as mobile_hash,
    {{ mask_email('c.email') }} as email_masked,
    {{ pseudonymize('c.email') }} as email_hash,
    {{ mask_name('c.person_name') }} as name_masked,
    f.gender,
    f.age,
    f.city,
    f.province,
    f.city_tier,
    u.identity_records,
    u.event_actors,
    u.identity_records > 0 as is_known,
    case
        when s.first_seen_online_at is not null and s.first_seen_offline_at is not null then 'omnichannel'
        when s.first_seen_online_at is not null then 'online_only'
        when s.first_seen_offline_at is not null then 'offline_only'
        else 'unknown'
    end as channel_preference,
    s.sources,
    least(s.first_seen_online_at, s.first_seen_offline_at) as first_seen_at,
    greatest(s.last_seen_online_at, s.last_seen_offline_at) as last_seen_at,
    s.first_seen_online_at,
    s.last_seen_online_at,
    s.first_seen_offline_at,
    s.last_seen_offline_at,
    coalesce(s.orders, 0) as orders,
    coalesce(s.gross_spend, 0) as gmv,
    coalesce(s.net_spend, 0) as net_spend,
    s.first_order_at,
    s.last_order_at,
    f.as_of as profile_as_of,
    rfm.recency_days,
    rfm.r_score,
    rfm.f_score,
    rfm.m_score,
    rfm.segment as rfm_segment,
    rfm.value_class,
    rfm.member_tier,
    l.lifecycle_stage,
    l.user_layer,
    t.tags
from users as u
left join {{ ref('int_user_contacts') }} as c using (unified_id)
left join spans as s using (unified_id)
left join {{ ref('int_user_facts') }} as f using (unified_id)
left join {{ ref('user_rfm') }} as rfm using (unified_id)
left join {{ ref('user_lifecycle') }} as l using (unified_id)
left join tags as t using (unified_id)
