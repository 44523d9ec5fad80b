"""A trained run held in memory for serving: top-K for known and ad-hoc users, and similar items.

The tested model of the run's first seed is loaded once (what `llmrec recommend` uses). A model with
the `embeddings` capability is reduced to its user and item vectors, computed once on the graph it was
tested on; a known user's scores are then `U[[u]] @ I.T`, the very operation its `score` performs, so
the served lists equal `llmrec recommend`'s. Other models (popularity, GF-CF) are scored through
`score` per request.

A new user is folded in from the vectors of the items they name, without retraining:
- `mean`: the mean of the items' vectors (LightGCN's first propagation step gives a user the
  degree-normalised sum of its items' vectors; their mean ranks items the same up to those weights);
- `lstsq`: the ridge least-squares vector whose scores on the given items are closest to 1, the
  fold-in of implicit matrix factorisation (Hu, Koren and Volinsky 2008, with unit confidences).

Lists without filters may come from an approximate index instead (`llmrec.ann`, FAISS IVF or HNSW,
`index=IndexParams(kind=...)`; without one, or with `kind="auto"` below 200,000 items, the exact
product, which is fast enough there and never wrong). Filtered lists and similar items are always
exact.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch

from llmrec.ann import IndexParams, ItemIndex
from llmrec.experiment import TrainedRun
from llmrec.models import Scorer, capabilities_of
from llmrec.models.base import Embedder
from llmrec.serve.catalogue import Catalogue, Filters
from llmrec.serve.errors import RequestError

FOLD_IN_RULES = ("mean", "lstsq")
RIDGE = 1e-2  # lstsq's L2 weight, relative to the mean squared norm of the history's item vectors


@dataclass(frozen=True, eq=False)
class Ask:
    """One list request: a known user (their row of the user vectors) or an ad-hoc user's folded-in
    vector, how many items, which items go (seen or liked ones) and which may come."""

    k: int
    exclude: np.ndarray
    filters: Filters = Filters()
    user: int | None = None
    vector: torch.Tensor | None = None


@dataclass(frozen=True)
class Ranked:
    """A ranked list: internal item indices and their scores, best first."""

    items: list[int]
    scores: list[float]


class Recommender:
    """One trained run's model, in memory: scores for known and ad-hoc users, and item neighbours."""

    def __init__(
        self, run: TrainedRun, catalogue: Catalogue, chosen_because: str, index: IndexParams | None = None
    ) -> None:
        self.run, self.catalogue, self.chosen_because = run, catalogue, chosen_because
        self.model_name = run.cfg.model.name
        split = run.split
        # what the tested model saw, and what `llmrec recommend` leaves out: train and valid
        self.seen = (split.train.user_items + split.valid.user_items).tocsr()
        self.seen.data[:] = 1.0
        self.seen_by_item = self.seen.T.tocsr()  # items x users, for the graph evidence
        model = run.test_model()
        self._scorer = cast(Scorer, model)
        self.user_vecs: torch.Tensor | None = None
        self.item_vecs: torch.Tensor | None = None
        if capabilities_of(model).embeddings:
            with torch.no_grad():
                users, items = cast(Embedder, model).embed(run.test_graph)
            self.user_vecs, self.item_vecs = users.detach().contiguous(), items.detach().contiguous()
            self._item_norms = self.item_vecs.norm(dim=1).clamp_min(1e-12)
        self.index: ItemIndex | None = None  # an approximate index, when asked for and worth it
        self._index_lock = threading.Lock()  # FAISS search is for one thread at a time
        if index is not None and self.item_vecs is not None:
            built = ItemIndex.build(self.item_vecs.numpy(), index)
            self.index = built if built.kind != "exact" else None

    @property
    def search_kind(self) -> str:
        """How unfiltered lists are searched: exact, ivf or hnsw."""
        return "exact" if self.index is None else self.index.kind

    @property
    def n_items(self) -> int:
        """Items the model ranks."""
        return self.catalogue.n_items

    @property
    def has_vectors(self) -> bool:
        """Whether the model's scores are dot products of user and item vectors (so ad-hoc users fold in)."""
        return self.item_vecs is not None

    def history(self, user: int) -> np.ndarray:
        """A known user's train and valid items (what the tested model learned from)."""
        return self.seen.indices[self.seen.indptr[user] : self.seen.indptr[user + 1]]

    def user_scores(self, user: int) -> torch.Tensor:
        """Scores of every item for a known user: [n_items]."""
        with torch.no_grad():
            if self.user_vecs is not None and self.item_vecs is not None:
                # a [1, dim] slice: the same product, shape and kernel as the model's `score`
                return (self.user_vecs[user : user + 1] @ self.item_vecs.T)[0]
            return self._scorer.score(torch.tensor([user]), self.run.test_graph)[0]

    def recommend_user(self, user: int, k: int, exclude_seen: bool, filters: Filters) -> Ranked:
        """Top-k for a known user, their train and valid items left out unless `exclude_seen` is off."""
        self.check_k(k)
        return self.answer([self.ask_user(user, k, exclude_seen, filters)])[0]

    def ask_user(self, user: int, k: int, exclude_seen: bool, filters: Filters) -> Ask:
        """The request for a known user's list."""
        return Ask(k, self.history(user) if exclude_seen else np.empty(0, dtype=np.int64), filters, user=user)

    def ask_items(self, items: np.ndarray, k: int, rule: str, filters: Filters) -> Ask:
        """The request for an ad-hoc user who liked `items` (folded in now; the items are left out)."""
        return Ask(k, items, filters, vector=self.fold_in(items, rule))

    def answer(self, asks: Sequence[Ask]) -> list[Ranked]:
        """Lists for several requests at once. One product for the batch reads the item matrix once
        (it is memory-bound: Gowalla's is 10 MB a read). A known user's row in a batch of one is the
        product `llmrec recommend` computes, exactly."""
        if self.user_vecs is None or self.item_vecs is None:  # no vectors: known users only, one by one
            return [self.top(self.user_scores(cast(int, a.user)), a.k, a.exclude, a.filters) for a in asks]
        rows = [self.user_vecs[a.user] if a.vector is None else a.vector for a in asks]
        if self.index is not None and all(a.filters.empty for a in asks):
            return self._search(torch.stack(rows), asks)
        with torch.no_grad():
            scores = torch.stack(rows) @ self.item_vecs.T
        return [self.top(scores[b], a.k, a.exclude, a.filters) for b, a in enumerate(asks)]

    def _search(self, queries: torch.Tensor, asks: Sequence[Ask]) -> list[Ranked]:
        """Unfiltered lists from the approximate index (the batch's largest k, each cut to its own)."""
        assert self.index is not None
        k = min(max(a.k for a in asks), self.n_items)
        with self._index_lock:
            scores, ids = self.index.search(queries.numpy(), k, [a.exclude for a in asks])
        out = []
        for b, a in enumerate(asks):
            found = ids[b] >= 0
            out.append(Ranked(ids[b][found][: a.k].tolist(), scores[b][found][: a.k].tolist()))
        return out

    def fold_in(self, items: np.ndarray, rule: str) -> torch.Tensor:
        """A new user's vector from the vectors of `items` (internal indices) by `rule`."""
        if self.item_vecs is None:
            raise RequestError(
                422,
                f"model {self.model_name} has no item vectors to fold a new user into "
                "(serve an embedding model: bpr-mf, lightgcn, sgl, simgcl, llmrec)",
                "body.items",
            )
        if rule not in FOLD_IN_RULES:
            raise RequestError(
                422, f"unknown fold_in rule {rule!r}; valid: {list(FOLD_IN_RULES)}", "body.fold_in"
            )
        vecs = self.item_vecs[torch.from_numpy(items)]
        if rule == "mean":
            return vecs.mean(dim=0)
        gram = vecs.T @ vecs
        ridge = RIDGE * float((vecs * vecs).sum(dim=1).mean())
        rhs = vecs.T @ torch.ones(len(items))
        return torch.linalg.solve(gram + ridge * torch.eye(gram.shape[0]), rhs)

    def recommend_items(self, items: np.ndarray, k: int, rule: str, filters: Filters) -> Ranked:
        """Top-k for an ad-hoc user who liked `items` (which are left out of the list)."""
        self.check_k(k)
        return self.answer([self.ask_items(items, k, rule, filters)])[0]

    def similar(self, item: int, k: int) -> Ranked:
        """The k items nearest to `item`: cosine of item vectors, or of co-interaction columns."""
        self.check_k(k)
        if self.item_vecs is not None:
            scores = (self.item_vecs @ self.item_vecs[item]) / (self._item_norms * self._item_norms[item])
        else:
            column = self.seen_by_item[item]
            overlap = np.asarray((self.seen_by_item @ column.T).todense()).ravel()
            sizes = np.sqrt(np.asarray(self.seen_by_item.sum(axis=1)).ravel()).clip(1e-12)
            scores = torch.from_numpy((overlap / (sizes * sizes[item])).astype(np.float32))
        return self.top(scores, k, np.array([item], dtype=np.int64), Filters())

    def check_k(self, k: int) -> None:
        """K must be in 1..n_items."""
        if k < 1 or k > self.n_items:
            raise RequestError(
                422, f"k must be between 1 and {self.n_items} (the catalogue), got {k}", "query.k"
            )

    def top(self, scores: torch.Tensor, k: int, exclude: np.ndarray, filters: Filters) -> Ranked:
        """The k best of `scores` outside `exclude` and inside `filters` (fewer when fewer remain)."""
        scores = scores.clone()
        if len(exclude):
            scores[torch.from_numpy(exclude.astype(np.int64))] = -torch.inf
        keep = self.catalogue.mask(filters)
        allowed = self.n_items - len(exclude)
        if keep is not None:
            keep = keep.copy()
            keep[exclude] = False
            scores[torch.from_numpy(~keep)] = -torch.inf
            allowed = int(keep.sum())
        top = torch.topk(scores, min(k, allowed))
        return Ranked(top.indices.tolist(), top.values.tolist())

    def co_users(self, item: int, history: np.ndarray, user: int | None) -> tuple[np.ndarray, np.ndarray]:
        """For each history item, how many other users interacted with it and with `item`; and those
        users of `item` (internal indices), for naming a few."""
        users = self.seen_by_item.indices[self.seen_by_item.indptr[item] : self.seen_by_item.indptr[item + 1]]
        if user is not None:
            users = users[users != user]
        if not len(users) or not len(history):
            return np.zeros(len(history), dtype=np.int64), users
        counts = np.asarray(self.seen[users][:, history].sum(axis=0)).ravel().astype(np.int64)
        return counts, users

    def shared_users(self, a: int, users: np.ndarray, limit: int) -> list[int]:
        """Up to `limit` of `users` who also interacted with item `a`."""
        of_a = self.seen_by_item.indices[self.seen_by_item.indptr[a] : self.seen_by_item.indptr[a + 1]]
        return np.intersect1d(of_a, users, assume_unique=False)[:limit].tolist()

    def item_similarity(self, a: np.ndarray, b: int) -> list[float] | None:
        """Cosine of item vectors between each of `a` and `b` (None without vectors)."""
        if self.item_vecs is None:
            return None
        index = torch.from_numpy(a.astype(np.int64))
        cos = (self.item_vecs[index] @ self.item_vecs[b]) / (self._item_norms[index] * self._item_norms[b])
        return [round(float(x), 4) for x in cos]


__all__ = ["FOLD_IN_RULES", "Ask", "Ranked", "Recommender"]
