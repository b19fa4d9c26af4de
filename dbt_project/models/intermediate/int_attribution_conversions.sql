-- Every sale, as the attribution models credit it (kpi_attribution, fitted in Python): an id, its
-- buyer, when and for how much. An anonymous sale (no identifier captured) has no path, so it is
-- its own buyer and a direct conversion: every model then hands out exactly the sales.
select
    o.source || ':' || o.order_id as conversion_id,
    coalesce(o.unified_id, 'anonymous:' || o.source || ':' || o.order_id) as unified_id,
    o.ordered_at as converted_at,
    o.gross_amount as value
from {{ ref('fct_orders') }} as o
where o.order_type = 'sale' and not o.is_cancelled
