"""Data layer: dataset registry and loaders, implicit conversion and filtering, splits."""

from llmrec.data.dataset import Dataset, Split
from llmrec.data.interactions import Interactions
from llmrec.data.prepare import load_dataset
from llmrec.data.split import split

__all__ = ["Dataset", "Interactions", "Split", "load_dataset", "split"]
