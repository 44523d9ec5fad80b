"""The LLM's listwise ranking: one prompt per user, one cached batch, one repair, then a fallback.

An answer that does not parse (ids outside the list, repeats, a partial ranking, prose, another
language, nothing) gets one repair re-ask (`llmrec.llm.repair`). If the repaired answer is still
invalid, the usable part of it is kept (`salvage_ranking`: known ids, first mention, in order) and
the candidates it leaves out follow in the conventional order; an unreadable answer or a failed
request leaves the conventional order as it is. Every outcome is counted by kind.
`llmrec.llm.parse_with_repair` is not used because it discards an invalid repaired answer, and the
salvage needs it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from llmrec.augment.parsers import rejection_kind
from llmrec.augment.prompts import chat, estimate_tokens
from llmrec.llm import Backend, ChatRequest, RequestFailed, StageStats, repair_request
from llmrec.rerank.candidates import NO_ITEM, NO_USER
from llmrec.rerank.config import Llama4RecConfig
from llmrec.rerank.parsers import parse_ranking, salvage_ranking
from llmrec.rerank.prompts import (
    LISTWISE_TEMPLATE,
    display_order,
    listwise_expected,
    listwise_prompt,
    pick,
    short_ids,
)
from llmrec.rerank.texts import ItemTexts


@dataclass(frozen=True)
class UserPrompt:
    """One user's listwise prompt, its candidate ids, and which conventional position each id stands for."""

    user: int
    text: str
    ids: list[str]
    positions: np.ndarray  # positions[j]: conventional rank of the candidate listed as ids[j]


def similar_history(train: sp.csr_matrix, user: int, similar: int, exclude_shared: bool) -> np.ndarray:
    """The similar user's training items, without this user's own when `exclude_shared` leaves any."""
    if similar == NO_USER:
        return np.zeros(0, dtype=np.int64)
    theirs = train.indices[train.indptr[similar] : train.indptr[similar + 1]]
    if not exclude_shared:
        return theirs
    new = np.setdiff1d(theirs, train.indices[train.indptr[user] : train.indptr[user + 1]])
    return new if len(new) else theirs  # nothing new: the shared items still say what that user likes


def user_prompt(
    train: sp.csr_matrix,
    user: int,
    candidates: np.ndarray,
    similar: int,
    texts: ItemTexts,
    cfg: Llama4RecConfig,
) -> UserPrompt:
    """The listwise prompt of one user from their candidate row (conventional order, NO_ITEM-padded)."""
    cands = candidates[candidates != NO_ITEM]
    own = train.indices[train.indptr[user] : train.indptr[user + 1]]
    history = pick(own, cfg.history_items, cfg.seed, (user,))
    theirs = similar_history(train, user, similar, cfg.similar_exclude_shared)
    shown_similar = pick(theirs, cfg.similar_items, cfg.seed, (user, similar))
    positions = display_order(len(cands), cfg.seed, user, cfg.shuffle_candidates)
    ids = short_ids(len(cands))
    id_of_position = {int(p): ids[j] for j, p in enumerate(positions)}
    text = listwise_prompt(
        [texts.short[i] for i in history],
        len(own),
        [texts.short[i] for i in shown_similar],
        len(theirs),
        [texts.full[cands[p]] for p in positions],
        ids,
        [id_of_position[p] for p in range(len(cands))] if cfg.show_base_ranking else [],
        cfg.noun,
    )
    return UserPrompt(user, text, ids, positions)


def complete_order(ranked: Sequence[int], n: int) -> np.ndarray:
    """Conventional positions `ranked` first, then every other position 0..n-1 in conventional order."""
    seen = set(ranked)
    return np.array([*ranked, *(p for p in range(n) if p not in seen)], dtype=np.int64)


@dataclass
class Rankings:
    """Each prompt's final order (conventional positions, complete) and what happened on the way."""

    orders: list[np.ndarray]
    outcomes: list[str]  # valid | repaired | salvaged | fallback | failed, one per prompt
    answers: list[str | None]  # first answers as received
    rejected: Counter[str] = field(default_factory=Counter)  # first answers rejected, by kind
    rejected_after_repair: Counter[str] = field(default_factory=Counter)
    repairs_failed: int = 0  # repair requests that failed (the first answer is salvaged instead)

    def summary(self) -> dict[str, Any]:
        """Counts for the audit."""
        counts = Counter(self.outcomes)
        return {
            "prompts": len(self.orders),
            "outcomes": {
                k: counts.get(k, 0) for k in ("valid", "repaired", "salvaged", "fallback", "failed")
            },
            "rejected_first_answers": dict(sorted(self.rejected.items())),
            "rejected_after_repair": dict(sorted(self.rejected_after_repair.items())),
            "repairs_asked": sum(self.rejected.values()),
            "repair_requests_failed": self.repairs_failed,
            "parse_failure_rate": round(sum(self.rejected.values()) / len(self.orders), 4)
            if self.orders
            else 0.0,
        }


def ask_rankings(
    llm: Backend,
    prompts: Sequence[UserPrompt],
    stats: StageStats | None = None,
    template: str = LISTWISE_TEMPLATE,
) -> Rankings:
    """Ask every prompt in one cached batch, repair the invalid answers in a second, fall back as above.
    `template` is the prompts' versioned template (part of every cache key)."""
    requests = [chat(p.text, template) for p in prompts]
    answers = llm.complete_all(requests)
    result = Rankings([np.zeros(0, np.int64)] * len(prompts), [""] * len(prompts), [None] * len(prompts))
    broken: list[tuple[int, ChatRequest]] = []
    for i, (prompt, answer) in enumerate(zip(prompts, answers, strict=True)):
        n = len(prompt.ids)
        if isinstance(answer, RequestFailed):
            result.orders[i], result.outcomes[i] = np.arange(n), "failed"
            continue
        result.answers[i] = answer.text
        try:
            ranked = parse_ranking(answer.text, prompt.ids)
        except ValueError as exc:
            result.rejected[rejection_kind(exc)] += 1
            expected = listwise_expected(prompt.ids)
            broken.append((i, repair_request(requests[i], answer.text, str(exc), expected)))
            continue
        result.orders[i], result.outcomes[i] = prompt.positions[ranked], "valid"
    second = llm.complete_all([r for _, r in broken])
    for (i, _), answer in zip(broken, second, strict=True):
        prompt = prompts[i]
        if isinstance(answer, RequestFailed):  # salvage what the first answer offers
            result.repairs_failed += 1
            ranked = salvage_ranking(result.answers[i] or "", prompt.ids)
            outcome = "salvaged" if ranked else "fallback"
        else:
            try:
                ranked = parse_ranking(answer.text, prompt.ids)
                outcome = "repaired"
            except ValueError as exc:
                result.rejected_after_repair[rejection_kind(exc)] += 1
                ranked = salvage_ranking(answer.text, prompt.ids)
                outcome = "salvaged" if ranked else "fallback"
        result.orders[i] = complete_order(prompt.positions[ranked].tolist(), len(prompt.ids))
        result.outcomes[i] = outcome
    if stats is not None:
        stats.count_repairs(len(broken), sum(o in ("salvaged", "fallback") for o in result.outcomes))
    return result


def prompt_tokens(prompts: Sequence[UserPrompt]) -> dict[str, int]:
    """Estimated prompt sizes (tokens), for the audit: mean and largest."""
    sizes = [estimate_tokens(p.text) for p in prompts]
    return {"mean": round(sum(sizes) / len(sizes)) if sizes else 0, "max": max(sizes, default=0)}
