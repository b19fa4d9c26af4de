-- Media cost per campaign (campaigns without cost left out), for ROAS in kpi_attribution. Summed as
-- DECIMAL: exact whatever the row order, so a re-run and either engine give the same ROAS.
select
    campaign_id,
    cast(sum(cast(cost as decimal(18, 4))) as double) as campaign_cost
from {{ ref('fct_events') }}
where campaign_id is not null
group by campaign_id
having sum(cost) > 0
