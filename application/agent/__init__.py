"""Use cases: agent."""
