"""memvault: self-hosted long-term memory for AI agents.

The repository keeps the design card's top-level folders (``domain``, ``application``,
``adapters``, ``entrypoints``, ``container.py``, ``alembic``); this package maps them under
the one import name the installed distribution has, ``memvault`` (see
docs/adr/0010-one-import-name.md).
"""
