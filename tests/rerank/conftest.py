"""A toy catalogue for the reranker tests: 8 users, 12 items, every user's candidates known.

User u (0..7) has one training item, 4 + u ("Film 4" ... "Film 11"), and the conventional scores rank
items 0, 1, 2, 3 first for everyone (score 12 - i), so with k' = 4 every user's candidates are
[0, 1, 2, 3] in that order and the candidate ids (unshuffled) are A = 0, B = 1, C = 2, D = 3.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from llmrec.data.interactions import Interactions
from llmrec.rerank import ItemTexts, Llama4RecConfig, conventional_top

N_USERS, N_ITEMS = 8, 12


def toy_train() -> Interactions:
    """User u liked item 4 + u."""
    users = np.arange(N_USERS)
    return Interactions.from_pairs(
        users, users + 4, np.array([f"u{u}" for u in users]), np.array([f"i{i}" for i in range(N_ITEMS)])
    )


def toy_score() -> Callable[[torch.Tensor], torch.Tensor]:
    """Every user scores item i as 12 - i."""
    row = torch.arange(N_ITEMS, 0, -1, dtype=torch.float32)
    return lambda users: row.repeat(len(users), 1)


def toy_texts() -> ItemTexts:
    """'Film i (1990+i)' for histories, with a genre for candidates."""
    short = [f"Film {i} ({1990 + i})" for i in range(N_ITEMS)]
    return ItemTexts(short, [f"{s}, Drama" for s in short])


@pytest.fixture
def cfg() -> Llama4RecConfig:
    """k' = 4, unshuffled ids, short cut-offs that fit the toy catalogue."""
    return Llama4RecConfig(n_candidates=4, shuffle_candidates=False, ks=(1, 2, 4), select_metric="hit@1")


@pytest.fixture
def train() -> Interactions:
    return toy_train()


@pytest.fixture
def base_top(train: Interactions) -> np.ndarray:
    return conventional_top(toy_score(), train.user_items, 6)
