"""Extractor adapters: what a user message says worth remembering (port: ``Extractor``)."""
