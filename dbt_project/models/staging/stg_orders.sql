{{ config(materialized='incremental', incremental_strategy='append') }}
-- One row per order or till ticket from every orders feed, with amounts made comparable:
-- a refund ticket (status refunded, no refund_amount of its own) carries its amount as a refund.
with deduplicated as (
    {{ first_delivery(source('raw', 'orders'), 'order_id') }}
),

final as (
    select
        source,
        record_id as order_id,
        identity_key,
        channel,
        platform,
        store_id,
        occurred_at as ordered_at,
        cast(occurred_at as date) as order_date,
        product_id,
        category,
        coalesce(quantity, 1) as quantity,
        coalesce(status, 'completed') as status,
        campaign_id,
        payment_method,
        coalesce(coupon_amount, 0) as coupon_amount,
        case when status = 'refunded' and refund_amount is null then 'refund' else 'sale' end as order_type,
        case when status = 'refunded' and refund_amount is null then 0 else amount end as gross_amount,
        case when status = 'refunded' and refund_amount is null then abs(amount)
             else coalesce(refund_amount, 0) end as refund_amount,
        coalesce(status, '') = 'cancelled' as is_cancelled,
        _loaded_at
    from deduplicated
)

select *, gross_amount - refund_amount as net_amount from final
