"""Use cases: ingest."""
