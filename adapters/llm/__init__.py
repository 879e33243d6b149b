"""An OpenAI-compatible LLM behind the extractor and relation-judge ports (reference §6.3, §6.6)."""
