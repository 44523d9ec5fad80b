"""[graph_transformer]: the graph-aware transformer's shape, relations, prompts and both training stages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmrec.errors import ConfigError
from llmrec.graph_relations import CHANNELS, MAX_HOPS
from llmrec.models.graph_transformer import GraphTransformerConfig


@dataclass(frozen=True)
class GatConfig:
    """Every knob of method graph_transformer; defaults are the small CPU configuration."""

    # transformer (ignored shape knobs must match a checkpoint's, which is checked)
    n_layers: int = 2
    dim: int = 64
    n_heads: int = 4
    context: int = 64  # tokens per prompt; longer histories are truncated (see `history_rule`)
    dropout: float = 0.1
    checkpoint: str = ""  # a local GPT-2-family folder (config.json + weights + tokenizer); "" random init
    # relation encoding (training graph only)
    graph_bias: bool = True  # the additive attention bias; False: a plain transformer
    max_hops: int = 2  # shortest-path proximity cap (1 to 3)
    cooccurrence: bool = True  # the channel that varies inside one user's prompt
    # word vocabulary (random init only)
    min_word_count: int = 2
    max_vocab: int = 3000
    text_tokens: int = 32  # words of an item text prompt (title, year, genres, director, ... plot last)
    # pre-training on crowd prompts
    pretrain: bool = True
    pretrain_epochs: int = 10
    item_text: bool = True  # item text prompts (title, genres, director, plot ...)
    # LLM-generated attributes for the item text, where the dataset has no value: "auto" reads the
    # run's own augmentation (an llmrec method earlier in the run, or RUN_DIR/augment) when there is
    # one; a path names an augmentation folder (`llmrec augment`); "off" never
    attributes: str = "auto"
    second_order: bool = True  # items sharing a genre / director / writer
    group_size: int = 8  # items per second-order prompt
    mutual_weight: float = 0.01  # mutual regularisation between content and collaborative embeddings
    # fine-tuning on personal prompts
    finetune_epochs: int = 40
    mask_ratio: float = 0.25  # share of the prompt history hidden and predicted
    patience: int = 5  # evaluations without a better validation metric before stopping
    # optimisation
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    eval_batch_size: int = 256
    # CPU threads while training (0: torch's default). On a shared machine one thread is several
    # times faster than two contending ones (measured on ML-100K: 1.0 s against 5-10 s a step).
    threads: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.max_hops <= MAX_HOPS:
            raise ConfigError(f"graph_transformer.max_hops must be 1 to {MAX_HOPS}, got {self.max_hops}")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ConfigError(f"graph_transformer.mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.mutual_weight < 0 or self.pretrain_epochs < 0 or self.finetune_epochs < 1:
            raise ConfigError("graph_transformer: mutual_weight, pretrain_epochs >= 0; finetune_epochs >= 1")
        if self.batch_size < 1 or self.group_size < 2:
            raise ConfigError("graph_transformer: batch_size >= 1 and group_size >= 2")
        if self.checkpoint and not Path(self.checkpoint).expanduser().is_dir():
            raise ConfigError(f"graph_transformer.checkpoint: {self.checkpoint} is not a folder")
        try:
            self.model()
        except ValueError as exc:
            raise ConfigError(f"graph_transformer: {exc}") from exc

    def model(self) -> GraphTransformerConfig:
        """The transformer's own config."""
        n_relations = len(CHANNELS) if self.graph_bias else 0
        return GraphTransformerConfig(
            self.n_layers, self.dim, self.n_heads, self.context, self.dropout, n_relations
        )

    def zero_channels(self) -> tuple[int, ...]:
        """Relation channels switched off."""
        return () if self.cooccurrence else (CHANNELS.index("cooccurrence"),)


__all__ = ["GatConfig"]
