"""Entrypoints: HTTP API, workers, relay, CLI."""
