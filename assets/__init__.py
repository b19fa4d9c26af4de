"""Asset modules, one sub-package per stage of the data flow: ingest → identity → exports
(profiles and KPIs are dbt models under ``dbt_project/models/marts``)."""
