"""Ingest: landing-zone files → ``raw`` schema, with a file ledger and a quarantine for bad rows."""
