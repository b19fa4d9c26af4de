{{ config(materialized=projection_of_facts()) }}
-- The activity kpi_daily counts: every order (refund tickets and cancelled orders too) and every
-- behavioural event (brand actions in vars.non_activity_event_types left out), each on its date,
-- channel, source and campaign ('(none)' without one). Active users, new users and the rows of
-- kpi_daily all come from these rows.
select unified_id, source, channel, {{ campaign_or_none('campaign_id') }} as campaign_id, order_date as date,
       ordered_at as occurred_at
from {{ ref('fct_orders') }}
union all
select unified_id, source, channel, {{ campaign_or_none('campaign_id') }}, event_date, occurred_at
from {{ ref('fct_events') }}
where event_type not in {{ quoted_list(var('non_activity_event_types')) }}
