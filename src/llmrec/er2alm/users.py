"""User analysis (Sec. 3.2, Eqs. 2-3, Figure 3): a preference profile per aspect from the user's
TRAINING history enriched with the generated item aspects (P_U), then a preference weight per aspect
in (0, 1) (Prompt_W). Validation and test items never enter a prompt or a statistic: histories are
rows of the training matrix only.

The no-LLM teacher writes the same two things from counts (`teacher.local_profile`,
`teacher.concentration_weights`). An LLM weight that is not usable (not a number, outside (0, 1),
missing) is replaced by `fallback_weight` and counted; unknown aspects in the answer are counted and
ignored; a user whose weights stay unusable after the repair gets `fallback_weight` on every aspect.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from llmrec.augment.ask import ask
from llmrec.augment.audit import sample_positions
from llmrec.augment.prompts import chat, estimate_tokens, item_line
from llmrec.er2alm.parsers import WeightAnswer, parse_profile, parse_weights
from llmrec.er2alm.prompts import (
    PROFILE_TEMPLATE,
    WEIGHTS_TEMPLATE,
    profile_expected,
    profile_prompt,
    weights_expected,
    weights_prompt,
)
from llmrec.er2alm.teacher import concentration_weights, local_profile
from llmrec.llm import Backend, StageStats


@dataclass
class UserAnalysis:
    """Per user (internal index): the profile by aspect (None: no history / unusable) and the weights."""

    aspects: tuple[str, ...]
    profiles: list[dict[str, str | None] | None]
    weights: np.ndarray  # [n_users, n_aspects] in (0, 1)
    report: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


def histories(train: sp.csr_matrix, seed: int) -> list[np.ndarray]:
    """Each user's training items in a fixed random order (a budget cut keeps an unbiased sample)."""
    rows = []
    for u in range(train.shape[0]):
        items = train.indices[train.indptr[u] : train.indptr[u + 1]]
        rows.append(np.random.default_rng([seed, u]).permutation(items))
    return rows


def enriched_line(
    meta: Mapping[str, str], aspects: Mapping[str, str | None], item_id: str, words: int
) -> str:
    """S(i^A) of Eq. 2: an item's basic attributes plus its generated aspects, on one line."""
    fields = {k: v for k, v in meta.items() if k in ("title", "year", "genres")}
    fields.update({a: v for a, v in aspects.items() if v})
    return item_line(fields, item_id, words)


def local_analysis(
    train: sp.csr_matrix, item_aspects: Sequence[Mapping[str, str | None]], aspects: Sequence[str], seed: int
) -> UserAnalysis:
    """The no-LLM teacher's profiles and concentration weights from the training histories."""
    n_users = train.shape[0]
    profiles: list[dict[str, str | None] | None] = []
    weights = np.full((n_users, len(aspects)), 0.5)
    for u, history in enumerate(histories(train, seed)):
        if not len(history):
            profiles.append(None)
            continue
        rows = [item_aspects[i] for i in history]
        profiles.append(local_profile(rows, aspects))
        w = concentration_weights(rows, aspects)
        weights[u] = [w[a] for a in aspects]
    report = {"users": n_users, "no_history": sum(p is None for p in profiles), "prompts": 0}
    return UserAnalysis(tuple(aspects), profiles, weights, report)


def llm_analysis(
    llm: Backend,
    stats: tuple[StageStats, StageStats],
    train: sp.csr_matrix,
    items: Sequence[Mapping[str, str]],
    item_ids: Sequence[str],
    item_aspects: Sequence[Mapping[str, str | None]],
    aspects: Sequence[str],
    noun: str,
    history_budget: int = 1024,
    token_budget: int = 3072,
    field_words: int = 6,
    fallback_weight: float = 0.5,
    audit_samples: int = 3,
    seed: int = 0,
) -> UserAnalysis:
    """P_U for every user with a history (one batch, one repair each), then Prompt_W on the profiles."""
    keys = tuple(aspects)
    n_users = train.shape[0]
    lines = [
        enriched_line(m, a, str(item_ids[i]), field_words)
        for i, (m, a) in enumerate(zip(items, item_aspects, strict=True))
    ]
    hist = histories(train, seed)
    todo: list[tuple[int, str]] = []
    over = 0
    for u, history in enumerate(hist):
        if not len(history):
            continue
        prompt = profile_prompt([lines[i] for i in history], keys, noun, history_budget)
        if estimate_tokens(prompt) > token_budget:
            over += 1
            continue
        todo.append((u, prompt))
    asked = ask(
        llm,
        [chat(p, PROFILE_TEMPLATE) for _, p in todo],
        [keys] * len(todo),
        lambda k: functools.partial(parse_profile, aspects=k),
        profile_expected,
        stats[0],
    )
    profiles: list[dict[str, str | None] | None] = [None] * n_users
    for (u, _), parsed in zip(todo, asked.values, strict=True):
        profiles[u] = parsed
    profiled = [u for u in range(n_users) if profiles[u] is not None]
    w_prompts = [weights_prompt(profiles[u] or {}, len(hist[u]), noun) for u in profiled]
    w_asked = ask(
        llm,
        [chat(p, WEIGHTS_TEMPLATE) for p in w_prompts],
        [keys] * len(profiled),
        lambda k: functools.partial(parse_weights, aspects=k),
        weights_expected,
        stats[1],
    )
    weights = np.full((n_users, len(keys)), fallback_weight)
    issues: Counter[str] = Counter()
    for u, answer in zip(profiled, w_asked.values, strict=True):
        if answer is None:
            issues["users_all_fallback"] += 1
            continue
        assert isinstance(answer, WeightAnswer)
        issues.update(answer.issues)
        filled = answer.filled(fallback_weight)
        weights[u] = [filled[a] for a in keys]
    report = {
        "users": n_users,
        "no_history": sum(not len(h) for h in hist),
        "over_budget": over,
        "profiles": asked.summary(),
        "weights": {
            **w_asked.summary(),
            "issues": dict(sorted(issues.items())),
            "fallback_weight": fallback_weight,
        },
    }
    result = UserAnalysis(keys, profiles, weights, report)
    for k in sample_positions(len(todo), audit_samples, seed):
        u, prompt = todo[k]
        result.samples.append(
            {
                "user": int(u),
                "prompt": prompt,
                "answer": asked.answers[k],
                "parsed": asked.values[k],
                "weights": dict(zip(keys, weights[u].round(3).tolist(), strict=True)),
            }
        )
    return result


def eta_subset(n_picked: int, n_users: int, eta: float, seed: int) -> np.ndarray:
    """Table 2: ceil(2 |U| eta) augmented edges, i.e. ceil(|U| eta) triples (one liked, one disliked
    edge each), drawn at random from the picks (all when fewer were picked)."""
    wanted = min(n_picked, math.ceil(2 * n_users * eta / 2))
    return np.sort(np.random.default_rng(seed).choice(n_picked, size=wanted, replace=False))


__all__ = ["UserAnalysis", "enriched_line", "eta_subset", "histories", "llm_analysis", "local_analysis"]
