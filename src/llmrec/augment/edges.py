"""Implicit-feedback augmentation: one liked and one disliked candidate per user, as (user, pos, neg).

Both teachers ask the same users: those with a history and at least two candidates. A user with fewer
candidates than asked for (a small catalogue, a heavy user) is asked about the ones there are.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.augment.ask import ask
from llmrec.augment.audit import sample_positions
from llmrec.augment.candidates import NO_ITEM, count_candidates
from llmrec.augment.config import AugmentConfig
from llmrec.augment.inputs import Inputs, ItemLines
from llmrec.augment.measure import popularity_picks, simulated_picks
from llmrec.augment.parsers import parse_pair
from llmrec.augment.pointwise import ask_pointwise, pick_pair, pointwise_prompt, pointwise_request
from llmrec.augment.prompts import EDGES_TEMPLATE, chat, edges_expected, edges_prompt, estimate_tokens
from llmrec.augment.teacher import nearest_farthest
from llmrec.llm import Backend, StageStats


@dataclass
class EdgeResult:
    """Augmented triples by internal index, what happened on the way, and a few prompts with answers."""

    users: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


def plan_users(inputs: Inputs, candidates: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Users who can be asked, and how many were skipped or get a short candidate list, and why."""
    has_history = np.diff(inputs.train.user_items.indptr) > 0
    n_cand = count_candidates(candidates)
    eligible = has_history & (n_cand >= 2)
    counts = {
        "users": int(inputs.n_users),
        "no_history": int((~has_history).sum()),
        "too_few_candidates": int((has_history & (n_cand < 2)).sum()),
        "short_candidates": int((eligible & (n_cand < candidates.shape[1])).sum()),
    }
    return np.flatnonzero(eligible), counts


def edge_prompt(
    inputs: Inputs, lines: ItemLines, candidates: np.ndarray, user: int, aug: AugmentConfig
) -> str:
    """The edges prompt of one user: their history and their numbered candidates."""
    history = [lines.brief[i] for i in inputs.history(user, aug.seed)]
    return edges_prompt(
        history,
        [lines.full[i] for i in candidates[user] if i != NO_ITEM],
        inputs.noun,
        aug.history_token_budget,
    )


def llm_edges(
    llm: Backend,
    stats: StageStats,
    inputs: Inputs,
    lines: ItemLines,
    candidates: np.ndarray,
    aug: AugmentConfig,
) -> EdgeResult:
    """Listwise edges: as ranked by the base model, or shuffled per user (seeded), or asked in two
    orders (shuffled, then reversed) keeping only the users whose two answers name the same items."""
    if not aug.shuffle_candidates and aug.listwise_orders == 1:
        return _listwise(llm, stats, inputs, lines, candidates, aug)
    first = shuffle_rows(candidates, aug.seed)
    result = _listwise(llm, stats, inputs, lines, first, aug)
    result.report["candidate_order"] = f"shuffled per user (seed {aug.seed})"
    if aug.listwise_orders == 1:
        return result
    second = _listwise(llm, stats, inputs, lines, reverse_rows(first), aug)
    other = set(zip(second.users.tolist(), second.pos.tolist(), second.neg.tolist(), strict=True))
    agree = np.array(
        [(u, p, n) in other for u, p, n in zip(result.users, result.pos, result.neg, strict=True)], dtype=bool
    )
    report = {
        **result.report,
        "candidate_order": f"two orders: shuffled per user (seed {aug.seed}), then reversed",
        "usable_first_order": len(result.users),
        "usable_second_order": len(second.users),
        "usable": int(agree.sum()),
        "second_order": {k: v for k, v in second.report.items() if k not in counts_keys()},
    }
    return EdgeResult(result.users[agree], result.pos[agree], result.neg[agree], report, result.samples)


