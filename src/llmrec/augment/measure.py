"""Teachers for measurement, never LLMs: the popularity teacher and the simulated teacher of quality p.

Both are labelled in every output they feed (`POPULARITY_TEACHER`, `simulated_record`). They answer
the edges question only; attributes and profiles come from the local teacher (the dataset's metadata
and history statistics).

- popularity: liked = the candidate with the most training interactions, disliked = the one with the
  fewest. The bar a real teacher has to clear: it knows nothing of the user.
- simulated(p): with probability p the liked item is one of the user's items in the teacher pool
  (training positives held out of every model by `split.teacher_pool`), otherwise a random candidate;
  disliked is a random other candidate. Sweeping p draws the break-even curve of teacher quality.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from llmrec.augment.candidates import NO_ITEM

POPULARITY_TEACHER = {
    "kind": "popularity",
    "note": (
        "no LLM was used: the liked edge is the candidate with the most training interactions, the "
        "disliked one the candidate with the fewest (a baseline a real teacher has to beat)"
    ),
}


def simulated_record(p: float) -> dict[str, Any]:
    """The label of a simulated teacher of quality `p`, as recorded in every output."""
    return {
        "kind": "simulated",
        "quality": p,
        "note": (
            f"SIMULATION, no LLM: with probability {p} the liked edge is one of the user's held-out "
            "training positives (the teacher pool), otherwise a random candidate; for measuring how good "
            "a teacher must be, never a teacher to deploy"
        ),
    }


def popularity_picks(
    candidates: np.ndarray, train: sp.csr_matrix, users: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per user, the most and the least popular candidate (ties: the earlier one); they always differ.

    `users` must have at least two candidates each.
    """
    counts = np.asarray(train.sum(axis=0)).ravel().astype(np.float64)
    cands = candidates[users]
    real = cands != NO_ITEM
    pop = counts[np.where(real, cands, 0)]
    best = np.argmax(np.where(real, pop, -np.inf), axis=1)
    away = np.where(real, pop, np.inf)
    away[np.arange(len(users)), best] = np.inf
    worst = np.argmin(away, axis=1)
    rows = np.arange(len(users))
    return cands[rows, best], cands[rows, worst]


def simulated_picks(
    candidates: np.ndarray, pool: sp.csr_matrix, users: np.ndarray, p: float, seed: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Liked and disliked item per user from a teacher that is right with probability `p`, and counts.

    Right: a random item of the user's pool row. Wrong, or a user with an empty pool: a random candidate.
    The disliked item is a random candidate other than the liked one. `users` must have two candidates.
    """
    rng = np.random.default_rng([seed, int(round(p * 1_000_000))])
    right = rng.random(len(users)) < p
    pos = np.empty(len(users), dtype=np.int64)
    neg = np.empty(len(users), dtype=np.int64)
    no_pool = 0
    for k, u in enumerate(users):
        row = candidates[u][candidates[u] != NO_ITEM]
        items = pool.indices[pool.indptr[u] : pool.indptr[u + 1]]
        if right[k] and len(items) == 0:
            no_pool += 1
        liked = int(rng.choice(items)) if right[k] and len(items) else int(rng.choice(row))
        others = row[row != liked]
        pos[k], neg[k] = liked, int(rng.choice(others))
    in_pool = np.array(
        [pos[k] in pool.indices[pool.indptr[u] : pool.indptr[u + 1]] for k, u in enumerate(users)], dtype=bool
    )
    report = {
        "quality": p,
        "right_by_draw": int(right.sum()),
        "right_but_no_pool_items": no_pool,
        "liked_in_pool": round(float(in_pool.mean()), 4) if len(users) else 0.0,
    }
    return pos, neg, report
