"""Llama4Rec's rating prediction: a rater's rating of each (user, item) pair, merged with the model's.

The LLM rater gets a versioned prompt per pair: some of the user's training ratings (item texts with
the rating), the item to rate and, with prompt augmentation, the conventional model's prediction. Its
answer must be one number on the scale (`parse_rating`); an answer that is not a number, is
ambiguous, or lies off the scale gets one repair re-ask, and if still invalid (or the request fails)
the pair falls back to the model's prediction. Every outcome is counted.

The no-LLM rater (labelled as such wherever it is used) is a content nearest-neighbour rating: the
similarity-weighted mean of the user's training ratings on the items closest to the target in
attribute space (genres, director, cast, decade), shrunk toward the model's prediction.

Aggregation (Eqs. 5-6 of the paper, with `llmrec.rerank.aggregate`'s alpha_u from the long-tail
coefficient): r = alpha_u r_rater + (1 - alpha_u) r_model, (alpha1, alpha2) chosen on validation RMSE.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from llmrec.augment.ask import ask
from llmrec.augment.parsers import ParseError
from llmrec.augment.prompts import chat
from llmrec.llm import Backend, StageStats
from llmrec.rerank.aggregate import adaptive_alpha
from llmrec.tasks.rating_data import Ratings

RATING_TEMPLATE = "rating.predict/v1"
LOCAL_RATER = {"kind": "local", "llm": False, "what": "no-LLM rater: content nearest neighbours (labelled)"}
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?")


def rating_prompt(
    history: Sequence[tuple[str, float]],
    n_history: int,
    item: str,
    prediction: float | None,
    scale: tuple[float, float],
    noun: str = "movie",
) -> str:
    """One pair's prompt: the user's ratings shown, the item, the model's prediction (if given)."""
    low, high = f"{scale[0]:g}", f"{scale[1]:g}"
    shown = "Here they are" if len(history) == n_history else f"Here are {len(history)} of them"
    lines = "".join(f"- {text}: {rating:g}\n" for text, rating in history)
    told = (
        f"A recommender model trained on every user's ratings predicts {prediction:.1f} for this pair.\n\n"
        if prediction is not None
        else ""
    )
    return (
        f"A user rated {n_history} {noun}s on a scale from {low} to {high}. {shown}:\n"
        f"{lines}\n{noun.capitalize()} to rate: {item}\n\n{told}"
        f"How would this user rate this {noun}? Answer with one number from {low} to {high} and nothing else."
    )


def rating_expected(scale: tuple[float, float]) -> str:
    """The answer format, restated in a repair re-ask."""
    return f"one number from {scale[0]:g} to {scale[1]:g}, nothing else"


def parse_rating(text: str, scale: tuple[float, float]) -> float:
    """The one rating in an answer ("4", "4.5", "Rating: 4/5"); ParseError by kind otherwise.

    Kinds: `not_a_number` (no number), `ambiguous` (several numbers, e.g. "3 or 4"), `off_scale`.
    A trailing "/5" or "out of 5" naming the scale's top is not a second number.
    """
    body = re.sub(rf"\s*(?:/|out of)\s*{scale[1]:g}(?:\.0+)?\b", "", text.strip())
    numbers = _NUMBER.findall(body)
    if not numbers:
        raise ParseError(f"no number in {text.strip()[:60]!r}", "not_a_number")
    if len(set(float(n) for n in numbers)) > 1:
        raise ParseError(f"several numbers in {text.strip()[:60]!r}", "ambiguous")
    value = float(numbers[0])
    if not scale[0] <= value <= scale[1]:
        raise ParseError(f"{value:g} is off the scale {scale[0]:g}-{scale[1]:g}", "off_scale")
    return value


@dataclass
class Rated:
    """A rater's ratings of a set of pairs, and what happened on the way (for the audit)."""

    ratings: np.ndarray
    audit: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


def user_history(train: Ratings, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, order): the training rows of user u are order[indptr[u]:indptr[u + 1]]."""
    order = np.argsort(train.users, kind="stable")
    return np.searchsorted(train.users[order], np.arange(n_users + 1)), order


def llm_ratings(
    llm: Backend,
    pairs: Ratings,
    base: np.ndarray,
    train: Ratings,
    texts: Sequence[str],
    scale: tuple[float, float],
    *,
    history_items: int = 20,
    show_prediction: bool = True,
    seed: int = 2024,
    stats: StageStats | None = None,
    samples: int = 5,
    noun: str = "movie",
) -> Rated:
    """The LLM's rating of every pair (`base` predictions where its answer is unusable)."""
    indptr, order = user_history(train, int(max(pairs.users.max(initial=0), train.users.max(initial=0))) + 1)
    prompts = []
    for u, i, p in zip(pairs.users.tolist(), pairs.items.tolist(), base.tolist(), strict=True):
        rows = order[indptr[u] : indptr[u + 1]]
        shown = np.random.default_rng([seed, u]).permutation(rows)[:history_items]
        history = [(texts[train.items[r]], float(train.ratings[r])) for r in shown]
        prompts.append(
            rating_prompt(history, len(rows), texts[i], p if show_prediction else None, scale, noun)
        )
    asked = ask(
        llm,
        [chat(p, RATING_TEMPLATE) for p in prompts],
        [0] * len(prompts),
        lambda _: functools.partial(parse_rating, scale=scale),
        lambda _: rating_expected(scale),
        stats or StageStats("rating.llm"),
    )
    values = np.array([np.nan if v is None else v for v in asked.values], dtype=np.float64)
    fallback = np.isnan(values)
    summary = asked.summary()
    audit = {**summary, "fell_back_to_model": int(fallback.sum())}
    shown_samples = [
        {
            "user": int(pairs.users[k]),
            "item": int(pairs.items[k]),
            "prompt": prompts[k],
            "answer": asked.answers[k],
            "rating": None if fallback[k] else float(values[k]),
            "model": float(base[k]),
            "truth": float(pairs.ratings[k]),
        }
        for k in range(min(samples, len(prompts)))
    ]
    return Rated(np.where(fallback, base, values), audit, shown_samples)


