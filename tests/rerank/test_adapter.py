"""The adapter turns a trained model into the values the reranker takes (augment's toy run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmrec.errors import ConfigError
from llmrec.inference import base_run
from llmrec.models import GFCF
from llmrec.rerank import Llama4RecConfig, conventional_top, item_texts, rerank_users
from llmrec.rerank.adapter import model_values
from llmrec.rundir import load_item_meta

from ..augment.conftest import CANDIDATES, build_run


def test_a_trained_model_becomes_values(tmp_path: Path) -> None:
    run = tmp_path / "run"
    base = base_run(build_run(run))
    score, user_emb = model_values(base.model, base.graph)
    assert user_emb.shape == (9, 12)
    meta = load_item_meta(run)
    assert meta is not None
    texts = item_texts(meta.to_dict("records"), base.split.train.item_ids.tolist())
    assert texts.short[0] == "Film 0 (1990)" and texts.short[11] == "untitled item i11 (2001)"
    assert texts.full[0] == "Film 0 (1990), Comedy; director: Director A"
    top = conventional_top(score, base.split.train.user_items, 4)
    assert top.tolist() == [CANDIDATES[u] for u in range(9)]  # the toy run's documented candidates
    cfg = Llama4RecConfig(n_candidates=4, ks=(1,), select_metric="hit@1")
    result = rerank_users(base.split.train, top, user_emb, cfg, item_vecs=np.eye(12, dtype=np.float32))
    assert result.audit["no_history"] == 1 and result.audit["too_few_candidates"] == 1


def test_a_model_without_embeddings_is_refused() -> None:
    model = GFCF(3, 4)
    with pytest.raises(ConfigError, match="no user embeddings"):
        model_values(model, None)
