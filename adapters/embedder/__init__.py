"""Embedder adapters: local CPU models, an OpenAI-compatible endpoint, a test hasher, a cache."""
