"""Use cases of the read path: search and agent context."""
