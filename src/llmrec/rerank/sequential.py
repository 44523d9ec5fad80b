"""Llama4Rec's sequential task: the reranker sees the recent history in order, and the LLM's pick of
the next item among candidates is inserted into the training sequence (data augmentation).

Values in, values out, like the rest of `llmrec.rerank`: training sequences (oldest first), the
sequential model's ranked lists, item texts, and an LLM (a `Backend`) or, without one, the labelled
no-LLM teacher: the candidate whose title vector is closest (cosine) to the mean of the user's last
`recent` items' title vectors. Prompts are versioned templates; every answer is parsed strictly,
repaired once, and counted by outcome.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from llmrec.augment.audit import sample_positions
from llmrec.augment.parsers import ParseError, rejection_kind
from llmrec.augment.prompts import chat
from llmrec.llm import Backend, RequestFailed, StageStats, repair_request
from llmrec.rerank.candidates import NO_ITEM, NO_USER, candidate_lists
from llmrec.rerank.config import Llama4RecConfig
from llmrec.rerank.listwise import UserPrompt, ask_rankings, prompt_tokens
from llmrec.rerank.local import local_orders
from llmrec.rerank.parsers import unwrap
from llmrec.rerank.prompts import SEPARATOR, display_order, short_ids
from llmrec.rerank.rerank import RerankResult, identity_orders
from llmrec.rerank.texts import ItemTexts

SEQUENTIAL_TEMPLATE = "rerank.sequential/v1"
PICK_TEMPLATE = "rerank.next-pick/v1"


def local_teacher(recent: int) -> dict[str, Any]:
    """The label every output of the no-LLM teacher carries."""
    return {
        "kind": "local",
        "note": (
            "no LLM was used: candidates are ordered by the cosine similarity of their title vectors "
            f"(the repo's sentence encoder) to the mean title vector of the user's last {recent} items"
        ),
    }


def sequential_prompt(
    history: Sequence[str], n_history: int, candidates: Sequence[str], ids: Sequence[str],
    conventional: Sequence[str], noun: str, pick_one: bool = False,
) -> str:  # fmt: skip
    """The prompt: the recent history in time order (oldest first), the candidates with ids, the
    sequential model's ranking (empty: left out), then the answer format (a ranking, or one id)."""
    shown = f"all {n_history}" if len(history) == n_history else f"the last {len(history)} of {n_history}"
    listed = "".join(f"[{i}] {line}\n" for i, line in zip(ids, candidates, strict=True))
    steps = "".join(f"{k}. {line}\n" for k, line in enumerate(history, 1))
    task = (
        f"Which candidate {noun} would this user most likely watch next?"
        if pick_one
        else f"Rank the candidate {noun}s below by how likely this user is to watch each one next."
    )
    parts = [
        f"{task}\n",
        f"The user's {noun}s in the order they watched them ({shown}, oldest first):\n{steps}",
        f"Candidates:\n{listed}",
    ]
    if conventional:
        parts.append(f"A sequential recommender ranks the candidates: {SEPARATOR.join(conventional)}\n")
    parts.append(
        "Answer with the id of that one candidate only (for example C)."
        if pick_one
        else f"Answer with the ids of all {len(ids)} candidates, each exactly once, from most to least "
        f"likely, separated by '{SEPARATOR.strip()}' (for example B > C > A for three candidates). "
        "Output only the ids."
    )
    return "\n".join(parts)


def user_prompt(
    seq: np.ndarray,
    user: int,
    row: np.ndarray,
    texts: ItemTexts,
    cfg: Llama4RecConfig,
    pick_one: bool = False,
) -> UserPrompt:
    """One user's prompt from their ordered sequence and candidate row (conventional order, padded)."""
    cands = row[row != NO_ITEM]
    recent = seq[-cfg.history_items :]
    positions = display_order(len(cands), cfg.seed, user, cfg.shuffle_candidates)
    ids = short_ids(len(cands))
    id_of = {int(p): ids[j] for j, p in enumerate(positions)}
    text = sequential_prompt(
        [texts.short[i] for i in recent], len(seq), [texts.full[cands[p]] for p in positions], ids,
        [id_of[p] for p in range(len(cands))] if cfg.show_base_ranking else [], cfg.noun, pick_one,
    )  # fmt: skip
    return UserPrompt(user, text, ids, positions)