def item_vectors(attributes: Mapping[str, Sequence[Sequence[str]]], n_items: int) -> sp.csr_matrix:
    """Row-normalised multi-hot vectors of items over every attribute value ("field=value" columns)."""
    rows: list[int] = []
    cols: list[int] = []
    vocab: dict[str, int] = {}
    for name, values in attributes.items():
        for i, row in enumerate(values):
            for v in row:
                cols.append(vocab.setdefault(f"{name}={v}", len(vocab)))
                rows.append(i)
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_items, max(len(vocab), 1)))
    m.data[:] = 1.0  # a repeated value counts once
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ m


def local_ratings(
    pairs: Ratings,
    base: np.ndarray,
    train: Ratings,
    vectors: sp.csr_matrix,
    neighbours: int = 20,
    shrinkage: float = 2.0,
) -> Rated:
    """The no-LLM rater: (sum_j s_ij r_uj + shrinkage * model) / (sum_j s_ij + shrinkage), over the
    `neighbours` training items j of user u most similar to i (cosine of attribute vectors, s > 0)."""
    n_users = int(max(pairs.users.max(initial=0), train.users.max(initial=0))) + 1
    indptr, order = user_history(train, n_users)
    out = np.asarray(base, dtype=np.float64).copy()
    by_user = np.argsort(pairs.users, kind="stable")
    bounds = np.searchsorted(pairs.users[by_user], np.arange(n_users + 1))
    used = 0
    for u in range(n_users):
        targets = by_user[bounds[u] : bounds[u + 1]]
        rows = order[indptr[u] : indptr[u + 1]]
        if not len(targets) or not len(rows):
            continue
        sims = (vectors[pairs.items[targets]] @ vectors[train.items[rows]].T).toarray()  # [T, H]
        k = min(neighbours, sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        s = np.clip(np.take_along_axis(sims, top, axis=1), 0.0, None)
        r = train.ratings[rows][top]
        weight = s.sum(axis=1)
        out[targets] = ((s * r).sum(axis=1) + shrinkage * base[targets]) / (weight + shrinkage)
        used += int((weight > 0).sum())
    return Rated(out, {"pairs": len(out), "with_similar_items": used, "rater": LOCAL_RATER})


def aggregate_ratings(
    model: np.ndarray,
    rater: np.ndarray,
    users: np.ndarray,
    n_train: np.ndarray,
    alpha1: float,
    alpha2: float,
    cutoff: str = "inside",
    adaptive: bool = True,
) -> np.ndarray:
    """alpha_u * rater + (1 - alpha_u) * model per pair; `adaptive=False` uses alpha1 for everyone."""
    alpha = (
        adaptive_alpha(n_train, alpha1, alpha2, cutoff)[users] if adaptive else np.full(len(users), alpha1)
    )
    return alpha * np.asarray(rater, dtype=np.float64) + (1.0 - alpha) * np.asarray(model, dtype=np.float64)


def choose_alpha(
    model: np.ndarray,
    rater: np.ndarray,
    valid: Ratings,
    n_train: np.ndarray,
    grid: Sequence[float],
    cutoff: str = "inside",
    adaptive: bool = True,
) -> tuple[float, float, float]:
    """(alpha1, alpha2, validation RMSE) with the lowest validation RMSE over the grid (ties: the
    smaller alpha1, i.e. closer to the model alone); alpha1 = 0 (the model alone) is always a candidate."""
    best: tuple[float, float, float] | None = None
    alpha2s = grid if adaptive else (1.0,)
    for a1 in sorted({0.0, *grid}):
        for a2 in alpha2s:
            merged = aggregate_ratings(model, rater, valid.users, n_train, a1, a2, cutoff, adaptive)
            rmse = float(np.sqrt(np.mean((merged - valid.ratings) ** 2)))
            if best is None or rmse < best[2] - 1e-12:
                best = (a1, a2, rmse)
    assert best is not None
    return best


def outcome_counts(rated: Sequence[Rated]) -> dict[str, int]:
    """Summed integer counts of several audits (e.g. validation and test)."""
    total: Counter[str] = Counter()
    for r in rated:
        for k, v in r.audit.items():
            if isinstance(v, int):
                total[k] += v
    return dict(total)


__all__ = [
    "LOCAL_RATER",
    "RATING_TEMPLATE",
    "Rated",
    "aggregate_ratings",
    "choose_alpha",
    "item_vectors",
    "llm_ratings",
    "local_ratings",
    "outcome_counts",
    "parse_rating",
    "rating_expected",
    "rating_prompt",
]
