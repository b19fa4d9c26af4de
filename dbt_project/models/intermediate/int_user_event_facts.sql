-- depends_on: {{ ref('stg_events') }}
-- Per unified user: what their behaviour says as of the profile date (later events are ignored).
-- Events are first folded to one row per user and day, so that per-user distinct counts and
-- spans work on days, not on millions of events; lists are sorted after aggregation (ordered
-- aggregates are several times slower in DuckDB).
--
-- A daily build recomputes only the users whose facts can have changed, and keeps the previous
-- build's row for everyone else (reuse_previous_build: DuckDB, not a full build). A user's row
-- depends on the set of their events up to the profile date, and on which of them fall in the
-- 30 days before it. That set changes only if the user gained events (staged since the last
-- build, or on a record identity re-resolved since: an old order follows a merge), lost some
-- (their count is not the one kept), or the profile date moved across some of them. So those
-- users are recomputed, and a row whose user has no events left is dropped.
{%- set reuse = reuse_previous_build() %}
with as_of as (
    select as_of from {{ ref('int_profile_date') }}
),

all_events as (
    select e.*, a.as_of
    from {{ ref('fct_events') }} as e
    cross join as_of as a
    where e.unified_id is not null
      and e.event_date <= a.as_of
      and e.event_type not in {{ quoted_list(var('non_activity_event_types')) }}  -- brand actions, not behaviour
),
{%- if reuse %}

previous as (
    select * from {{ this }}
),

edges as (  -- the profile dates of the previous build and of this one, and the 30-day window's edges
    select least(p.as_of, a.as_of) as low, greatest(p.as_of, a.as_of) as high
    from (select max(facts_as_of) as as_of from previous) as p
    cross join as_of as a
),

changed as (
    select coalesce(n.unified_id, p.unified_id) as unified_id
    from (select unified_id, count(*) as counted_events from all_events group by unified_id) as n
    full join previous as p using (unified_id)
    where n.counted_events is distinct from p.counted_events
    union
    select r.unified_id
    from {{ ref('stg_events') }} as s
    inner join {{ source('identity', 'resolved_records') }} as r
        on r.source = s.source and r.record_id = s.identity_key
    where s._loaded_at > {{ marts_watermark('stg_events') }}
    union
    select unified_id
    from {{ source('identity', 'resolved_records') }}
    where resolved_at > {{ marts_watermark('resolved_records') }}
    union
    select e.unified_id
    from all_events as e
    cross join edges as d
    where (e.event_date > d.low and e.event_date <= d.high)
       or (e.event_date > d.low - interval 30 day and e.event_date <= d.high - interval 30 day)
       or d.low is null
),

events as (
    select e.* from all_events as e semi join changed using (unified_id)
),
{%- else %}

events as (
    select * from all_events
),
{%- endif %}

daily as (
    select
        unified_id,
        event_date,
        any_value(as_of) as as_of,
        count(*) as day_events,
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
        max(last_offline_at) as last_offline_at,
        cast(sum(day_events) as bigint) as counted_events  -- kept: the next build sees who lost events
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
),

computed as (
    select per_user.*, hours.active_hour, categories.browsed_categories, interests.declared_interests,
           sources.event_sources, (select as_of from as_of) as facts_as_of
    from per_user
    left join hours using (unified_id)
    left join categories using (unified_id)
    left join interests using (unified_id)
    left join sources using (unified_id)
)

select * from computed
{%- if reuse %}
union all by name
select p.* replace ((select as_of from as_of) as facts_as_of)
from previous as p
anti join changed using (unified_id)
{%- endif %}
