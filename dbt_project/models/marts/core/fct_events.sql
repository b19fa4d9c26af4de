{{ config(materialized=replaced_by_key(), incremental_strategy='delete+insert', unique_key=['source', 'event_id']) }}
-- Every behavioural event with the unified user behind it (null when the event carried no identifier).
-- Incremental: the rows staged or re-resolved since the last build are replaced (macros/facts.sql).
select
    e.source,
    e.event_id,
    r.unified_id,
    e.channel,
    e.event_type,
    e.occurred_at,
    e.event_date,
    e.platform,
    e.store_id,
    e.product_id,
    e.category,
    e.campaign_id,
    e.ad_channel,
    e.creative_id,
    e.content_id,
    e.kol_id,
    e.expo_id,
    e.interests,
    e.session_id,
    e.dwell_seconds,
    e.cost,
    e.experiment_id,
    e.experiment_arm,
    e.coupon_id,
    e.expires_at
from ({{ facts_to_build(ref('stg_events')) }}) as e
left join {{ source('identity', 'resolved_records') }} as r
    on r.source = e.source and r.record_id = e.identity_key
