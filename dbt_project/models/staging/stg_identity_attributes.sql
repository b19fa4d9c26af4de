{{ config(materialized=replaced_by_key(), incremental_strategy='delete+insert', unique_key=['source', 'record_id']) }}
-- Identity attributes with normalised values. Values that normalise to nothing (a landline in a
-- mobile column, a malformed email, an all-zero device id) are kept with value = null and
-- is_valid = false, so the share of invalid values stays measurable.
-- Built incrementally, only the records and actors delivered again since the last build are
-- normalised and aggregated anew, from all their deliveries (a device seen today brings its older
-- sightings along), and replace their rows: each row is an aggregate over one record's deliveries,
-- so it is what a full build gives. Whatever removes raw rows or changes how a row is normalised
-- rebuilds in full (pipelines/dbt_builds.py). A unit is touched when any row of it was delivered
-- after the newest first-load time held (a lower bound of the last build's, so never too late).
-- depends_on: {{ source('raw', 'identity_deliveries') }}
with source as (
    select delivered.*
    from {{ source('raw', 'identity_attributes') }} as delivered
    {%- if is_incremental() %}
    inner join (
        select distinct source, record_id
        from {{ source('raw', 'identity_deliveries') }}
        where _loaded_at > (select coalesce(max(loaded_at), {{ start_of_time() }}) from {{ this }})
          and record_id is not null
    ) as touched
        on touched.source = delivered.source and touched.record_id = delivered.record_id
    {%- endif %}
    where delivered.record_id is not null
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