def recent_matrix(seqs: Sequence[np.ndarray], n_items: int, recent: int) -> sp.csr_matrix:
    """[n_users, n_items] binary rows of each user's last `recent` items (the teacher's history)."""
    tails = [np.unique(s[-recent:]) for s in seqs]
    rows = np.repeat(np.arange(len(seqs)), [len(t) for t in tails])
    cols = np.concatenate(tails) if tails else np.zeros(0, np.int64)
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(seqs), n_items))


def _local(
    seqs: Sequence[np.ndarray], candidates: np.ndarray, item_vecs: np.ndarray, recent: int
) -> np.ndarray:
    """The no-LLM teacher's order of every candidate row (positions; ties keep the model's order)."""
    hist = recent_matrix(seqs, item_vecs.shape[0], recent)
    return local_orders(hist, candidates, np.full(len(seqs), NO_USER), item_vecs, 0.0)


def rerank_sequences(
    seqs: Sequence[np.ndarray],
    base_top: np.ndarray,
    cfg: Llama4RecConfig,
    recent: int,
    texts: ItemTexts | None = None,
    llm: Backend | None = None,
    item_vecs: np.ndarray | None = None,
    stats: StageStats | None = None,
) -> RerankResult:
    """Every user with history and two candidates reranked: by the LLM (listwise, history in order) or
    the no-LLM teacher (needs `item_vecs`). The result aggregates with the direct task's functions."""
    candidates, counts = candidate_lists(base_top, cfg.n_candidates)
    has = np.array([len(s) > 0 for s in seqs], dtype=bool)
    enough = (candidates != NO_ITEM).sum(axis=1) >= 2
    users = np.flatnonzero(has & enough)
    order = identity_orders(candidates)
    audit: dict[str, Any] = {**counts, "users": len(seqs), "no_history": int((~has).sum())}
    audit.update(too_few_candidates=int((has & ~enough).sum()), reranked=len(users))
    picks = sample_positions(len(users), cfg.audit_samples, cfg.seed)
    samples: list[dict[str, Any]] = []
    if llm is not None:
        if texts is None:
            raise ValueError("the LLM reranker needs item texts")
        prompts = [user_prompt(seqs[int(u)], int(u), candidates[u], texts, cfg) for u in users]
        asked = ask_rankings(llm, prompts, stats, SEQUENTIAL_TEMPLATE)
        for u, ranked in zip(users, asked.orders, strict=True):
            order[u, : len(ranked)] = ranked
        audit.update(asked.summary(), prompt_tokens=prompt_tokens(prompts))
        teacher = {"kind": "llm", "backend": llm.kind, "model": llm.model}
        samples = [{"user": prompts[k].user, "prompt": prompts[k].text, "answer": asked.answers[k],
                    "outcome": asked.outcomes[k]} for k in picks]  # fmt: skip
    else:
        if item_vecs is None:
            raise ValueError("the no-LLM reranker needs item text vectors")
        order[users] = _local(seqs, candidates, item_vecs, recent)[users]
        teacher = local_teacher(recent)
        if texts is not None:  # what an LLM would have been asked
            shown = [user_prompt(seqs[int(users[k])], int(users[k]), candidates[users[k]], texts, cfg)
                     for k in picks]  # fmt: skip
            note = "not sent: the no-LLM teacher answered"
            samples = [{"user": p.user, "prompt": p.text, "note": note} for p in shown]
    similar = np.full(len(seqs), NO_USER, dtype=np.int64)
    return RerankResult(candidates, order, base_top, similar, np.isin(np.arange(len(seqs)), users),
                        teacher, audit, samples)  # fmt: skip


# "[C] Title", or a bare "C" alone or followed by punctuation ("C. Title"); "I think..." is prose
_LEADING_ID = re.compile(r"^(?:\[([A-Z]{1,3})\]|([A-Z]{1,3})(?=$|[.:)\-–]))")


def parse_pick(text: str, ids: Sequence[str]) -> int:
    """The index in `ids` of the one candidate an answer names ('C', '[C]', 'C. Title', 'Answer: C')."""
    body = unwrap(text).strip("\"'`* ")
    if not body:
        raise ParseError("the answer is empty; expected one candidate id", "empty")
    found = _LEADING_ID.match(body)
    if found is None:
        raise ParseError(f"expected one candidate id such as {ids[0]}, got prose: {text[:80]!r}", "prose")
    named = found.group(1) or found.group(2)
    if named not in ids:
        raise ParseError(f"{named!r} is not a candidate id; ids: {', '.join(ids)}", "outside")
    return list(ids).index(named)


