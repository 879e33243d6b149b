"""Maintenance use cases: dedup cleanup and reindex."""
