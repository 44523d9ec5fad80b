"""`Llama4RecConfig`: every knob of Llama4Rec's direct recommendation, with its default, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from llmrec.errors import ConfigError

UTILITIES = ("linear", "log")
CUTOFFS = ("inside", "outside")  # alpha_u = alpha1 * max(depth, alpha2) | max(alpha1 * depth, alpha2)
PAIR_SOURCES = ("candidates", "unseen")
RERANKERS = ("local", "llm")
AGGREGATIONS = ("adaptive", "fixed", "llm", "base")
ALPHA_GRID = (0.1, 0.3, 0.5, 0.7, 0.9)  # the grid alpha1 and alpha2 are chosen from on validation


@dataclass(frozen=True)
class Llama4RecConfig:
    """[llama4rec]: the base model, the reranker, candidates, prompts, aggregation, alpha selection,
    the no-LLM reranker and pair augmentation.

    Where the paper leaves a choice open, the default is ours and docs/llama4rec.md says why.
    """

    # The method's parts
    base: str = ""  # the conventional model reranked: a baseline of the run ("": the best on validation)
    reranker: str = "local"  # local: the labelled no-LLM reranker | llm: the [llm] backend
    # adaptive: alpha_u from the long-tail coefficient (Eqs. 5-7) | fixed: one alpha for every user |
    # llm: the reranker's order alone | base: the conventional order (a check: equals the base model)
    aggregation: str = "adaptive"
    # mutual augmentation: the reranker judges item pairs per user and the base model is retrained on
    # the (u, i+, i-) winners with its training data (a row of its own, "llama4rec-base")
    augment_base: bool = False
    # Candidates and prompt augmentation
    n_candidates: int = 20  # k': the conventional model's top-k' items the reranker orders
    history_items: int = 30  # of the user's training items, at most this many titles in a prompt
    similar_items: int = 10  # of the most similar user's training items, at most this many
    similar_exclude_shared: bool = True  # show only the similar user's items this user has not seen
    shuffle_candidates: bool = True  # list candidates in a seeded random order, not the model's
    show_base_ranking: bool = True  # state the conventional model's ranking in the prompt
    noun: str = "movie"  # what an item is called in prompts
    # Adaptive aggregation: U = alpha_u U_LLM + (1 - alpha_u) U_Rec over the candidates
    utility: str = "linear"  # linear: (k' - r) / k'; log: 1 / log2(r + 2); r = 0-based rank
    alpha1: float = 0.5  # used until `choose_alpha` picks alpha1 and alpha2 on validation
    alpha2: float = 0.1
    # where the cut-off alpha2 applies; the paper's Eq. 7 is garbled in the text we could read, and
    # both forms fit its description (alpha2 < 1 a cut-off, alpha_u falling with activity)
    alpha_cutoff: str = "inside"
    alpha_grid: tuple[float, ...] = ALPHA_GRID
    select_metric: str = "ndcg@5"  # validation metric that chooses (alpha1, alpha2)
    ks: tuple[int, ...] = (3, 5, 10, 20)  # cut-offs reported (the paper's 3 and 5, plus 10 and 20)
    activity_groups: int = 4  # users split by training-interaction count into this many groups
    # The no-LLM reranker: cosine to the user's history plus this weight times cosine to the similar
    # user's history (item text vectors, e.g. MiniLM through llmrec.encode)
    local_similar_weight: float = 0.5
    # Pair augmentation (the LLM -> conventional model direction)
    pairs_per_user: int = 1  # pairs asked about per user, each a (u, i+, i-) triple
    # where pairs are drawn: "candidates" (the conventional top-k': pairs near the decision boundary)
    # or "unseen" (any two items the user has not trained on, the paper's "randomly select pairs")
    pair_source: str = "candidates"
    seed: int = 2024  # history order, candidate display order, pair draws, audit samples
    audit_samples: int = 3  # prompts kept with their answers in each audit

    def __post_init__(self) -> None:
        if self.reranker not in RERANKERS:
            raise ConfigError(f"llama4rec.reranker: {self.reranker!r} is not one of {list(RERANKERS)}")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(
                f"llama4rec.aggregation: {self.aggregation!r} is not one of {list(AGGREGATIONS)}"
            )
        if self.n_candidates < 2:
            raise ConfigError(f"llama4rec.n_candidates: a ranking needs at least 2, got {self.n_candidates}")
        for name in ("history_items", "similar_items", "pairs_per_user", "audit_samples"):
            if getattr(self, name) < 0:
                raise ConfigError(f"llama4rec.{name}: must not be negative, got {getattr(self, name)}")
        if self.history_items < 1:
            raise ConfigError("llama4rec.history_items: a prompt needs at least one history item")
        if self.utility not in UTILITIES:
            raise ConfigError(
                f"llama4rec.utility: unknown utility {self.utility!r}; valid: {list(UTILITIES)}"
            )
        if self.alpha_cutoff not in CUTOFFS:
            raise ConfigError(f"llama4rec.alpha_cutoff: {self.alpha_cutoff!r} is not one of {list(CUTOFFS)}")
        if self.pair_source not in PAIR_SOURCES:
            raise ConfigError(
                f"llama4rec.pair_source: {self.pair_source!r} is not one of {list(PAIR_SOURCES)}"
            )
        for value in (self.alpha1, self.alpha2, *self.alpha_grid):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"llama4rec alpha values must lie in [0, 1], got {value}")
        if not self.alpha_grid:
            raise ConfigError("llama4rec.alpha_grid: needs at least one value")
        name, _, k = self.select_metric.partition("@")
        if name not in ("recall", "ndcg", "hit", "precision", "mrr") or not k.isdigit():
            raise ConfigError(f"llama4rec.select_metric: expected e.g. 'ndcg@5', got {self.select_metric!r}")
        if not self.ks or min(self.ks) < 1:
            raise ConfigError(f"llama4rec.ks: expected positive cut-offs, got {self.ks}")
        if self.activity_groups < 1:
            raise ConfigError(f"llama4rec.activity_groups: must be at least 1, got {self.activity_groups}")
        if self.local_similar_weight < 0:
            raise ConfigError(
                f"llama4rec.local_similar_weight: must not be negative, got {self.local_similar_weight}"
            )

    @property
    def list_length(self) -> int:
        """How long the final lists must be: the candidates, or the largest cut-off if that is longer."""
        k_select = int(self.select_metric.partition("@")[2])
        return max(self.n_candidates, *self.ks, k_select)
