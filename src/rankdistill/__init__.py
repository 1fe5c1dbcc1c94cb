"""rankdistill: distil an LLM's passage-ranking ability into small, fast re-rankers."""

__version__ = "0.1.0"
