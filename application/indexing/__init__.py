"""How memory text becomes indexable chunks (pure functions, no I/O)."""
