"""What every model shares: the graph it is handed, its side features, and its declared capabilities.

Models are torch only. The concrete graph is built in `llmrec.graph`; models see it through the
`GraphLike` protocol, so they are typed without importing it. What a model can do is declared in its
`capabilities`, never probed with `hasattr`: the training loop, the planner and the CLI read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
import torch


@dataclass(frozen=True, eq=False)
class SideFeatures:
    """Named dense feature matrices of users (n_users rows) and of items (n_items rows).

    They travel with the graph (`GraphLike.features`) rather than the model: like the edges they are
    data, so the constructor keeps taking plain numbers and training / evaluation pass them on unchanged.
    Insertion order matters: the k-th matrix feeds a feature-aware model's k-th projection of its side.
    """

    user: Mapping[str, torch.Tensor] = field(default_factory=dict)
    item: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for side, feats in (("user", self.user), ("item", self.item)):
            for name, x in feats.items():
                if x.ndim != 2 or not x.is_floating_point():
                    raise ValueError(
                        f"{side} feature {name!r} must be a 2-D float matrix, got {tuple(x.shape)}"
                    )
                if not torch.isfinite(x).all():
                    raise ValueError(f"{side} feature {name!r} contains NaN or infinite values")


class GraphLike(Protocol):
    """The user-item graph a model propagates over (`llmrec.graph.Graph` is the implementation).

    `adj` is the symmetric normalised (n_users + n_items) square adjacency as a torch sparse CSR
    tensor, users first; `user_items` the binary users x items edges it was built from (train plus any
    extra edges), read by models that rebuild or refit from raw edges (SGL's views, GF-CF).
    """

    @property
    def adj(self) -> torch.Tensor: ...

    @property
    def n_users(self) -> int: ...

    @property
    def n_items(self) -> int: ...

    @property
    def user_items(self) -> sp.csr_matrix: ...

    @property
    def features(self) -> SideFeatures | None: ...


@dataclass(frozen=True)
class Capabilities:
    """What a model declares it can do; read by training, planning and the run checks.

    - `graph`: it propagates over a `GraphLike` (so it also takes extra, e.g. augmented, edges in it).
    - `closed_form`: it is solved by `fit(user_items)` instead of trained by gradient (GF-CF, popularity).
    - `hard_negatives`: its `loss` takes [B, K] negative candidates and trains on the hardest (DNS).
    - `augmented_triples`: its `loss` takes a batch of six tensors, augmented (u, i+, i-) after the
      original three (LLMRec's pruned augmented BPR).
    - `side_features`: it reads `GraphLike.features` and is built with their widths.
    - `epoch_views`: it draws random views of the graph before each epoch, in
      `start_epoch(graph, generator)` (SGL's edge dropout), from a stream the checkpoint keeps.
    - `embeddings`: its scores are dot products of the user and item vectors `embed(graph)` returns,
      so evaluation can screen them and serving can index them.
    - `rating`: it predicts explicit ratings of (user, item) pairs, `predict(users, items, ...)`, and
      is trained by `loss(batch)` on (users, items, ratings[, attribute slots]) (`llmrec.tasks.rating`);
      it scores no item lists and lives in `RATING_MODELS`, not `MODELS`.
    - `sequential`: it reads time-ordered item sequences, not a graph: `loss` takes (inputs, positives,
      negatives) padded sequences and `score(users, seqs)` all users' padded histories; it is trained
      by the sequential task (`llmrec.seqtrain`), never by the BPR loop.
    """

    graph: bool = False
    closed_form: bool = False
    hard_negatives: bool = False
    augmented_triples: bool = False
    side_features: bool = False
    epoch_views: bool = False
    embeddings: bool = False
    rating: bool = False
    sequential: bool = False

    def names(self) -> list[str]:
        """The capabilities that are on, for listings."""
        return [name for name, on in vars(self).items() if on]


@runtime_checkable
class Scorer(Protocol):
    """What every model offers: scores of every item for a batch of users."""

    def score(self, users: torch.Tensor, graph: Any) -> torch.Tensor:
        """[len(users), n_items] scores."""
        ...


class Trainable(Scorer, Protocol):
    """A model trained by `train.fit`: a differentiable loss on (users, positives, negatives)."""

    def loss(self, batch: tuple[torch.Tensor, ...], graph: Any) -> torch.Tensor:
        """Scalar training loss of one batch."""
        ...


class ClosedForm(Scorer, Protocol):
    """A model solved from the training edges in one call (`capabilities.closed_form`)."""

    def fit(self, user_items: sp.csr_matrix) -> Any:
        """Solve from a binary users x items matrix; returns self."""
        ...


class RatingModel(Protocol):
    """A model with the `rating` capability: predicted ratings of (user, item) pairs, and its loss."""

    def predict(
        self, users: torch.Tensor, items: torch.Tensor, attributes: torch.Tensor | None = None
    ) -> torch.Tensor:
        """[B] predicted ratings (the model ignores `attributes` when it has no attribute fields)."""
        ...

    def loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Scalar training loss of (users, items, ratings[, attribute slots])."""
        ...


class Embedder(Scorer, Protocol):
    """A model with the `embeddings` capability."""

    def embed(self, graph: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """User and item vectors whose dot products are the scores."""
        ...


class EpochViews(Protocol):
    """A model with the `epoch_views` capability."""

    def start_epoch(self, graph: GraphLike, generator: np.random.Generator) -> None:
        """Draw this epoch's views of `graph`."""
        ...


def capabilities_of(model: Any) -> Capabilities:
    """A model's (or model class's) declared `capabilities`; a model that declares none is a bug."""
    caps = getattr(model, "capabilities", None)
    if not isinstance(caps, Capabilities):
        name = model.__name__ if isinstance(model, type) else type(model).__name__
        raise TypeError(f"{name} declares no `capabilities = Capabilities(...)` class attribute")
    return caps


__all__ = [
    "Capabilities",
    "ClosedForm",
    "Embedder",
    "EpochViews",
    "GraphLike",
    "RatingModel",
    "Scorer",
    "SideFeatures",
    "Trainable",
    "capabilities_of",
]
