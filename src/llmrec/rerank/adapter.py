"""The one place the reranker touches a trained model: its score function and user embeddings.

Everything else in `llmrec.rerank` takes arrays; the Llama4Rec recipe (`methods/llama4rec.py`) hands
the trained base model and its graph over through this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch

from llmrec.errors import ConfigError
from llmrec.evaluate import model_scorer
from llmrec.models.base import Embedder, capabilities_of


def model_values(
    model: torch.nn.Module, graph: Any
) -> tuple[Callable[[torch.Tensor], torch.Tensor], np.ndarray]:
    """A trained model's score function (for `conventional_top`) and its user embeddings (similar users).

    A model without embeddings (GF-CF, a graph filter) has no user vectors to compare: refused.
    """
    if not capabilities_of(model).embeddings:
        raise ConfigError(f"{type(model).__name__} has no user embeddings to find similar users with")
    score = model_scorer(model, graph, screen=False)
    with torch.no_grad():
        user_emb, _ = cast(Embedder, model).embed(graph)
    return score, user_emb.detach().float().numpy()
