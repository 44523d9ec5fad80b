"""The popularity and simulated teachers on hand-built candidates whose answers are known."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from llmrec.augment.candidates import NO_ITEM
from llmrec.augment.measure import popularity_picks, simulated_picks, simulated_record


def _rows(rows: list[list[int]], n_items: int = 8) -> sp.csr_matrix:
    users = [u for u, items in enumerate(rows) for _ in items]
    items = [i for r in rows for i in r]
    return sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(len(rows), n_items))


def test_popularity_picks_most_and_least_popular_candidate() -> None:
    # item popularity: 0:3, 1:2, 2:1, 3:0, 4:3
    train = _rows([[0, 1, 4], [0, 1, 2], [0, 4, 5], [4]])
    candidates = np.array([[2, 3, 1, NO_ITEM], [4, 0, 2, 3], [3, 3, 5, 6]])
    pos, neg = popularity_picks(candidates, train, np.array([0, 1, 2]))
    assert pos.tolist() == [1, 4, 5]  # 2 > 1 > 0; 4 and 0 tie at 3: the earlier; 5 has 1
    assert neg.tolist() == [3, 3, 3]  # the least popular; the tie 3, 3 keeps the first one


def test_simulated_teacher_quality_extremes_and_label() -> None:
    pool = _rows([[6], [7], []])
    candidates = np.array([[0, 1, 2], [0, 1, 2], [0, 1, 2]])
    users = np.array([0, 1, 2])
    pos, neg, report = simulated_picks(candidates, pool, users, 1.0, seed=5)
    assert pos[:2].tolist() == [6, 7] and pos[2] in (0, 1, 2)  # user 2 has an empty pool
    assert report["right_but_no_pool_items"] == 1 and report["liked_in_pool"] == round(2 / 3, 4)
    assert all(n in (0, 1, 2) and n != p for p, n in zip(pos, neg, strict=True))
    pos, _, report = simulated_picks(candidates, pool, users, 0.0, seed=5)
    assert set(pos.tolist()) <= {0, 1, 2} and report["liked_in_pool"] == 0.0
    assert "SIMULATION" in simulated_record(0.4)["note"] and simulated_record(0.4)["kind"] == "simulated"


def test_simulated_hit_share_follows_p() -> None:
    n = 4000
    pool = _rows([[9]] * n, n_items=10)
    candidates = np.tile(np.arange(9), (n, 1))
    _, _, report = simulated_picks(candidates, pool, np.arange(n), 0.3, seed=1)
    assert abs(report["liked_in_pool"] - 0.3) < 0.03  # binomial sd 0.007


def test_stage_labels_the_popularity_teacher_and_needs_a_pool_for_the_simulated(toy_run, tmp_path) -> None:
    import pytest

    from llmrec.augment.artefacts import read_edges
    from llmrec.augment.config import AugmentConfig
    from llmrec.errors import ConfigError
    from llmrec.inference import augment_run
    from llmrec.llm import LLMConfig
    from llmrec.llm.testing import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        llm = LLMConfig(
            base_url=server.url, model="m", embedding_model="e", cache_path=str(tmp_path / "c.sqlite")
        )
        common = {"n_candidates": 4, "encoder": "llm", "vector_cache": str(tmp_path / "v.sqlite")}
        audit = augment_run(
            toy_run, AugmentConfig(teacher="popularity", **common), llm, env={}, show_progress=False
        )
        assert audit["teacher"]["kind"] == "popularity" and "no LLM" in audit["teacher"]["note"]
        assert audit["edges"]["usable"] == 7  # u6 (no history) and u8 (one candidate) are not asked
        triples = read_edges(toy_run / "augment")
        assert len(triples) == 7
        with pytest.raises(ConfigError, match="split.teacher_pool"):
            augment_run(
                toy_run, AugmentConfig(teacher="simulated", simulated_quality=0.5, **common), llm,
                env={}, show_progress=False,
            )  # fmt: skip
