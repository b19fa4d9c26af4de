-- Each located user's nearest store: their home point is the median of the locations their
-- events carried (mini-program sessions) up to the profile date; the distance is great-circle.
-- Only the nearest store and a distance rounded to 0.1 km leave the restricted layer.
with located as (
    select r.unified_id, e.latitude, e.longitude
    from {{ ref('stg_events') }} as e
    inner join {{ source('identity', 'resolved_records') }} as r
        on r.source = e.source and r.record_id = e.identity_key
    cross join {{ ref('int_profile_date') }} as a
    where e.latitude is not null and e.longitude is not null and r.unified_id is not null
      and e.event_date <= a.as_of
),

homes as (
    select unified_id, median(latitude) as lat, median(longitude) as lon, count(*) as located_events
    from located
    group by unified_id
),

distances as (
    select
        h.unified_id, h.located_events, s.store_id,
        2 * 6371.0088 * asin(sqrt(
            pow(sin(radians(cast(s.latitude as double) - h.lat) / 2), 2)
            + cos(radians(h.lat)) * cos(radians(cast(s.latitude as double)))
              * pow(sin(radians(cast(s.longitude as double) - h.lon) / 2), 2)
        )) as km
    from homes as h
    cross join {{ ref('stg_stores') }} as s
    where s.latitude is not null and s.longitude is not null
)

select
    d.unified_id,
    {{ min_by_stable('d.store_id', 'd.km') }} as nearest_store_id,
    round(min(d.km), 1) as nearest_store_km,
    any_value(d.located_events) as located_events,
    any_value(a.as_of) as as_of
from distances as d
cross join {{ ref('int_profile_date') }} as a
group by d.unified_id
