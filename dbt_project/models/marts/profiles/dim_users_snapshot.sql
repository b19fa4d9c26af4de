{{ config(materialized='incremental', unique_key=['as_of', 'unified_id'], incremental_strategy=replaced_by_partition(),
          partition_by=partitioned_by(['as_of']), full_refresh=false) }}
-- Dated profile snapshots: one row per (as_of, user). Re-running a date replaces that date's rows,
-- so "who moved from loyal to at_risk this month" is a self-join on two dates. Never rebuilt by
-- --full-refresh (full_refresh=false): the dates it holds exist nowhere else.
select
    profile_as_of as as_of,
    unified_id,
    rfm_segment,
    value_class,
    member_tier,
    lifecycle_stage,
    user_layer,
    r_score,
    f_score,
    m_score,
    net_spend,
    orders
from {{ ref('dim_users') }}
where profile_as_of is not null
