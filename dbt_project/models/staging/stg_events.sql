-- One row per behavioural event from every events feed (browse, social, ads, devices, registrations).
with source as (
    select * from {{ source('raw', 'events') }}
),

deduplicated as (
    select *
    from source
    qualify row_number() over (partition by source, record_id order by _loaded_at, _file_id) = 1
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
    expires_at
from deduplicated
