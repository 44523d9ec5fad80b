"""The adapter reads a run directory into the values the reranker takes (augment's toy run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from llmrec.rerank import Llama4RecConfig, conventional_top, rerank_users
from llmrec.rerank.adapter import load_run_values

from ..augment.conftest import CANDIDATES, build_run


def test_a_run_directory_becomes_values(tmp_path: Path) -> None:
    values = load_run_values(build_run(tmp_path / "run"))
    assert values.split.train.n_users == 9 and values.user_emb.shape == (9, 12)
    assert values.texts is not None
    assert values.texts.short[0] == "Film 0 (1990)" and values.texts.short[11] == "untitled item i11 (2001)"
    assert values.texts.full[0] == "Film 0 (1990), Comedy; director: Director A"
    top = conventional_top(values.score, values.split.train.user_items, 4)
    assert top.tolist() == [CANDIDATES[u] for u in range(9)]  # the toy run's documented candidates
    cfg = Llama4RecConfig(n_candidates=4, ks=(1,), select_metric="hit@1")
    result = rerank_users(
        values.split.train, top, values.user_emb, cfg, item_vecs=np.eye(12, dtype=np.float32)
    )
    assert result.audit["no_history"] == 1 and result.audit["too_few_candidates"] == 1
