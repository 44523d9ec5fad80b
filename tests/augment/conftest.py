"""A hand-built trained run whose candidates are known, for the augmentation tests.

12 items (i0..i11; i11 has no title; i0..i5 have a director) and 9 users. The saved BPR-MF model has
identity item embeddings, so a user's embedding is their score vector: 5 on "their" item u (users
u0..u5), and -0.01 * i on every item i to break ties. With 4 candidates per user:

    u0..u5  train {6..9 pairs}     candidates [u, then the lowest other items]
    u6      no history             (never asked)
    u7      train i0..i8           candidates [9, 10, 11] (a short list)
    u8      train i0..i10          candidates [11]        (too few to ask)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.data.dataset import Dataset, Split
from llmrec.data.interactions import Interactions
from llmrec.rundir import save_split

N_ITEMS, N_USERS = 12, 9
TRAIN = {
    0: [6, 7],
    1: [6, 8],
    2: [7, 8],
    3: [6, 9],
    4: [7, 9],
    5: [8, 9],
    6: [],
    7: list(range(9)),
    8: list(range(11)),
}
VALID = {0: [0], 1: [0], 2: [5], 3: [3], 4: [2], 7: [11]}
CANDIDATES = {
    0: [0, 1, 2, 3], 1: [1, 0, 2, 3], 2: [2, 0, 1, 3], 3: [3, 0, 1, 2], 4: [4, 0, 1, 2], 5: [5, 0, 1, 2],
    6: [0, 1, 2, 3], 7: [9, 10, 11, -1], 8: [11, -1, -1, -1],
}  # fmt: skip


def _interactions(pairs: dict[int, list[int]], user_ids: np.ndarray, item_ids: np.ndarray) -> Interactions:
    users = [u for u, items in pairs.items() for _ in items]
    items = [i for its in pairs.values() for i in its]
    return Interactions.from_pairs(np.array(users), np.array(items), user_ids, item_ids)


def build_run(out: Path) -> Path:
    """Write the toy run directory described in the module docstring; returns `out`."""
    user_ids = np.array([f"u{u}" for u in range(N_USERS)])
    item_ids = np.array([f"i{i}" for i in range(N_ITEMS)])
    item_meta = pd.DataFrame(
        {
            "title": [f"Film {i}" if i < 11 else "" for i in range(N_ITEMS)],
            "year": [1990 + i for i in range(N_ITEMS)],
            "genres": ["Comedy" if i % 2 == 0 else "Drama|Thriller" for i in range(N_ITEMS)],
            "director": [
                ("Director A" if i % 2 == 0 else "Director B") if i < 6 else None for i in range(N_ITEMS)
            ],
        }
    )
    user_meta = pd.DataFrame(
        {
            "age": [20 + u for u in range(N_USERS)],
            "gender": ["M" if u % 2 == 0 else "F" for u in range(N_USERS)],
        }
    )
    dataset = Dataset(
        "toy", np.zeros(0, np.int64), np.zeros(0, np.int64), user_ids, item_ids,
        item_meta=item_meta, user_meta=user_meta,
    )  # fmt: skip
    split = Split(
        _interactions(TRAIN, user_ids, item_ids),
        _interactions(VALID, user_ids, item_ids),
        _interactions({}, user_ids, item_ids),
        method="given",
    )
    save_split(split, dataset, out)
    cfg = cfgmod.replace(RunConfig(), **{"model.name": "bpr-mf", "model.dim": N_ITEMS})
    (out / "config.toml").write_text(cfgmod.dumps_toml(cfg), encoding="utf-8")
    scores = torch.full((N_USERS, N_ITEMS), 0.0) - 0.01 * torch.arange(N_ITEMS, dtype=torch.float32)
    for u in range(6):
        scores[u, u] += 5.0
    state = {"user_emb.weight": scores, "item_emb.weight": torch.eye(N_ITEMS)}
    torch.save(state, out / f"model-seed{cfg.seed}.pt")
    metrics = {"seeds": [cfg.seed], "valid": {"recall@20": 0.0}, "test": {}}  # a finished run's record
    (out / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return out


@pytest.fixture
def toy_run(tmp_path: Path) -> Path:
    """The toy run directory."""
    return build_run(tmp_path / "run")
