{{ config(materialized=replaced_by_key(), incremental_strategy='delete+insert', unique_key=['source', 'order_id']) }}
-- Every order and till ticket, online and offline, with the unified user who placed it.
-- Incremental: the rows staged or re-resolved since the last build are replaced (macros/facts.sql).
select
    o.source,
    o.order_id,
    r.unified_id,
    o.channel,
    o.platform,
    o.store_id,
    o.ordered_at,
    o.order_date,
    o.product_id,
    o.category,
    o.quantity,
    o.status,
    o.order_type,
    o.is_cancelled,
    o.campaign_id,
    o.payment_method,
    o.coupon_amount,
    o.gross_amount,
    o.refund_amount,
    o.net_amount
from ({{ facts_to_build(ref('stg_orders')) }}) as o
left join {{ source('identity', 'resolved_records') }} as r
    on r.source = o.source and r.record_id = o.identity_key
