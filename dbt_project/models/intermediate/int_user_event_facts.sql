-- Per unified user: what their behaviour says as of the profile date (later events are ignored).
with events as (
    select e.*, a.as_of
    from {{ ref('fct_events') }} as e
    cross join {{ ref('int_profile_date') }} as a
    where e.unified_id is not null
      and e.event_date <= a.as_of
)

select
    unified_id,
    min(event_date) as first_event_date,
    max(event_date) as last_event_date,
    coalesce(sum(dwell_seconds) filter (where event_type = 'page_view'), 0) as browse_seconds,
    count(distinct event_date) as visit_days,
    count(distinct event_date) filter (where event_date > as_of - interval 30 day) as visit_days_30d,
    count(*) filter (where event_type in ('share', 'invite')) as shares_and_invites,
    count(*) filter (where event_type = 'invite') as invites,
    count(*) filter (where event_type in ('follow', 'like', 'comment', 'share', 'invite')) as social_engagements,
    count(*) filter (where event_type = 'expo_registration') as expo_registrations,
    count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
    count(*) filter (where event_type = 'click') as ad_clicks,
    count(*) filter (where channel = 'online') as online_events,
    count(*) filter (where channel = 'offline') as offline_events,
    mode(hour(occurred_at)) as active_hour,
    list(distinct category) filter (where category is not null) as browsed_categories,
    string_agg(distinct interests, ';') filter (where interests is not null) as declared_interests
from events
group by unified_id
