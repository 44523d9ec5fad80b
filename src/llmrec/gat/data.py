"""What both training stages read: the tokenizer, prompt builder, fixed text prompts and histories.

Truncation rule (declared, counted): a user's prompt history holds at most `PromptBuilder.max_items`
items. Evaluation prompts use a fixed random subset of that size, drawn with the run's seed;
training prompts draw a fresh subset every epoch, so every training item is seen over the epochs.
Users without a training item get no training prompt and an evaluation prompt with an empty
history (counted as `empty_histories`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from llmrec.errors import ConfigError
from llmrec.gat.config import GatConfig
from llmrec.gat.prompts import (
    ATTRIBUTE_FIELDS,
    TEMPLATE_WORDS,
    TEXT_FIELDS,
    Prompt,
    PromptBuilder,
    field_text,
    text_fields,
)
from llmrec.gat.tokenizer import Tokenizer, WordTokenizer, gpt2_tokenizer
from llmrec.graph_relations import PromptNodes, RelationEncoder
from llmrec.models.graph_transformer import gpt2_state

GROUP_FIELDS = ("genres", "director", "writer")  # second-order prompts: items sharing one of these


@dataclass
class GatData:
    """The prompts and histories of one split (training graph only) under one config and seed."""

    builder: PromptBuilder
    train: sp.csr_matrix  # users x items, the training interactions
    eval_history: list[np.ndarray]  # per user: the fixed prompt history of evaluation prompts
    content_prompts: list[Prompt]  # item text and second-order prompts
    counts: dict[str, int] = field(default_factory=dict)
    gpt2: dict | None = None  # backbone weights of a GPT-2 checkpoint, when one is configured
    _blocks: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def history(self, user: int) -> np.ndarray:
        """All training items of `user` (sorted)."""
        return self.train.indices[self.train.indptr[user] : self.train.indptr[user + 1]]

    def relations(self, user: int, items: np.ndarray) -> np.ndarray:
        """Relations of [user, *items] for items of the user's training history, sliced from the
        user's whole-history block (encoded once, then cached: prompts redraw subsets every epoch)."""
        if user not in self._blocks:
            self._blocks[user] = self.builder.encoder.encode(
                PromptNodes(np.array([user]), self.history(user))
            )
        at = np.concatenate([[0], 1 + np.searchsorted(self.history(user), items)])
        block = self._blocks[user]
        return block[:, at[:, None], at[None, :]]


def item_texts(item_meta: pd.DataFrame | None) -> list[str]:
    """Every item's metadata as one text per item (the tokenizer's corpus)."""
    if item_meta is None:
        return []
    fields = text_fields(item_meta.columns)
    return [" ".join(field_text(row.get(f)) for f in fields) for _, row in item_meta.iterrows()]


