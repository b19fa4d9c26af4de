-- Identity attributes with normalised values. Values that normalise to nothing (a landline in a
-- mobile column, a malformed email, an all-zero device id) are kept with value = null and
-- is_valid = false, so the share of invalid values stays measurable.
with source as (
    select * from {{ source('raw', 'identity_attributes') }}
    where record_id is not null
),

normalised as (
    select
        source,
        record_id,
        record_type,
        attribute_kind,
        coalesce(namespace, '') as namespace,
        raw_value,
        {{ normalize_identifier('attribute_kind', 'raw_value') }} as value,
        observed_at,
        _loaded_at
    from source
)

select
    source,
    record_id,
    record_type,
    attribute_kind,
    namespace,
    value,
    value is not null as is_valid,
    min(raw_value) as raw_value,
    min(observed_at) as observed_at,
    min(_loaded_at) as loaded_at
from normalised
group by all
