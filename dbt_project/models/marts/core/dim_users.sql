-- One row per unified user: masked and hashed contacts, demographics, activity span per channel,
-- order totals and the profile (RFM, segment, tier, lifecycle, layer, tags) as of the profile
-- date. No clear-text personal data leaves int_user_contacts.
with users as (
    select
        unified_id,
        count(*) filter (where record_type = 'record') as identity_records,
        count(*) filter (where record_type = 'actor') as event_actors
    from {{ source('identity', 'resolved_records') }}
    group by unified_id
),

activity as (
    select unified_id, source, channel, ordered_at as occurred_at from {{ ref('fct_orders') }}
    union all
    select unified_id, source, channel, occurred_at from {{ ref('fct_events') }}
),

activity_span as (
    select
        unified_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        min(occurred_at) filter (where channel = 'online') as first_seen_online_at,
        max(occurred_at) filter (where channel = 'online') as last_seen_online_at,
        min(occurred_at) filter (where channel = 'offline') as first_seen_offline_at,
        max(occurred_at) filter (where channel = 'offline') as last_seen_offline_at,
        list(distinct source order by source) as sources
    from activity
    where unified_id is not null
    group by unified_id
),

orders as (
    select
        unified_id,
        count(*) filter (where order_type = 'sale' and not is_cancelled) as orders,
        sum(gross_amount) filter (where not is_cancelled) as gmv,
        sum(net_amount) filter (where not is_cancelled) as net_spend,
        min(ordered_at) filter (where order_type = 'sale') as first_order_at,
        max(ordered_at) filter (where order_type = 'sale') as last_order_at
    from {{ ref('fct_orders') }}
    where unified_id is not null
    group by unified_id
),

tags as (
    select unified_id, list(tag || '=' || value order by tag_group, tag) as tags
    from {{ ref('user_tags') }}
    group by unified_id
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
        when a.first_seen_online_at is not null and a.first_seen_offline_at is not null then 'omnichannel'
        when a.first_seen_online_at is not null then 'online_only'
        when a.first_seen_offline_at is not null then 'offline_only'
        else 'unknown'
    end as channel_preference,
    a.sources,
    a.first_seen_at,
    a.last_seen_at,
    a.first_seen_online_at,
    a.last_seen_online_at,
    a.first_seen_offline_at,
    a.last_seen_offline_at,
    coalesce(o.orders, 0) as orders,
    coalesce(o.gmv, 0) as gmv,
    coalesce(o.net_spend, 0) as net_spend,
    o.first_order_at,
    o.last_order_at,
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
left join activity_span as a using (unified_id)
left join orders as o using (unified_id)
left join {{ ref('int_user_facts') }} as f using (unified_id)
left join {{ ref('user_rfm') }} as rfm using (unified_id)
left join {{ ref('user_lifecycle') }} as l using (unified_id)
left join tags as t using (unified_id)
