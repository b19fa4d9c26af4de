{{ config(meta={"dagster": {"ref": {"name": "kpi_funnel_transitions"}}}) }}
-- Every state's outgoing probabilities sum to 1, and the absorbing states have no way out.
select channel, from_state, sum(probability) as total
from {{ ref('kpi_funnel_transitions') }}
group by all
having abs(sum(probability) - 1) > 1e-9 or from_state in ('null', '{{ var("kpi_funnel")["steps"][-1]["step"] }}')
