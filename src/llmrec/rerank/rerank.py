"""`rerank_users`: every user's candidates ordered by the LLM (or the labelled no-LLM reranker).

The input is values only: the training interactions, the conventional model's ranked lists and user
embeddings, item texts, a config, and a `Backend` (a `CachedLLM`) or None for the offline reranker.
The result holds both orders over the same candidates; `aggregate` / `choose_alpha` merge them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.augment.audit import sample_positions
from llmrec.data.interactions import Interactions
from llmrec.llm import Backend, StageStats
from llmrec.rerank.aggregate import aggregate, merge_lists
from llmrec.rerank.candidates import NO_ITEM, candidate_lists, most_similar_users
from llmrec.rerank.config import Llama4RecConfig
from llmrec.rerank.evaluation import merged_lists
from llmrec.rerank.listwise import UserPrompt, ask_rankings, prompt_tokens, user_prompt
from llmrec.rerank.local import LOCAL_RERANKER, local_orders
from llmrec.rerank.prompts import SEPARATOR
from llmrec.rerank.texts import ItemTexts


@dataclass(frozen=True)
class RerankResult:
    """Candidates in conventional order, the reranker's order of them, and what happened.

    `order[u]` lists conventional positions (columns of `candidates[u]`) in the reranker's order,
    -1 where the row is padded; users not reranked keep 0, 1, 2, ...
    """

    candidates: np.ndarray  # [n_users, k'] item indices, NO_ITEM-padded
    order: np.ndarray  # [n_users, k'] conventional positions in the reranker's order
    base_top: np.ndarray  # [n_users, L] the conventional lists the candidates were cut from
    similar: np.ndarray  # [n_users] most similar user, NO_USER where none
    reranked: np.ndarray  # [n_users] bool: whether the reranker ordered this user's candidates
    teacher: dict[str, Any]  # which reranker: the LLM's backend and model, or the local label
    audit: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def lists(self, n_train: np.ndarray, alpha1: float, alpha2: float, cfg: Llama4RecConfig) -> np.ndarray:
        """Final [n_users, cfg.list_length] lists aggregated with (alpha1, alpha2)."""
        return merged_lists(self.candidates, self.order, self.base_top, n_train, alpha1, alpha2, cfg)

    def reranker_lists(self, cfg: Llama4RecConfig) -> np.ndarray:
        """Final lists in the reranker's own order (alpha_u = 1 for everyone), for comparison."""
        merged = aggregate(self.candidates, self.order, np.ones(len(self.candidates)), cfg.utility)
        return merge_lists(merged, self.base_top, cfg.list_length)


def identity_orders(candidates: np.ndarray) -> np.ndarray:
    """The conventional order of every row: 0, 1, 2, ... and -1 on padding."""
    positions = np.broadcast_to(np.arange(candidates.shape[1]), candidates.shape)
    return np.where(candidates != NO_ITEM, positions, -1).astype(np.int64)


def rerank_users(
    train: Interactions,
    base_top: np.ndarray,
    user_emb: np.ndarray,
    cfg: Llama4RecConfig,
    texts: ItemTexts | None = None,
    llm: Backend | None = None,
    item_vecs: np.ndarray | None = None,
    stats: StageStats | None = None,
) -> RerankResult:
    """Rerank every user with training history and at least two candidates; count everyone else.

    With `llm`, each such user's listwise prompt (needs `texts`) is asked in one cached batch. Without,
    the local reranker orders the candidates by text similarity (needs `item_vecs`, one row per item).
    `base_top` comes from `conventional_top` with the evaluation's mask (train for validation, train +
    valid for test); `user_emb` are the conventional model's user embeddings (for the similar user).
    """
    if llm is not None and texts is None:
        raise ValueError("the LLM reranker needs item texts")
    if llm is None and item_vecs is None:
        raise ValueError("the local reranker needs item text vectors")
    candidates, clip_counts = candidate_lists(base_top, cfg.n_candidates)
    user_items = train.user_items
    similar, sim_counts = most_similar_users(user_emb, user_items)
    has_history = np.diff(user_items.indptr) > 0
    enough = (candidates != NO_ITEM).sum(axis=1) >= 2
    users = np.flatnonzero(has_history & enough)
    order = identity_orders(candidates)
    audit: dict[str, Any] = {
        **sim_counts,
        **clip_counts,
        "too_few_candidates": int((has_history & ~enough).sum()),
        "reranked": len(users),
    }
    samples: list[dict[str, Any]] = []
    picks = sample_positions(len(users), cfg.audit_samples, cfg.seed)
    if llm is not None:
        assert texts is not None
        prompts = [user_prompt(user_items, int(u), candidates[u], int(similar[u]), texts, cfg) for u in users]
        asked = ask_rankings(llm, prompts, stats)
        for u, ranked in zip(users, asked.orders, strict=True):
            order[u, : len(ranked)] = ranked
        audit.update(asked.summary(), prompt_tokens=prompt_tokens(prompts))
        teacher = {"kind": "llm", "backend": llm.kind, "model": llm.model}
        samples = [_sample(prompts[k], asked.answers[k], asked.outcomes[k], order) for k in picks]
    else:
        assert item_vecs is not None
        local = local_orders(user_items, candidates, similar, item_vecs, cfg.local_similar_weight)
        order[users] = local[users]
        teacher = dict(LOCAL_RERANKER)
        if texts is not None:  # show what an LLM would have been asked, and the local answer
            for k in picks:
                prompt = user_prompt(user_items, int(users[k]), candidates[users[k]], int(similar[users[k]]),
                                     texts, cfg)  # fmt: skip
                sample = _sample(prompt, _as_ids(prompt, order[prompt.user]), "local", order)
                samples.append({**sample, "note": "prompt not sent: the local reranker answered"})
    return RerankResult(candidates, order, base_top, similar, np.isin(np.arange(len(order)), users),
                        teacher, audit, samples)  # fmt: skip


def _as_ids(prompt: UserPrompt, positions: np.ndarray) -> str:
    """An order of conventional positions written as the prompt's ids, as an LLM would answer."""
    id_of = {int(p): prompt.ids[j] for j, p in enumerate(prompt.positions)}
    return SEPARATOR.join(id_of[int(p)] for p in positions if p >= 0)


def _sample(prompt: UserPrompt, answer: str | None, outcome: str, order: np.ndarray) -> dict[str, Any]:
    """One prompt of the audit sample with its answer, what became of it and the reranker's order as ids
    (before aggregation)."""
    return {
        "user": prompt.user,
        "prompt": prompt.text,
        "answer": answer,
        "outcome": outcome,
        "reranker_order": _as_ids(prompt, order[prompt.user]),
    }
