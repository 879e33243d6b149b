"""Use cases on memory items: one per module."""