def shuffle_rows(candidates: np.ndarray, seed: int) -> np.ndarray:
    """Each row's real candidates in a seeded random order (the same for a user whatever the batch),
    NO_ITEM padding kept at the end."""
    out = candidates.copy()
    for u, row in enumerate(candidates):
        real = row[row != NO_ITEM]
        out[u, : len(real)] = np.random.default_rng([seed, u]).permutation(real)
    return out


def reverse_rows(candidates: np.ndarray) -> np.ndarray:
    """Each row's real candidates in reverse order, NO_ITEM padding kept at the end."""
    out = candidates.copy()
    for u, row in enumerate(candidates):
        real = row[row != NO_ITEM]
        out[u, : len(real)] = real[::-1]
    return out


def counts_keys() -> tuple[str, ...]:
    """The user counts of `plan_users`, the same for both orders."""
    return ("users", "no_history", "too_few_candidates", "short_candidates")


def _listwise(
    llm: Backend,
    stats: StageStats,
    inputs: Inputs,
    lines: ItemLines,
    candidates: np.ndarray,
    aug: AugmentConfig,
) -> EdgeResult:
    """Ask the LLM once per user (one batch), keep the pairs that parse, with one repair each."""
    users, counts = plan_users(inputs, candidates)
    prompts = [edge_prompt(inputs, lines, candidates, int(u), aug) for u in users]
    fits = np.array([estimate_tokens(p) <= aug.prompt_token_budget for p in prompts], dtype=bool)
    sent = users[fits]
    n_cand = count_candidates(candidates)
    asked = ask(
        llm,
        [chat(p, EDGES_TEMPLATE) for p, ok in zip(prompts, fits, strict=True) if ok],
        [int(n_cand[u]) for u in sent],
        lambda n: functools.partial(parse_pair, n=n),
        edges_expected,
        stats,
    )
    kept = [(int(u), pair) for u, pair in zip(sent, asked.values, strict=True) if pair is not None]
    result = EdgeResult(
        np.array([u for u, _ in kept], dtype=np.int64),
        np.array([candidates[u, liked - 1] for u, (liked, _) in kept], dtype=np.int64),
        np.array([candidates[u, disliked - 1] for u, (_, disliked) in kept], dtype=np.int64),
        {**counts, "over_budget": int((~fits).sum()), **asked.summary()},
    )
    sent_prompts = [p for p, ok in zip(prompts, fits, strict=True) if ok]
    for k in sample_positions(len(sent), aug.audit_samples, aug.seed):
        result.samples.append(
            _sample_row(inputs, int(sent[k]), sent_prompts[k], asked.answers[k], asked.values[k], candidates)
        )
    return result


def pointwise_edges(
    llm: Backend, inputs: Inputs, lines: ItemLines, candidates: np.ndarray, aug: AugmentConfig
) -> EdgeResult:
    """One yes/no question per candidate (one batch), liked = highest P(yes), disliked = lowest."""
    users, counts = plan_users(inputs, candidates)
    prompts, owner, over = [], [], 0
    for u in users:
        history = [lines.brief[i] for i in inputs.history(int(u), aug.seed)]
        for i in candidates[u]:
            if i == NO_ITEM:
                continue
            prompt = pointwise_prompt(history, lines.full[i], inputs.noun, aug.history_token_budget)
            if estimate_tokens(prompt) > aug.prompt_token_budget:
                over += 1
                continue
            prompts.append(prompt)
            owner.append((int(u), int(i)))
    scored = ask_pointwise(llm, [pointwise_request(p, aug.pointwise_top_logprobs) for p in prompts])
    by_user: dict[int, list[tuple[int, float]]] = {}
    for (u, i), score in zip(owner, scored.scores, strict=True):
        by_user.setdefault(u, []).append((i, float(score)))
    kept = []
    for u, rows in by_user.items():
        pair = pick_pair(np.array([s for _, s in rows]))
        if pair is not None:
            kept.append((u, rows[pair[0]][0], rows[pair[1]][0]))
    result = EdgeResult(
        np.array([u for u, _, _ in kept], dtype=np.int64),
        np.array([p for _, p, _ in kept], dtype=np.int64),
        np.array([n for _, _, n in kept], dtype=np.int64),
        {**counts, "mode": "pointwise", "over_budget": over, **scored.summary(), "prompts": len(prompts),
         "usable": len(kept), "too_few_scored": len(by_user) - len(kept)},
    )  # fmt: skip
    for k in sample_positions(len(prompts), aug.audit_samples, aug.seed):
        u, i = owner[k]
        result.samples.append(
            {"user_id": str(inputs.train.user_ids[u]), "prompt": prompts[k], "answer": scored.answers[k],
             "parsed": {"candidate": _title(inputs, i), "p_yes": None if np.isnan(scored.scores[k])
                        else round(float(scored.scores[k]), 4), "scored_by": scored.how[k]}}
        )  # fmt: skip
    return result


