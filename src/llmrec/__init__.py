"""llmrec: LLM-augmented recommendation, measured honestly.

`llmrec.run`, `llmrec.train_one` and `llmrec.load` (see `llmrec.api`) are imported on first use, so that
`import llmrec` stays light (no torch until a model is needed).
"""

from typing import Any

__version__ = "0.1.0"
_API = ("run", "train_one", "load", "resolve")


def __getattr__(name: str) -> Any:
    """The Python API's functions, imported on first use."""
    if name in _API:
        from llmrec import api

        return getattr(api, name)
    raise AttributeError(f"module 'llmrec' has no attribute {name!r}")


__all__ = ["__version__", "load", "resolve", "run", "train_one"]
