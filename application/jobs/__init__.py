"""Use cases: jobs."""
