"""Unit tests of the domain rules: pure Python, no I/O."""
