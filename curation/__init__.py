"""curation: score-aware data ordering for LLM training (no orchestrator imports here)."""

__version__ = "0.1.0"
