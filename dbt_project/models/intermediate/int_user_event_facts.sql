-- Per unified user: what their behaviour says as of the profile date (later events are ignored).
-- Events are first folded to one row per user and day, so that per-user distinct counts and
-- spans work on days, not on millions of events; lists are sorted after aggregation (ordered
-- aggregates are several times slower in DuckDB).
with events as (
    select e.*, a.as_of
    from {{ ref('fct_events') }} as e
    cross join {{ ref('int_profile_date') }} as a
    where e.unified_id is not null
      and e.event_date <= a.as_of
      and e.event_type not in {{ quoted_list(var('non_activity_event_types')) }}  -- brand actions, not behaviour
),

daily as (
    select
        unified_id,
        event_date,
        any_value(as_of) as as_of,
        coalesce(sum(dwell_seconds) filter (where event_type = 'page_view'), 0) as browse_seconds,
        count(*) filter (where event_type in ('share', 'invite')) as shares_and_invites,
        count(*) filter (where event_type = 'invite') as invites,
        count(*) filter (where event_type in ('follow', 'like', 'comment', 'share', 'invite')) as social_engagements,
        count(*) filter (where event_type = 'expo_registration') as expo_registrations,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'click') as ad_clicks,
        count(*) filter (where channel = 'online') as online_events,
        count(*) filter (where channel = 'offline') as offline_events,
        min(occurred_at) filter (where channel = 'online') as first_online_at,
        max(occurred_at) filter (where channel = 'online') as last_online_at,
        min(occurred_at) filter (where channel = 'offline') as first_offline_at,
        max(occurred_at) filter (where channel = 'offline') as last_offline_at
    from events
    group by unified_id, event_date
),

per_user as (
    select
        unified_id,
        min(event_date) as first_event_date,
        max(event_date) as last_event_date,
        count(*) as visit_days,
        count(*) filter (where event_date > as_of - interval 30 day) as visit_days_30d,
        sum(browse_seconds) as browse_seconds,
        sum(shares_and_invites) as shares_and_invites,
        sum(invites) as invites,
        sum(social_engagements) as social_engagements,
        sum(expo_registrations) as expo_registrations,
        sum(add_to_carts) as add_to_carts,
        sum(ad_clicks) as ad_clicks,
        sum(online_events) as online_events,
        sum(offline_events) as offline_events,
        min(first_online_at) as first_online_at,
        max(last_online_at) as last_online_at,
        min(first_offline_at) as first_offline_at,
        max(last_offline_at) as last_offline_at
    from daily
    group by unified_id
),

hours as (
    select unified_id, {{ max_by_stable('hour', 'n') }} as active_hour
    from (select unified_id, hour(occurred_at) as hour, count(*) as n from events group by all)
    group by unified_id
),

categories as (
    select unified_id, {{ sorted_list('category') }} as browsed_categories
    from (select distinct unified_id, category from events where category is not null)
    group by unified_id
),

interests as (
    select unified_id, {{ join_list(sorted_list('interests'), "';'") }} as declared_interests
    from (select distinct unified_id, interests from events where interests is not null)
    group by unified_id
),

sources as (
    select unified_id, {{ sorted_list('source') }} as event_sources
    from (select distinct unified_id, source from events)
    group by unified_id
)

select *
from per_user
left join hours using (unified_id)
left join categories using (unified_id)
left join interests using (unified_id)
left join sources using (unified_id)
