-- One wide row per unified user with every fact the profile rules (tags, layers, lifecycle) use,
-- as of the profile date. Restricted inputs (birth date, city) are reduced to bands here.
with as_of as (
    select as_of from {{ ref('int_profile_date') }}
),

users as (
    select unified_id, min(cast(r.observed_at as date)) as first_record_date
    from {{ source('identity', 'resolved_records') }} as r
    cross join as_of as a
    where cast(r.observed_at as date) <= a.as_of
      and r.unified_id is not null
    group by unified_id
),

stores as (
    select store_id, city from {{ ref('stg_stores') }}
),

cities as (
    select city_key, city, province, city_tier from {{ ref('cities') }}
)

select
    u.unified_id,
    a.as_of,
    case lower(c.gender) when '男' then 'male' when 'male' then 'male' when 'm' then 'male'
                         when '女' then 'female' when 'female' then 'female' when 'f' then 'female' end as gender,
    {{ units_between('year', 'try_cast(c.birth_date as date)', 'a.as_of') }}
        - case when month(a.as_of) * 100 + day(a.as_of)
                    < month(try_cast(c.birth_date as date)) * 100 + day(try_cast(c.birth_date as date)) then 1 else 0 end
        as age,
    coalesce(ci.city, c.city, s.city) as city,
    ci.province,
    ci.city_tier,
    least(u.first_record_date, o.first_order_date, e.first_event_date) as first_seen_date,
    greatest(o.last_order_date, e.last_event_date) as last_active_date,
    coalesce(o.orders, 0) as orders,
    coalesce(o.purchase_days, 0) as purchase_days,
    o.first_order_date,
    o.last_order_date,
    coalesce(o.gross_spend, 0) as gross_spend,
    coalesce(o.net_spend, 0) as net_spend,
    coalesce(o.orders_12m, 0) as orders_12m,
    coalesce(o.orders_30d, 0) as orders_30d,
    coalesce(o.coupon_orders, 0) as coupon_orders,
    o.coupon_orders / nullif(o.orders, 0) as coupon_order_share,
    (o.purchase_days_12m - 1) / nullif(o.purchase_days_12m, 0) as repurchase_rate,
    o.net_spend / greatest(1, {{ units_between('month', 'o.first_order_date', 'a.as_of') }} + 1) as arpu_monthly,
    o.preferred_category,
    coalesce(e.browse_seconds, 0) as browse_seconds,
    coalesce(e.visit_days, 0) as visit_days,
    coalesce(e.visit_days_30d, 0) as visit_days_30d,
    coalesce(e.shares_and_invites, 0) as shares_and_invites,
    coalesce(e.invites, 0) as invites,
    coalesce(e.expo_registrations, 0) as expo_registrations,
    coalesce(e.social_engagements, 0) as social_engagements,
    coalesce(e.add_to_carts, 0) as add_to_carts,
    e.active_hour,
    coalesce(o.online_orders, 0) + coalesce(e.online_events, 0) as online_activity,
    coalesce(o.offline_orders, 0) + coalesce(e.offline_events, 0) as offline_activity,
    {{ sorted_union('o.bought_categories', 'e.browsed_categories') }}
        as engaged_categories,
    coalesce(e.declared_interests, '') as declared_interests
from users as u
cross join as_of as a
left join {{ ref('int_user_order_facts') }} as o using (unified_id)
left join {{ ref('int_user_event_facts') }} as e using (unified_id)
left join {{ ref('int_user_contacts') }} as c using (unified_id)
left join stores as s on s.store_id = o.favourite_store_id
left join cities as ci on ci.city_key = lower(trim(coalesce(c.city, s.city)))
