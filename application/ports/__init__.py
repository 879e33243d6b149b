"""Ports: the small typed Protocols that adapters implement."""
