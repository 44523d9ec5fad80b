"""`AugmentConfig`: what the augmentation stage does and with which teacher. Defaults live here, once."""

from __future__ import annotations

from dataclasses import dataclass

from llmrec.errors import ConfigError

TEACHERS = ("local", "llm", "llmrec", "popularity", "simulated")
EDGE_MODES = ("listwise", "pointwise")


@dataclass(frozen=True)
class AugmentConfig:
    """Candidates, the three augmentations, text encoding and the audit of one augmentation run."""

    # local: no LLM | llm: the [llm] backend | llmrec: import LLMRec's files | popularity, simulated:
    # measurement teachers, no LLM (docs/teacher.md; simulated needs split.teacher_pool > 0)
    teacher: str = "local"
    simulated_quality: float = 0.0  # teacher "simulated": probability that its liked pick is a true one
    # llm teacher's edges question: listwise (one liked and one disliked among all candidates, one prompt
    # a user) or pointwise (one yes/no question per candidate, scored by the probability of "yes")
    edge_mode: str = "listwise"
    pointwise_top_logprobs: int = 5  # alternatives asked for with the first answer token (pointwise)
    # listwise: candidates in the base model's order (False) or shuffled per user with `seed`; asked in
    # 2 orders (shuffled, then reversed), only users whose two answers agree keep their edge
    shuffle_candidates: bool = False
    listwise_orders: int = 1
    import_dir: str = ""  # teacher "llmrec": folder holding LLMRec's released augmentation pickles
    base_model: str = ""  # `llmrec run` folder: model whose top-N are the candidates ("": best on valid)
    n_candidates: int = 10  # top-N of the base model, the user's training items excluded
    attributes: tuple[str, ...] = ("director", "country", "language")  # item attributes to fill in
    edges: bool = True  # implicit-feedback augmentation: one liked and one disliked candidate per user
    item_attributes: bool = True
    profiles: bool = True
    encode: bool = True  # text -> vectors for item attributes and profiles (item texts are always encoded)
    history_token_budget: int = 1024  # estimated tokens of a user's history in a prompt
    prompt_token_budget: int = 3072  # estimated tokens of a whole prompt; longer ones are not sent
    max_field_words: int = 12  # words kept of each metadata field (plot, cast...) of a candidate or item
    history_field_words: int = 4  # the same for history items: shorter, so more of the history fits
    encoder: str = "all-MiniLM-L6-v2"  # sentence-transformers name or path; "llm": [llm] embedding_model
    encode_batch: int = 64  # texts per encoder call
    vector_cache: str = "runs/vector_cache.sqlite"  # text vectors by content hash, shared between runs
    seed: int = 2024  # order of history items, the random baseline and the audit sample
    audit_samples: int = 3  # prompts shown with their answers in the audit, per augmentation

    def __post_init__(self) -> None:
        if self.teacher not in TEACHERS:
            raise ConfigError(f"augment.teacher: unknown teacher {self.teacher!r}; valid: {list(TEACHERS)}")
        if self.teacher == "llmrec" and not self.import_dir:
            raise ConfigError("augment.import_dir: the llmrec teacher needs the folder of LLMRec's files")
        if not 0.0 <= self.simulated_quality <= 1.0:
            raise ConfigError(f"augment.simulated_quality: must be in [0, 1], got {self.simulated_quality}")
        if self.edge_mode not in EDGE_MODES:
            raise ConfigError(
                f"augment.edge_mode: unknown mode {self.edge_mode!r}; valid: {list(EDGE_MODES)}"
            )
        if not 1 <= self.pointwise_top_logprobs <= 20:
            raise ConfigError(
                f"augment.pointwise_top_logprobs: must be 1 to 20, got {self.pointwise_top_logprobs}"
            )
        if self.listwise_orders not in (1, 2):
            raise ConfigError(f"augment.listwise_orders: 1 or 2, got {self.listwise_orders}")
        if self.n_candidates < 2:
            raise ConfigError(f"augment.n_candidates: must be at least 2, got {self.n_candidates}")
        sizes = ("history_token_budget", "prompt_token_budget", "max_field_words", "history_field_words")
        for name in (*sizes, "encode_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"augment.{name}: must be at least 1, got {getattr(self, name)}")
        if self.audit_samples < 0:
            raise ConfigError(f"augment.audit_samples: must not be negative, got {self.audit_samples}")
        bad = [a for a in self.attributes if not a.isidentifier() or a == "all"]
        if bad or len(set(self.attributes)) != len(self.attributes):
            # names become file names (item_attr_<name>.npy) and TSV columns; "all" is the combined file
            raise ConfigError(
                f"augment.attributes: need distinct identifiers other than 'all', got {list(self.attributes)}"
            )
