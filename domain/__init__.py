"""memvault's domain: entities, value objects and rules. Pure Python, no I/O."""
