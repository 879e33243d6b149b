"""Use cases: outbox."""
