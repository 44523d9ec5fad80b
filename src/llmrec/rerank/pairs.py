"""Mutual augmentation, the LLM -> conventional model direction: (u, i+, i-) triples from pair choices.

For each user with training history, `cfg.pairs_per_user` pairs are drawn (seeded) from the user's
candidates or, with `cfg.pair_source = "unseen"`, from every item the user has not trained on (the
paper: "we randomly select pairs of items for a user"); which item is shown as A is part of the
draw, so position bias does not favour the conventional order. The LLM says which of the two the
user would prefer; the winner becomes i+ and the loser i-. An answer still invalid after one repair
is dropped and counted: a guessed triple would be noise in the training data. The local judge (text
similarity) gives the same triples offline, labelled as such.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.augment.ask import ask
from llmrec.augment.audit import sample_positions
from llmrec.augment.prompts import chat
from llmrec.data.interactions import Interactions
from llmrec.llm import Backend, StageStats
from llmrec.rerank.candidates import NO_ITEM
from llmrec.rerank.config import Llama4RecConfig
from llmrec.rerank.local import LOCAL_PAIRS, local_preferences
from llmrec.rerank.parsers import parse_choice
from llmrec.rerank.prompts import PAIR_EXPECTED, PAIR_TEMPLATE, pair_prompt, pick
from llmrec.rerank.texts import ItemTexts


@dataclass
class PairResult:
    """Triples by internal index, ready for a BPR loss, with their label and audit."""

    users: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    teacher: dict[str, Any]
    audit: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(users, pos, neg) int64 arrays, the shape `llmrec.train.fit(augmented=...)` takes."""
        return self.users, self.pos, self.neg


def draw_pairs(
    train: Interactions, candidates: np.ndarray, per_user: int, seed: int, source: str = "candidates"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, first, second): up to `per_user` distinct item pairs per eligible user, seeded.

    `source="candidates"` draws among the user's candidates (every pair equally likely);
    `source="unseen"` draws disjoint pairs among every item the user has not trained on. Eligible:
    training history and at least two items to draw from. `first` is shown as A, `second` as B.
    """
    if source not in ("candidates", "unseen"):
        raise ValueError(f"unknown pair source {source!r}; valid: candidates, unseen")
    m = train.user_items
    users, first, second = [], [], []
    combos_of: dict[int, list[tuple[int, int]]] = {}  # pairs of positions, by list length
    for u in np.flatnonzero(np.diff(m.indptr) > 0):
        rng = np.random.default_rng([seed, int(u), 2])
        if source == "candidates":
            pool = candidates[u][candidates[u] != NO_ITEM]
            if len(pool) not in combos_of:
                combos_of[len(pool)] = list(itertools.combinations(range(len(pool)), 2))
            combos = combos_of[len(pool)]
            picks = rng.choice(len(combos), size=min(per_user, len(combos)), replace=False)
            pairs = [(pool[combos[c][0]], pool[combos[c][1]]) for c in picks]
        else:
            pool = np.setdiff1d(np.arange(train.n_items), m.indices[m.indptr[u] : m.indptr[u + 1]])
            drawn = rng.choice(pool, size=min(2 * per_user, len(pool) // 2 * 2), replace=False)
            pairs = list(zip(drawn[0::2], drawn[1::2], strict=True))
        for a, b in pairs:
            a, b = (a, b) if rng.random() < 0.5 else (b, a)
            users.append(u)
            first.append(a)
            second.append(b)
    as_array = lambda xs: np.asarray(xs, dtype=np.int64)  # noqa: E731
    return as_array(users), as_array(first), as_array(second)


def pair_augmentation(
    train: Interactions,
    candidates: np.ndarray,
    cfg: Llama4RecConfig,
    texts: ItemTexts | None = None,
    llm: Backend | None = None,
    item_vecs: np.ndarray | None = None,
    stats: StageStats | None = None,
) -> PairResult:
    """Triples from the LLM's pair choices (`llm`, `texts`), or from the local judge (`item_vecs`)."""
    users, first, second = draw_pairs(train, candidates, cfg.pairs_per_user, cfg.seed, cfg.pair_source)
    counts = {"pairs": len(users), "users": len(np.unique(users))}
    if llm is None:
        if item_vecs is None:
            raise ValueError("the local pair judge needs item text vectors")
        choice = local_preferences(train.user_items, users, first, second, item_vecs)
        pos, neg = np.where(choice == 0, first, second), np.where(choice == 0, second, first)
        return PairResult(users, pos, neg, dict(LOCAL_PAIRS), {**counts, "usable": len(users)})
    if texts is None:
        raise ValueError("the LLM pair judge needs item texts")
    m = train.user_items
    prompts = []
    for u, a, b in zip(users, first, second, strict=True):
        own = m.indices[m.indptr[u] : m.indptr[u + 1]]
        history = [texts.short[i] for i in pick(own, cfg.history_items, cfg.seed, (int(u),))]
        prompts.append(pair_prompt(history, len(own), texts.full[a], texts.full[b], cfg.noun))
    asked = ask(
        llm, [chat(p, PAIR_TEMPLATE) for p in prompts], [0] * len(prompts),
        lambda _: parse_choice, lambda _: PAIR_EXPECTED, stats or StageStats("rerank.pairs"),
    )  # fmt: skip
    keep = np.array([v is not None for v in asked.values], dtype=bool)
    choice = np.array([v if v is not None else 0 for v in asked.values], dtype=np.int64)
    pos, neg = np.where(choice == 0, first, second), np.where(choice == 0, second, first)
    samples = [
        {"user": int(users[k]), "prompt": prompts[k], "answer": asked.answers[k], "parsed": asked.values[k]}
        for k in sample_positions(len(prompts), cfg.audit_samples, cfg.seed)
    ]
    teacher = {"kind": "llm", "backend": llm.kind, "model": llm.model}
    return PairResult(users[keep], pos[keep], neg[keep], teacher, {**counts, **asked.summary()}, samples)
