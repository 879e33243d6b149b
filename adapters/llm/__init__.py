"""An OpenAI-compatible LLM behind the extractor and relation-judge ports."""
