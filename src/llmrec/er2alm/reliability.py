"""ER2ALM's noise control (Sec. 3.4, Eqs. 6-12, Algorithm 1 lines 12-30): keep a generated aspect only
when it is reliable with respect to the item's trusted markers.

- Eq. 6: a relation score w = MLP[W_r(basic | aspect)] with one transform W_r per aspect kind r. Our
  input (the paper gives no more): the trusted basic-attribute vector b, the marker passage vector m
  (the retrieved document, zeros without one) and the aspect vector a, as [b, a, b*a, m*a], plus three
  cosines the MLP may lean on: cos(b, a), cos(m, a) and cos(a, centroid of kind r).
- Eq. 12 is the loss on reliable pairs, -log sigma(w). Alone it is solved by scoring everything high,
  so each item's aspect is contrasted with the same aspect of another item drawn at random
  (-log sigma(-w)): the gate learns which values belong to which item without labels.
- Eqs. 7-8: J = sigmoid((log eps - log(1 - eps) + w) / tau), eps uniform in (bias, 1 - bias): a
  binary-concrete relaxation. Training draws eps; judging uses eps = 1/2 (J = sigmoid(w / tau)) unless
  `noise_at_judgment`, so a decision does not depend on a draw.
- Algorithm 1: items in order; while the retain or abandon set holds fewer than N vectors (per aspect
  kind, `per_kind`), J >= theta decides and the vector joins its set; afterwards an aspect is kept only
  when J >= theta and Delta = sim(retain, a) - sim(abandon, a) > 0 (Eq. 10), except when J >= `sure`
  (Eq. 9's "J >> theta"), kept at once. `cosine = False` leaves theta alone to decide.
- Cross-fitting (our choice, `folds`): the scorer that judges an item never trained on it, so it cannot
  have memorised the item's (possibly wrong) aspects as reliable.
- Grounding (our addition, optional): given a `Grounding`, the MLP also reads the share of the aspect's
  words found in the item's basic attributes and passage, and whether a passage exists (grounding.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from llmrec.er2alm.grounding import Grounding
from llmrec.errors import ConfigError

ROUTES = ("missing", "fill", "sure", "cosine", "theta")  # how each aspect was decided


@dataclass(frozen=True)
class ReliabilityConfig:
    """Knobs of the gate; the paper's values where it gives them (theta 0.4, N 500)."""

    tau: float = 0.4  # temperature tau_{m^A} of Eq. 8
    theta: float = 0.4  # reliability threshold
    sure: float = 0.9  # J at or above this is kept without the cosine check (Eq. 9, first case)
    n_sets: int = 500  # N: the retain and abandon sets are filled to this size before Delta takes over
    bias: float = 1e-4  # Eq. 7: eps is uniform in (bias, 1 - bias)
    cosine: bool = True  # Eq. 10's Delta step (off: theta alone decides)
    per_kind: bool = True  # one retain / abandon pair of sets per aspect kind (off: one pair for all)
    set_similarity: str = (
        "centroid"  # sim(E, a): cosine to the set's mean ("centroid") or best member ("max")
    )
    noise_at_judgment: bool = False
    hidden: int = 64
    rank: int = 16  # rank of each relation's correction to the identity map
    epochs: int = 80
    lr: float = 0.01
    weight_decay: float = 1e-4
    folds: int = 3  # cross-fitting folds (1: the scorer judges the items it trained on)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.tau <= 0:
            raise ConfigError(f"er2alm.gate tau must be positive, got {self.tau}")
        if not 0 < self.theta < 1 or not self.theta <= self.sure <= 1:
            raise ConfigError(
                f"er2alm.gate needs 0 < theta <= sure <= 1, got theta={self.theta}, sure={self.sure}"
            )
        if self.set_similarity not in ("centroid", "max"):
            raise ConfigError(
                f"er2alm.gate set_similarity must be 'centroid' or 'max', not {self.set_similarity!r}"
            )
        if not 0 <= self.bias < 0.5 or min(self.folds, self.n_sets, self.epochs, self.rank, self.hidden) < 1:
            raise ConfigError("er2alm.gate needs 0 <= bias < 0.5 and folds, n, epochs, rank, hidden >= 1")


