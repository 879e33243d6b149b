"""Use cases on a user's memory settings."""
