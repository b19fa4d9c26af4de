"""What every stage shares: where things live (``paths``), the warehouse resource, SQL quoting,
configuration parsing helpers and materialisation metadata. Stage packages import from here and
from each other in data-flow order; none of them imports the orchestration package ``pipelines``."""
