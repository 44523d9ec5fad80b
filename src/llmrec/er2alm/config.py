"""`ER2ALMConfig`, the `[er2alm]` table: every choice the paper leaves open is a knob here (docs/er2alm.md).

Shared settings come from `[augment]`: the encoder and its vector cache, the number of candidates of
the base model, the history and prompt token budgets, the audit sample and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmrec.er2alm.prompts import DEFAULT_ASPECTS
from llmrec.er2alm.reliability import ReliabilityConfig
from llmrec.errors import ConfigError

TEACHERS = ("local", "llm")
CORPUS_FORMATS = ("imdb", "melu")
ITEM_POOLING = ("mean", "concat")


@dataclass(frozen=True)
class ER2ALMConfig:
    """[er2alm]: retrieval, supplement, user analysis, embedding, gate and training inputs."""

    teacher: str = "local"  # local: the labelled no-LLM teacher | llm: the [llm] backend
    # retrieval (Eq. 1's R and A)
    retrieval: bool = (
        True  # off: no passage in the prompt (the no-LLM teacher then has only basic attributes)
    )
    corpus: str = "ml-100k-imdb-details/movielens100k_details.csv"  # absolute, or under a data directory
    corpus_format: str = "imdb"  # imdb | melu (the column presets of llmrec.retrieval)
    retrieval_mode: str = "hybrid"  # hybrid | lexical | dense
    passage_words: int = 220  # words of the passage shown in the prompt
    # supplement and analysis
    aspects: tuple[str, ...] = DEFAULT_ASPECTS
    fallback_weight: float = 0.5  # the weight of an aspect whose LLM weight is unusable
    # what the model trains on (the ablations of Table 4)
    item_info: bool = True  # the gated item aspects as an item feature
    basic_text: bool = True  # the basic attributes' vector as an item feature
    profiles: bool = True  # the weighted user profile (Eq. 5) as a user feature
    weights: bool = True  # personalised weights (off: every aspect weighs the same)
    edges: bool = True  # LLM-picked (user, liked, disliked) triples of the base model's candidates
    eta: float = 0.1  # Table 2: ceil(2 |U| eta) augmented edges, half liked, half disliked
    item_pooling: str = "mean"  # kept aspect vectors -> one item vector: mean | concat (zeros where dropped)
    # noise control (Sec. 3.4): the reliability gate's knobs
    gate: bool = True
    gate_markers: str = "basic+passage"  # trusted markers: basic | basic+passage
    gate_tau: float = 0.4
    gate_theta: float = 0.4
    gate_sure: float = 0.9
    gate_n: int = 500
    gate_cosine: bool = True
    gate_folds: int = 3
    gate_epochs: int = 80
    gate_per_kind: bool = True
    gate_rank: int = 16  # rank of each relation map's correction to the identity
    gate_hidden: int = 64
    gate_similarity: str = "centroid"  # sim(E, a) of Eq. 10: centroid | max
    gate_noise_at_judgment: bool = False  # draw Eq. 7's eps when judging too (off: eps = 1/2)
    # the gate also reads how much of each aspect the item's basic attributes and passage name (our
    # addition, er2alm/grounding.py; off: the paper's vector-only Eq. 6)
    gate_grounding: bool = True

    def __post_init__(self) -> None:
        if self.teacher not in TEACHERS:
            raise ConfigError(f"er2alm.teacher: unknown teacher {self.teacher!r}; valid: {list(TEACHERS)}")
        if self.corpus_format not in CORPUS_FORMATS:
            raise ConfigError(f"er2alm.corpus_format: {self.corpus_format!r}; valid: {list(CORPUS_FORMATS)}")
        if self.retrieval_mode not in ("hybrid", "lexical", "dense"):
            raise ConfigError(f"er2alm.retrieval_mode: {self.retrieval_mode!r}; valid: hybrid lexical dense")
        if self.item_pooling not in ITEM_POOLING:
            raise ConfigError(f"er2alm.item_pooling: {self.item_pooling!r}; valid: {list(ITEM_POOLING)}")
        if self.gate_markers not in ("basic", "basic+passage"):
            raise ConfigError(
                f"er2alm.gate_markers: {self.gate_markers!r}; valid: ['basic', 'basic+passage']"
            )
        if not self.aspects or len(set(self.aspects)) != len(self.aspects):
            raise ConfigError(f"er2alm.aspects: need distinct names, got {list(self.aspects)}")
        if not 0 < self.fallback_weight < 1:
            raise ConfigError(f"er2alm.fallback_weight must be in (0, 1), got {self.fallback_weight}")
        if not 0 <= self.eta <= 1:
            raise ConfigError(f"er2alm.eta must be in [0, 1], got {self.eta}")
        if self.passage_words < 1:
            raise ConfigError(f"er2alm.passage_words must be at least 1, got {self.passage_words}")
        self.reliability()  # its own checks, with the same names

    def reliability(self) -> ReliabilityConfig:
        """The gate's knobs as `ReliabilityConfig`."""
        return ReliabilityConfig(
            tau=self.gate_tau,
            theta=self.gate_theta,
            sure=min(max(self.gate_sure, self.gate_theta), 1.0),
            n_sets=self.gate_n,
            cosine=self.gate_cosine,
            folds=self.gate_folds,
            epochs=self.gate_epochs,
            per_kind=self.gate_per_kind,
            rank=self.gate_rank,
            hidden=self.gate_hidden,
            set_similarity=self.gate_similarity,
            noise_at_judgment=self.gate_noise_at_judgment,
        )


__all__ = ["CORPUS_FORMATS", "ER2ALMConfig", "TEACHERS"]
