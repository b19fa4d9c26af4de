"""Exports: marts → Parquet for downstream tools, and the analysts' read-only DuckDB file."""
