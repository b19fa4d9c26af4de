"""KPIs computed in Python: attribution models (the rest of the KPI marts are dbt models)."""
