"""The code location's vocabulary: the pipeline stages (Dagster asset groups) in data-flow order.
Paths live in ``assets.common.paths``."""

from __future__ import annotations

STAGES = ("ingest", "identity", "profiles", "kpis", "exports")
"""The Dagster asset groups, in data-flow order: every asset belongs to one stage."""

# dbt folders not named after a stage: staging cleans the feeds (ingest); the core facts carry the
# resolved customer (identity); intermediate models feed the profiles (dim_users among them).
STAGE_OF_FOLDER = {"staging": "ingest", "core": "identity", "intermediate": "profiles"}