class RelationScorer(nn.Module):
    """Eq. 6: w = MLP[W_r(b | a)] for pairs of (basic, marker, aspect) vectors of relation r.

    W_r maps the trusted vectors into the space of aspect r: W_r = I + U_r V_r^T (and V'_r for the
    marker), the identity plus a learned rank-`rank` correction, so the score starts as a plain cosine
    and each relation learns how its aspect departs from it (a bilinear relation score, as
    knowledge-graph models score head, relation and tail; low rank keeps it cheap on 384-d vectors).
    The MLP reads the products W_r b * a and W'_r m * a and the cosines of a with W_r b, W'_r m, b and
    its kind's centroid.
    """

    def __init__(self, dim: int, n_relations: int, hidden: int = 64, rank: int = 16, extra: int = 0) -> None:
        super().__init__()
        self.down = nn.Parameter(torch.randn(2, n_relations, dim, rank) * 0.01)
        self.up = nn.Parameter(torch.zeros(2, n_relations, rank, dim))
        self.extra = extra  # scalar features per pair beyond the cosines (grounding: 2)
        self.mlp = nn.Sequential(nn.Linear(2 * dim + 4 + extra, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def transform(
        self, basic: torch.Tensor, marker: torch.Tensor, rel: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(W_r b, W'_r m) of B pairs."""
        p, q = basic.clone(), marker.clone()
        for r in torch.unique(rel).tolist():  # one product per relation, never a [B, d, d] gather
            rows = rel == r
            p[rows] = p[rows] + basic[rows] @ self.down[0, r] @ self.up[0, r]
            q[rows] = q[rows] + marker[rows] @ self.down[1, r] @ self.up[1, r]
        return p, q

    def head(self, p: torch.Tensor, q: torch.Tensor, basic: torch.Tensor, aspect: torch.Tensor,
             centroid: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """[B] scores w from transformed markers and the aspect vectors ([B, d] each; centroids [B, d];
        `extra` [B, self.extra] when the scorer has extra features)."""
        cos = torch.stack(
            [F.cosine_similarity(p, aspect, dim=1), F.cosine_similarity(q, aspect, dim=1),
             F.cosine_similarity(basic, aspect, dim=1), F.cosine_similarity(aspect, centroid, dim=1)],
            dim=1,
        )  # fmt: skip
        parts = [p * aspect, q * aspect, cos]
        if self.extra:
            assert extra is not None, "this scorer was built with extra features"
            parts.append(extra)
        return self.mlp(torch.cat(parts, dim=1)).squeeze(1)

    def forward(self, basic: torch.Tensor, marker: torch.Tensor, aspect: torch.Tensor,
                rel: torch.Tensor, centroid: torch.Tensor, extra: torch.Tensor | None = None,
                ) -> torch.Tensor:  # fmt: skip
        """[B] relation scores w of B pairs (vectors [B, d], relation ids [B], kind centroids [R, d])."""
        p, q = self.transform(basic, marker, rel)
        return self.head(p, q, basic, aspect, centroid[rel], extra)


def concrete(w: torch.Tensor, tau: float, bias: float, generator: torch.Generator | None) -> torch.Tensor:
    """Eqs. 7-8: J = sigmoid((log eps - log(1 - eps) + w) / tau), eps uniform in (bias, 1 - bias);
    `generator` None: eps = 1/2, so J = sigmoid(w / tau)."""
    if generator is None:
        return torch.sigmoid(w / tau)
    eps = (2 * bias - 1) * torch.rand(w.shape, generator=generator) + (1 - bias)
    return torch.sigmoid((torch.log(eps) - torch.log(1 - eps) + w) / tau)


@dataclass
class GateResult:
    """Per (item, aspect): kept, J, the route that decided; the counts for the audit."""

    kept: np.ndarray  # [n_items, n_aspects] bool (False where the aspect is missing)
    scores: np.ndarray  # [n_items, n_aspects] J (nan where missing)
    routes: np.ndarray  # [n_items, n_aspects] index into ROUTES
    report: dict[str, Any] = field(default_factory=dict)


def _pairs(present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item, aspect) index arrays of the present aspects, items in order."""
    items, kinds = np.nonzero(present)
    return items, kinds


def _train(
    cfg: ReliabilityConfig,
    basic: torch.Tensor,
    marker: torch.Tensor,
    aspect: torch.Tensor,
    present: np.ndarray,
    train_items: np.ndarray,
    centroid: torch.Tensor,
    seed: int,
    grounding: Grounding | None = None,
) -> RelationScorer:
    """A scorer trained (Eq. 12 plus shuffled negatives) on the present aspects of `train_items`."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_kinds = present.shape[1]
    model = RelationScorer(basic.shape[1], n_kinds, cfg.hidden, cfg.rank, 2 if grounding else 0)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    mask = np.zeros_like(present)
    mask[train_items] = present[train_items]
    items, kinds = _pairs(mask)
    by_kind = [np.flatnonzero(mask[:, k]) for k in range(n_kinds)]
    it, kt = torch.from_numpy(items), torch.from_numpy(kinds)
    own = _extra(grounding, items, items, kinds)
    for _ in range(cfg.epochs):
        others = _others(by_kind, items, kinds, rng)
        ot = torch.from_numpy(others)
        p, q = model.transform(basic[it], marker[it], kt)  # shared by the pair's two sides
        pos = model.head(p, q, basic[it], aspect[it, kt], centroid[kt], own)
        theirs = _extra(grounding, items, others, kinds)
        neg = model.head(p, q, basic[it], aspect[ot, kt], centroid[kt], theirs)
        j_pos = concrete(pos, cfg.tau, cfg.bias, gen)
        j_neg = concrete(neg, cfg.tau, cfg.bias, gen)
        loss = -(torch.log(j_pos + 1e-7).mean() + torch.log(1 - j_neg + 1e-7).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _extra(
    grounding: Grounding | None, items: np.ndarray, donors: np.ndarray, kinds: np.ndarray
) -> torch.Tensor | None:
    """The grounding features of the pairs (aspect `kinds` of `donors` against `items`), if any."""
    return None if grounding is None else torch.from_numpy(grounding.features(items, donors, kinds))


def _others(
    by_kind: list[np.ndarray], items: np.ndarray, kinds: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """For each (item, kind) pair, another item holding that kind, uniformly (the item itself only when
    it is the kind's sole holder): the same aspect of a film it does not belong to."""
    other = items.copy()
    for k, pool in enumerate(by_kind):
        rows = np.flatnonzero(kinds == k)
        if len(pool) < 2 or not len(rows):
            continue
        # draw among the pool minus the item itself: shift draws at or past the item's position by one
        draw = rng.integers(len(pool) - 1, size=len(rows))
        own = np.searchsorted(pool, items[rows])
        other[rows] = pool[draw + (draw >= own)]
    return other


def score(
    cfg: ReliabilityConfig,
    basic: np.ndarray,
    marker: np.ndarray,
    aspect: np.ndarray,
    present: np.ndarray,
    grounding: Grounding | None = None,
) -> np.ndarray:
    """J of every present (item, aspect) by cross-fitted scorers; nan where the aspect is missing.

    `basic`, `marker`: [n_items, d]; `aspect`: [n_items, n_aspects, d]; `present`: [n_items, n_aspects].
    """
    n_items = len(basic)
    b, m, a = (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for x in (basic, marker, aspect))
    counts = np.maximum(present.sum(axis=0), 1)
    centroid = torch.from_numpy((aspect * present[:, :, None]).sum(axis=0) / counts[:, None]).float()
    folds = np.random.default_rng(cfg.seed).permutation(n_items) % cfg.folds
    scores = np.full(present.shape, np.nan, dtype=np.float64)
    for f in range(cfg.folds):
        judged = np.flatnonzero(folds == f)
        train_items = np.flatnonzero(folds != f) if cfg.folds > 1 else judged
        model = _train(cfg, b, m, a, present, train_items, centroid, cfg.seed + f, grounding)
        sub = np.zeros_like(present)
        sub[judged] = present[judged]
        items, kinds = _pairs(sub)
        it, kt = torch.from_numpy(items), torch.from_numpy(kinds)
        gen = torch.Generator().manual_seed(cfg.seed + 99 + f) if cfg.noise_at_judgment else None
        with torch.no_grad():
            w = model(b[it], m[it], a[it, kt], kt, centroid, _extra(grounding, items, items, kinds))
            j = concrete(w, cfg.tau, cfg.bias, gen)
        scores[items, kinds] = j.numpy()
    return scores


def _set_similarity(members: list[np.ndarray], vector: np.ndarray, how: str) -> float:
    """sim(E, a) of Eq. 10: cosine of `vector` with the set's centroid, or with its closest member."""
    stack = np.stack(members)
    if how == "max":
        return float(
            (stack @ vector).max()
            / (np.linalg.norm(vector) + 1e-12)
            / (np.linalg.norm(stack, axis=1).max() + 1e-12)
        )
    centre = stack.mean(axis=0)
    return float(centre @ vector / ((np.linalg.norm(centre) * np.linalg.norm(vector)) + 1e-12))


def decide(cfg: ReliabilityConfig, scores: np.ndarray, aspect: np.ndarray, present: np.ndarray) -> GateResult:
    """Algorithm 1, lines 12-30, over items in order: fill the sets with theta, then theta and Delta."""
    n_items, n_kinds = present.shape
    kept = np.zeros(present.shape, dtype=bool)
    routes = np.zeros(present.shape, dtype=np.int64)  # 0 = missing
    retain: dict[int, list[np.ndarray]] = {}
    abandon: dict[int, list[np.ndarray]] = {}
    for i in range(n_items):
        for k in range(n_kinds):
            if not present[i, k]:
                continue
            j, vec, key = scores[i, k], aspect[i, k], k if cfg.per_kind else 0
            keep_set, drop_set = retain.setdefault(key, []), abandon.setdefault(key, [])
            reliable = bool(j >= cfg.theta)
            if not cfg.cosine:
                kept[i, k], routes[i, k] = reliable, ROUTES.index("theta")
            elif len(keep_set) < cfg.n_sets or len(drop_set) < cfg.n_sets:
                kept[i, k], routes[i, k] = reliable, ROUTES.index("fill")
                (keep_set if reliable else drop_set).append(vec)
            elif j >= cfg.sure:
                kept[i, k], routes[i, k] = True, ROUTES.index("sure")
            else:
                delta = _set_similarity(keep_set, vec, cfg.set_similarity) - _set_similarity(
                    drop_set, vec, cfg.set_similarity
                )
                kept[i, k], routes[i, k] = reliable and delta > 0, ROUTES.index("cosine")
    return GateResult(kept, scores, routes, _report(kept, routes, present))


def _report(kept: np.ndarray, routes: np.ndarray, present: np.ndarray) -> dict[str, Any]:
    """Counts for the audit: aspects present, kept, dropped per route, items left with none."""
    n_present = int(present.sum())
    by_route = {r: int(((routes == n) & present).sum()) for n, r in enumerate(ROUTES) if r != "missing"}
    dropped = {
        r: int(((routes == n) & present & ~kept).sum()) for n, r in enumerate(ROUTES) if r != "missing"
    }
    return {
        "aspects_present": n_present,
        "kept": int(kept.sum()),
        "kept_share": round(float(kept.sum()) / n_present, 4) if n_present else None,
        "decided_by": by_route,
        "dropped_by": dropped,
        "items_with_none_kept": int((present.any(axis=1) & ~kept.any(axis=1)).sum()),
    }


def run_gate(
    cfg: ReliabilityConfig,
    basic: np.ndarray,
    marker: np.ndarray,
    aspect: np.ndarray,
    present: np.ndarray,
    grounding: Grounding | None = None,
) -> GateResult:
    """Score every present aspect (cross-fitted; with grounding features when given) and decide by
    Algorithm 1."""
    if not present.any():
        return GateResult(
            present.copy(),
            np.full(present.shape, np.nan),
            np.zeros(present.shape, np.int64),
            _report(present, np.zeros(present.shape, np.int64), present),
        )
    scores = score(cfg, basic, marker, aspect, present, grounding)
    return decide(cfg, scores, aspect, present)


__all__ = [
    "ROUTES",
    "GateResult",
    "ReliabilityConfig",
    "RelationScorer",
    "concrete",
    "decide",
    "run_gate",
    "score",
]