def with_attributes(
    item_meta: pd.DataFrame | None, attributes: pd.DataFrame, item_ids: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The item metadata with an augmentation's generated attributes filled in where the dataset has
    no value (never over one it has), and how many values each column gained.

    `attributes`: attributes.tsv (`item_id` plus one column per attribute; `*_source` and `teacher`
    columns are bookkeeping); `item_ids`: the raw id of each internal item, the metadata's row order.
    Only the item-text fields (TEXT_FIELDS and ATTRIBUTE_FIELDS) are taken.
    """
    meta = pd.DataFrame(index=range(len(item_ids))) if item_meta is None else item_meta.copy()
    by_id = attributes.drop_duplicates("item_id").set_index("item_id")
    rows = by_id.reindex([str(i) for i in item_ids])
    filled: dict[str, int] = {}
    for column in (*TEXT_FIELDS, *ATTRIBUTE_FIELDS):
        if column not in rows.columns:
            continue
        given = rows[column].fillna("").astype(str).str.strip().to_numpy()
        given[np.isin(np.char.lower(given.astype(str)), ["unknown", "n/a", "none", "nan"])] = ""
        new_column = column not in meta
        if new_column:
            meta[column] = None
        old = meta[column].map(field_text).to_numpy(dtype=object)
        take = (old == "") & (given != "")
        if take.any():
            meta[column] = np.where(take, given, meta[column])
        elif new_column:  # a column of nothing would still add its name to the prompts
            meta = meta.drop(columns=column)
        filled[column] = int(take.sum())
    return meta, filled


def make_tokenizer(cfg: GatConfig, item_meta: pd.DataFrame | None) -> tuple[Tokenizer, dict | None]:
    """The word tokenizer (from a GPT-2 checkpoint folder, else built from the item text) and the
    checkpoint's backbone weights (None without one)."""
    if cfg.checkpoint:
        path = Path(cfg.checkpoint).expanduser()
        try:
            state, rows = gpt2_state(path, cfg.model())
            return gpt2_tokenizer(path, rows), state
        except ValueError as exc:
            raise ConfigError(f"graph_transformer.checkpoint: {exc}") from None
    texts = item_texts(item_meta)
    extra = () if item_meta is None else tuple(f for f in ATTRIBUTE_FIELDS if f in item_meta.columns)
    return WordTokenizer.build(texts, (*TEMPLATE_WORDS, *extra), cfg.min_word_count, cfg.max_vocab), None


def build_data(train: sp.csr_matrix, item_meta: pd.DataFrame | None, cfg: GatConfig, seed: int) -> GatData:
    """Tokenizer, relation encoder (on `train` only), fixed prompts and evaluation histories."""
    train = sp.csr_matrix(train, dtype=np.float32)
    train.sort_indices()
    n_users, n_items = train.shape
    if item_meta is not None and len(item_meta) != n_items:
        raise ValueError(f"item metadata has {len(item_meta)} rows for {n_items} items")
    tokenizer, gpt2 = make_tokenizer(cfg, item_meta)
    encoder = RelationEncoder(train, cfg.max_hops)
    builder = PromptBuilder(tokenizer, n_users, n_items, encoder, cfg.context)
    rng = np.random.default_rng(seed)
    data = GatData(builder, train, [], [], gpt2=gpt2)
    lengths = np.diff(train.indptr)
    for u in range(n_users):
        items = rng.permutation(data.history(u))
        data.eval_history.append(np.sort(items[: builder.max_items]))
    data.counts = {
        "users": n_users,
        "empty_histories": int((lengths == 0).sum()),
        "truncated_histories": int((lengths > builder.max_items).sum()),
        "max_prompt_items": builder.max_items,
        "vocab": tokenizer.size,
    }
    if item_meta is not None and cfg.item_text:
        for i, (_, row) in enumerate(item_meta.iterrows()):
            prompt = builder.item_text(i, row, cfg.text_tokens)
            if prompt is not None:
                data.content_prompts.append(prompt)
    data.counts["item_text_prompts"] = len(data.content_prompts)
    if item_meta is not None and cfg.second_order:
        for attribute, value, items in shared_groups(item_meta):
            for start in range(0, len(items), cfg.group_size):
                chunk = rng.permutation(items)[start : start + cfg.group_size]
                if len(chunk) >= 2:
                    data.content_prompts.append(builder.second_order(chunk, attribute, value))
    data.counts["second_order_prompts"] = len(data.content_prompts) - data.counts["item_text_prompts"]
    return data


def shared_groups(item_meta: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(attribute, value, items) for every genre / director / writer that two or more items share."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for attribute in GROUP_FIELDS:
        if attribute not in item_meta:
            continue
        sep = "|" if attribute == "genres" else ","
        for i, value in enumerate(item_meta[attribute].tolist()):
            for name in str(value or "").split(sep):
                name = name.strip()
                if name and name.lower() not in ("unknown", "n/a", "nan", "<na>"):
                    groups[(attribute.rstrip("s"), name)].append(i)
    return [(a, v, np.array(items)) for (a, v), items in sorted(groups.items()) if len(items) >= 2]


def training_subset(history: np.ndarray, room: int, rng: np.random.Generator) -> np.ndarray:
    """A fresh random order of `history`, cut to `room` items (the training truncation rule)."""
    return rng.permutation(history)[:room]


__all__ = ["GatData", "build_data", "item_texts", "make_tokenizer", "shared_groups", "training_subset"]