@dataclass
class Picks:
    """The next item chosen for each user (NO_ITEM: none), who chose, and what happened."""

    items: np.ndarray
    teacher: dict[str, Any]
    outcomes: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)


def pick_next(
    seqs: Sequence[np.ndarray],
    base_top: np.ndarray,
    cfg: Llama4RecConfig,
    recent: int,
    texts: ItemTexts | None = None,
    llm: Backend | None = None,
    item_vecs: np.ndarray | None = None,
    stats: StageStats | None = None,
) -> Picks:
    """The item each user would most likely watch next among their first `cfg.n_candidates` ones.

    An answer that names no candidate gets one repair; still invalid, or a failed request, picks
    nothing for that user (counted, never guessed).
    """
    candidates, _ = candidate_lists(base_top, cfg.n_candidates)
    has = np.array([len(s) > 0 for s in seqs], dtype=bool)
    users = np.flatnonzero(has & ((candidates != NO_ITEM).sum(axis=1) >= 1))
    items = np.full(len(seqs), NO_ITEM, dtype=np.int64)
    if llm is None:
        if item_vecs is None:
            raise ValueError("the no-LLM teacher needs item text vectors")
        first = _local(seqs, candidates, item_vecs, recent)[:, 0]
        items[users] = candidates[users, first[users]]
        return Picks(items, local_teacher(recent), Counter(local=len(users)))
    if texts is None:
        raise ValueError("the LLM's pick needs item texts")
    prompts = [user_prompt(seqs[int(u)], int(u), candidates[u], texts, cfg, pick_one=True) for u in users]
    requests = [chat(p.text, PICK_TEMPLATE) for p in prompts]
    result = Picks(items, {"kind": "llm", "backend": llm.kind, "model": llm.model})
    broken = []
    for k, answer in enumerate(llm.complete_all(requests)):
        if isinstance(answer, RequestFailed):
            result.outcomes["failed"] += 1
            continue
        try:
            j = parse_pick(answer.text, prompts[k].ids)
            result.outcomes["valid"] += 1
        except ParseError as exc:
            result.outcomes[f"rejected:{rejection_kind(exc)}"] += 1
            expected = f"one candidate id out of {', '.join(prompts[k].ids)}, and nothing else"
            broken.append((k, repair_request(requests[k], answer.text, str(exc), expected)))
            continue
        items[users[k]] = candidates[users[k], prompts[k].positions[j]]
    for (k, _), answer in zip(broken, llm.complete_all([r for _, r in broken]), strict=True):
        try:
            if isinstance(answer, RequestFailed):
                raise ParseError("the repair request failed", "failed")
            j = parse_pick(answer.text, prompts[k].ids)
            items[users[k]] = candidates[users[k], prompts[k].positions[j]]
            result.outcomes["repaired"] += 1
        except ParseError:
            result.outcomes["no_pick"] += 1
    if stats is not None:
        stats.count_repairs(len(broken), result.outcomes["no_pick"])
    result.samples = [{"user": prompts[k].user, "prompt": prompts[k].text} for k in
                      sample_positions(len(prompts), cfg.audit_samples, cfg.seed)]  # fmt: skip
    return result


def insert_picks(
    seqs: Sequence[np.ndarray], items: np.ndarray, seed: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Each user's sequence with their picked item inserted at a seeded uniform position 0..len (before
    the first item up to after the last); users without a pick keep theirs (position -1)."""
    out, where = [], np.full(len(seqs), -1, dtype=np.int64)
    for u, (s, item) in enumerate(zip(seqs, items, strict=True)):
        if item == NO_ITEM:
            out.append(s)
            continue
        where[u] = np.random.default_rng([seed, u]).integers(0, len(s) + 1)
        out.append(np.insert(s, where[u], item).astype(np.int64))
    return out, where


__all__ = [
    "PICK_TEMPLATE",
    "SEQUENTIAL_TEMPLATE",
    "Picks",
    "insert_picks",
    "local_teacher",
    "parse_pick",
    "pick_next",
    "recent_matrix",
    "rerank_sequences",
    "sequential_prompt",
    "user_prompt",
]
