{{ config(materialized='incremental', incremental_strategy='append') }}
-- Consent decisions of every `kind: consents` feed, one row per (source, consent_id): the purpose,
-- the decision read as granted / withdrawn (null when unreadable), when and where it was captured.
-- `identity_key` ties the row to the person through its identifiers, like an event's.
with deduplicated as (
    {{ first_delivery(source('raw', 'consents'), 'consent_id') }}
)

select
    source,
    record_id as consent_id,
    identity_key,
    lower(trim(purpose)) as purpose,
    {{ consent_decision('decision') }} as decision,
    occurred_at as decided_at,
    lower(trim(captured_via)) as captured_via,
    store_id,
    _loaded_at
from deduplicated
