{{ config(materialized='incremental', incremental_strategy='append') }}
-- One row per behavioural event from every events feed (browse, social, ads, devices, registrations).
with deduplicated as (
    {{ first_delivery(source('raw', 'events'), 'event_id') }}
)

select
    source,
    record_id as event_id,
    identity_key,
    channel,
    lower(event_type) as event_type,
    occurred_at,
    cast(occurred_at as date) as event_date,
    platform,
    store_id,
    product_id,
    category,
    campaign_id,
    ad_channel,
    creative_id,
    content_id,
    kol_id,
    expo_id,
    interests,
    session_id,
    dwell_seconds,
    coalesce(cost, 0) as cost,
    experiment_id,
    experiment_arm,
    latitude,
    longitude,
    coupon_id,
    expires_at,
    _loaded_at
from deduplicated
