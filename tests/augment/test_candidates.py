"""Candidates: top-N by score with training items masked, checked against lists worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from llmrec.augment.candidates import NO_ITEM, count_candidates, top_candidates

SCORES = torch.tensor(
    [
        [0.9, 0.8, 0.7, 0.6, 0.5],  # user 0
        [0.1, 0.5, 0.3, 0.9, 0.2],  # user 1
        [0.5, 0.4, 0.3, 0.2, 0.1],  # user 2
    ]
)


def _exclude(rows: list[list[int]]) -> sp.csr_matrix:
    users = [u for u, items in enumerate(rows) for _ in items]
    items = [i for r in rows for i in r]
    return sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(3, 5))


def test_top_candidates_skip_training_items() -> None:
    exclude = _exclude([[0, 2], [3], [0, 1, 2, 3]])
    got = top_candidates(lambda users: SCORES[users], exclude, 3)
    # user 0: 0 and 2 masked -> 1, 3, 4; user 1: 3 masked -> 1, 2, 4; user 2: only item 4 is left
    assert got.tolist() == [[1, 3, 4], [1, 2, 4], [4, NO_ITEM, NO_ITEM]]
    assert count_candidates(got).tolist() == [3, 3, 1]


def test_batches_give_the_same_answer() -> None:
    exclude = _exclude([[0], [], [4]])
    whole = top_candidates(lambda users: SCORES[users], exclude, 2, batch_size=10)
    single = top_candidates(lambda users: SCORES[users], exclude, 2, batch_size=1)
    assert whole.tolist() == single.tolist() == [[1, 2], [3, 1], [0, 1]]


def test_more_candidates_than_items() -> None:
    got = top_candidates(lambda users: SCORES[users], _exclude([[], [], []]), 7)
    assert got.shape == (3, 7) and got[0].tolist() == [0, 1, 2, 3, 4, NO_ITEM, NO_ITEM]


def test_candidates_of_a_model_without_embeddings(tmp_path: Path) -> None:
    """A GF-CF base run (scores, no embeddings): its candidates are the filter's own top items, by hand."""
    from llmrec.augment.stage import candidates_of
    from llmrec.cli import main
    from llmrec.inference import base_run
    from llmrec.models import GFCF
    from llmrec.rundir import load_split
    from tests.conftest import write_block_csv

    csv = write_block_csv(tmp_path)
    out = tmp_path / "gf"
    args = ["train", "--dataset", "custom", "--model", "gf-cf", "--out", str(out), "--no-progress",
            "--set", f'data.path="{csv}"', "--set", 'data.rating_col="rating"',
            "--set", "model.gf-cf.k=4"]  # fmt: skip
    assert main(args) == 0
    split = load_split(out)
    got = candidates_of(base_run(out), 5)
    model = GFCF(split.train.n_users, split.train.n_items, k=4).fit(split.train.user_items)
    for user in range(split.train.n_users):
        scores = model.score(torch.tensor([user]))[0].numpy()
        seen = split.train.user_items[user].indices
        unseen = np.delete(scores, seen)
        assert not set(seen) & set(got[user]) and (got[user] != NO_ITEM).all()
        # ties make the items ambiguous, not their scores: the n best unseen scores, best first
        assert scores[got[user]] == pytest.approx(np.sort(unseen)[::-1][:5], abs=1e-6), user


def test_candidates_come_from_the_graph_the_base_model_trained_on(tmp_path: Path) -> None:
    """A base model trained on extra (e.g. augmented) edges is scored on that graph, not on a graph
    of the training edges alone (before issue 21 the candidates were scored on a rebuilt train graph)."""
    from llmrec import config as cfgmod
    from llmrec.augment.stage import candidates_of
    from llmrec.config import RunConfig
    from llmrec.evaluate import model_scorer
    from llmrec.experiment import prepare, train_seeds
    from llmrec.graph import build_graph
    from llmrec.inference import base_run
    from tests.conftest import write_block_csv

    csv = write_block_csv(tmp_path)
    keys = {"data.dataset": "custom", "data.path": str(csv), "data.rating_col": "rating", "model.dim": 8,
            "split.ratios": [0.6, 0.2, 0.2], "train.epochs": 5, "train.batch_size": 64}  # fmt: skip
    cfg = cfgmod.replace(RunConfig(), **keys)
    prepared = prepare(cfg, [tmp_path])
    split = prepared.split
    # every user of block 0 also "likes" items 24..29 of block 2: edges only the augmented graph holds
    users = np.repeat(np.arange(12), 6)
    extra = sp.csr_matrix(
        (np.ones(72), (users, np.tile(np.arange(24, 30), 12))), shape=split.train.user_items.shape
    )
    train_seeds(cfg, prepared, tmp_path / "run", extra_edges=extra, show_progress=False)
    base = base_run(tmp_path / "run")
    assert (
        base.graph is not None and base.graph.user_items.nnz == build_graph(split.train, extra).user_items.nnz
    )
    got = candidates_of(base, 5)
    want = top_candidates(
        model_scorer(base.model, build_graph(split.train, extra)), split.train.user_items, 5
    )
    plain = top_candidates(model_scorer(base.model, build_graph(split.train)), split.train.user_items, 5)
    assert got.tolist() == want.tolist() and got.tolist() != plain.tolist()
