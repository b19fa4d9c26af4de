{{ config(materialized=replaced_by_key(), incremental_strategy='delete+insert', unique_key=['source', 'record_id']) }}
-- Identity attributes with normalised values. Values that normalise to nothing (a landline in a
-- mobile column, a malformed email, an all-zero device id) are kept with value = null and
-- is_valid = false, so the share of invalid values stays measurable.
-- Built incrementally, the deliveries since the last build are normalised and folded into the rows
-- held for their records and actors: each row is a minimum (of raw value, observation and load
-- time) over one record's deliveries of one value, so the held row and the new deliveries give what
-- a full build gives, and a delivery folded in twice changes nothing. Deliveries are read before an
-- actor's are aggregated (raw.identity_attribute_deliveries), so the load-time filter reaches the
-- raw tables. Whatever removes raw rows or changes how a row is normalised rebuilds in full
-- (pipelines/dbt_builds.py). A delivery is new when loaded after the newest first-load time held (a
-- lower bound of the last build's, so never too late).
-- depends_on: {{ source('raw', 'identity_attribute_deliveries') }}
with source as (
    {%- if is_incremental() %}
    select *
    from {{ source('raw', 'identity_attribute_deliveries') }}
    where _loaded_at > {{ newest_held('loaded_at') }}
      and record_id is not null
    {%- else %}
    select *
    from {{ source('raw', 'identity_attributes') }}
    where record_id is not null
    {%- endif %}
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
    {%- if is_incremental() %}
    union all
    -- the rows held for the records and actors delivered again, to fold the new deliveries into
    select source, record_id, record_type, attribute_kind, namespace, raw_value, value, observed_at,
           loaded_at as _loaded_at
    from {{ this }}
    where (source, record_id) in (select (source, record_id) from source)
    {%- endif %}
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
