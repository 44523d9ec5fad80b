"""llmrec: LLM-augmented graph recommendation, measured honestly."""

__version__ = "0.1.0"