def local_edges(
    item_vecs: np.ndarray, inputs: Inputs, lines: ItemLines, candidates: np.ndarray, aug: AugmentConfig
) -> EdgeResult:
    """The local teacher's picks: nearest and farthest candidate to the history in embedding space."""
    users, counts = plan_users(inputs, candidates)
    pos, neg = nearest_farthest(item_vecs, inputs.train.user_items, candidates)
    users = users[pos[users] != NO_ITEM]
    result = EdgeResult(users, pos[users], neg[users], {**counts, "prompts": 0, "usable": len(users)})
    for k in sample_positions(len(users), aug.audit_samples, aug.seed):
        u = int(users[k])
        row = list(candidates[u])
        answer = f"{row.index(pos[u]) + 1}::{row.index(neg[u]) + 1}"
        prompt = edge_prompt(inputs, lines, candidates, u, aug)
        sample = _sample_row(
            inputs, u, prompt, answer, (row.index(pos[u]) + 1, row.index(neg[u]) + 1), candidates
        )
        result.samples.append({**sample, "note": "prompt not sent: the local teacher answered"})
    return result


def measured_edges(
    inputs: Inputs, lines: ItemLines, candidates: np.ndarray, aug: AugmentConfig, pool: Any
) -> EdgeResult:
    """The popularity or the simulated teacher's picks (`aug.teacher`); `pool` is the split's teacher pool."""
    users, counts = plan_users(inputs, candidates)
    if aug.teacher == "popularity":
        pos, neg = popularity_picks(candidates, inputs.train.user_items, users)
        extra: dict[str, Any] = {}
    else:
        pos, neg, extra = simulated_picks(candidates, pool, users, aug.simulated_quality, aug.seed)
    result = EdgeResult(users, pos, neg, {**counts, "prompts": 0, "usable": len(users), **extra})
    for k in sample_positions(len(users), aug.audit_samples, aug.seed):
        u = int(users[k])
        prompt = edge_prompt(inputs, lines, candidates, u, aug)
        parsed = {"liked": _title(inputs, int(pos[k])), "disliked": _title(inputs, int(neg[k]))}
        result.samples.append(
            {"user_id": str(inputs.train.user_ids[u]), "prompt": prompt, "answer": None, "parsed": parsed,
             "note": f"prompt not sent: the {aug.teacher} teacher (no LLM) answered"}
        )  # fmt: skip
    return result


def _sample_row(
    inputs: Inputs,
    user: int,
    prompt: str,
    answer: str | None,
    pair: tuple[int, int] | None,
    candidates: np.ndarray,
) -> dict[str, Any]:
    """One prompt of the audit sample with its answer and what was made of it."""
    parsed = None
    if pair is not None:
        liked, disliked = (int(candidates[user, k - 1]) for k in pair)
        parsed = {"liked": _title(inputs, liked), "disliked": _title(inputs, disliked)}
    return {"user_id": str(inputs.train.user_ids[user]), "prompt": prompt, "answer": answer, "parsed": parsed}


def _title(inputs: Inputs, item: int) -> str:
    """An item's title, or its id when it has none."""
    return inputs.items[item].get("title") or f"item {inputs.train.item_ids[item]}"
