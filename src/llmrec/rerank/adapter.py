"""The one place the reranker touches trained models and run directories: a thin adapter to values.

Everything else in `llmrec.rerank` takes arrays, so when the run directory or inference code
changes, only this file follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmrec.data.dataset import Split
from llmrec.errors import ConfigError
from llmrec.evaluate import model_scorer
from llmrec.rerank.texts import ItemTexts, item_texts


def model_values(
    model: torch.nn.Module, graph: Any
) -> tuple[Callable[[torch.Tensor], torch.Tensor], np.ndarray]:
    """A trained model's score function (for `conventional_top`) and its user embeddings (similar users).

    A model without embeddings (GF-CF, a graph filter) has no user vectors to compare: refused.
    """
    if not hasattr(model, "embed"):
        raise ConfigError(f"{type(model).__name__} has no user embeddings to find similar users with")
    score = model_scorer(model, graph, screen=False)
    with torch.no_grad():
        user_emb, _ = model.embed(graph)  # type: ignore[operator]
    return score, user_emb.detach().float().numpy()


@dataclass(frozen=True)
class RunValues:
    """What the reranker needs from a trained run directory."""

    split: Split
    score: Callable[[torch.Tensor], torch.Tensor]
    user_emb: np.ndarray
    texts: ItemTexts | None  # None: the run saved no item metadata


def load_run_values(run_dir: Path, seed: int | None = None) -> RunValues:
    """The split, the selected model of `seed` (default: the run's first) and item texts of a run dir."""
    from llmrec.graph import build_graph
    from llmrec.models import GRAPH_MODELS
    from llmrec.rundir import load_item_meta, load_model, load_run_config, load_split

    cfg = load_run_config(run_dir)
    if cfg.model.name == "llmrec":
        raise ConfigError(
            "reranking an LLMRec run (side features) is not supported; use its base model's run"
        )
    split = load_split(run_dir)
    graph = build_graph(split.train) if cfg.model.name in GRAPH_MODELS else None
    model = load_model(run_dir, cfg, split, seed, None if graph is None else graph.user_items)
    score, user_emb = model_values(model, graph)
    meta = load_item_meta(run_dir)
    texts = None if meta is None else item_texts(meta.to_dict("records"), split.train.item_ids.tolist())
    return RunValues(split, score, user_emb, texts)
