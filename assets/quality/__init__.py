"""Data quality: Great Expectations suites (``expectations/``) run as Dagster asset checks."""
