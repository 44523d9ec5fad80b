"""Prompts of the graph-aware transformer: token ids, graph nodes, relation blocks and targets.

Token ids share one space: words below `vocab`, then one token per user, then one per item. Every
prompt carries the relation block of its graph tokens (`RelationEncoder`, training graph only) and
the per-position next-token targets of its loss (-100 where there is none):

- item text ("item_j title : ... genres : ... director : ... plot : ..."): words after the item token
  (content LM loss);
- second order ("item_a item_b ... share the director X"): the words after the items;
- collaborative ("user_i has interacted with item_a item_b ..."): each item from the tokens before it
  (softmax over items only);
- personal ("user_i has interacted with <kept items> user_i will interact with"): no per-position
  target; its last position scores every item (fine-tuning and evaluation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from llmrec.gat.tokenizer import PAD, Tokenizer
from llmrec.graph_relations import CHANNELS, PromptNodes, RelationEncoder

IGNORE = -100
HISTORY_WORDS = "has interacted with"
TRIGGER_WORDS = "will interact with"
TEXT_FIELDS = ("title", "year", "genres", "director", "writer", "cast", "plot")  # in prompt order
# LLM-generated attributes (an augmentation's attributes.tsv) that the dataset has no column for: they
# join the item text, before the plot, only when the item metadata has them (gat/data.py)
ATTRIBUTE_FIELDS = ("country", "language")
TEMPLATE_WORDS = (HISTORY_WORDS, TRIGGER_WORDS, "share the", ":", ".", *TEXT_FIELDS)


@dataclass(frozen=True)
class Prompt:
    """One prompt: token ids, the relation-block node of each position (-1: a word) and targets."""

    tokens: np.ndarray  # int64 [T]
    node_at: np.ndarray  # int64 [T]
    rel: np.ndarray  # float32 [C, n, n] over the prompt's distinct graph nodes
    targets: np.ndarray  # int64 [T]: the next word (content) or item (collaborative) id, or IGNORE
    content: bool  # read with the content user/item tables (text prompts)


@dataclass
class Batch:
    """Prompts padded to one length, as tensors."""

    tokens: torch.Tensor  # [B, T]
    lengths: torch.Tensor  # [B]
    rel: torch.Tensor  # [B, C, T, T]
    targets: torch.Tensor  # [B, T]
    content: bool

    def to(self, device: torch.device) -> Batch:
        """The batch on `device`."""
        move = {k: getattr(self, k).to(device) for k in ("tokens", "lengths", "rel", "targets")}
        return Batch(**move, content=self.content)


class PromptBuilder:
    """Makes prompts for one tokenizer, id space, training graph and context length."""

    def __init__(
        self, tokenizer: Tokenizer, n_users: int, n_items: int, encoder: RelationEncoder, context: int
    ) -> None:
        self.tok, self.n_users, self.n_items = tokenizer, n_users, n_items
        self.encoder, self.context = encoder, context
        self._history = np.array(tokenizer.encode(HISTORY_WORDS), dtype=np.int64)
        self._trigger = np.array(tokenizer.encode(TRIGGER_WORDS), dtype=np.int64)
        # personal prompts: user + history words + items + user + trigger words
        self.max_items = context - 2 - len(self._history) - len(self._trigger)
        self.collab_room = context - 1 - len(self._history)  # items in a collaborative prompt
        if self.max_items < 1:
            raise ValueError(f"context {context} leaves no room for items in a personal prompt")

    def user_token(self, user: int) -> int:
        """The token id of user `user`."""
        return self.tok.size + user

    def item_tokens(self, items: np.ndarray) -> np.ndarray:
        """The token ids of items `items`."""
        return self.tok.size + self.n_users + np.asarray(items, dtype=np.int64)

    def _make(
        self,
        parts: Sequence[np.ndarray],
        users: np.ndarray,
        items: np.ndarray,
        targets: np.ndarray,
        content: bool,
        rel: np.ndarray | None = None,
    ) -> Prompt:
        """Assemble a prompt from token parts, its graph nodes and targets; the relations of its nodes
        (`rel`, when the caller has them: users first, then `items` in order)."""
        tokens = np.concatenate(parts).astype(np.int64)
        nodes = PromptNodes(np.unique(users), np.asarray(items, dtype=np.int64))
        node_at = np.full(len(tokens), -1, dtype=np.int64)
        is_user = (tokens >= self.tok.size) & (tokens < self.tok.size + self.n_users)
        is_item = tokens >= self.tok.size + self.n_users
        user_pos = {u: k for k, u in enumerate(nodes.users.tolist())}
        item_pos = {i: len(nodes.users) + k for k, i in enumerate(nodes.items.tolist())}
        node_at[is_user] = [user_pos[t - self.tok.size] for t in tokens[is_user].tolist()]
        node_at[is_item] = [item_pos[t - self.tok.size - self.n_users] for t in tokens[is_item].tolist()]
        rel = self.encoder.encode(nodes) if rel is None else rel
        return Prompt(tokens, node_at, rel, targets, content)

    def item_text(self, item: int, meta: pd.Series, max_words: int) -> Prompt | None:
        """'item_j title : ... genres : ...' with the LM loss on its words; None when it has no text."""
        fields = text_fields(meta.index)
        pieces = [f"{f} : {field_text(meta.get(f))} ." for f in fields if field_text(meta.get(f))]
        if not pieces:
            return None
        text = np.array(self.tok.encode(" ".join(pieces)), dtype=np.int64)[
            : min(self.context, max_words + 1) - 1
        ]
        tokens = [self.item_tokens(np.array([item])), text]
        targets = np.full(len(text) + 1, IGNORE, dtype=np.int64)
        targets[:-1] = text  # position p predicts the word at p + 1
        return self._make(tokens, np.array([], np.int64), np.array([item]), targets, content=True)

    def second_order(self, items: np.ndarray, attribute: str, value: str) -> Prompt:
        """'item_a item_b ... share the <attribute> <value>': the LM loss on the words after the items."""
        items = np.asarray(items, dtype=np.int64)[: self.context // 2]
        text = np.array(self.tok.encode(f"share the {attribute} {value}"), dtype=np.int64)
        text = text[: self.context - len(items)]
        targets = np.full(len(items) + len(text), IGNORE, dtype=np.int64)
        targets[len(items) - 1 : -1] = text
        return self._make([self.item_tokens(items), text], np.array([], np.int64), items, targets, True)

    def collaborative(self, user: int, items: np.ndarray, rel: np.ndarray | None = None) -> Prompt:
        """'user_i has interacted with item_a item_b ...': each item predicted from what precedes it
        (`rel`: the relations of [user, *items], when the caller has them)."""
        items = np.asarray(items, dtype=np.int64)[: self.collab_room]
        head = np.concatenate([[self.user_token(user)], self._history])
        targets = np.full(len(head) + len(items), IGNORE, dtype=np.int64)
        targets[len(head) - 1 : -1] = items
        if rel is not None:
            rel = rel[:, : len(items) + 1, : len(items) + 1]
        return self._make([head, self.item_tokens(items)], np.array([user]), items, targets, False, rel)

    def personal(self, user: int, items: np.ndarray, rel: np.ndarray | None = None) -> Prompt:
        """'user_i has interacted with <items> user_i will interact with' (at most `max_items` items;
        `rel`: the relations of [user, *items], when the caller has them)."""
        items = np.asarray(items, dtype=np.int64)
        if len(items) > self.max_items:
            raise ValueError(f"{len(items)} history items exceed the prompt's room for {self.max_items}")
        user_tok = np.array([self.user_token(user)])
        parts = [user_tok, self._history, self.item_tokens(items), user_tok, self._trigger]
        n = sum(len(p) for p in parts)
        return self._make(parts, np.array([user]), items, np.full(n, IGNORE, np.int64), False, rel)


def text_fields(columns: Iterable[str]) -> tuple[str, ...]:
    """The item-text fields, in prompt order, for metadata with these columns: TEXT_FIELDS, with the
    ATTRIBUTE_FIELDS it has placed before the plot."""
    present = set(columns)
    extra = tuple(f for f in ATTRIBUTE_FIELDS if f in present)
    return (*TEXT_FIELDS[:-1], *extra, TEXT_FIELDS[-1])


def field_text(value: object) -> str:
    """A metadata value as prompt text ('' for missing; genres' '|' read as commas)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).replace("|", ", ").strip()


def collate(prompts: Sequence[Prompt], zero_relations: Sequence[int] = ()) -> Batch:
    """Pad prompts to one length; scatter each relation block onto its graph positions. Channels in
    `zero_relations` are left at zero (ablations)."""
    t = max(len(p.tokens) for p in prompts)
    b, c = len(prompts), len(CHANNELS)
    tokens = np.full((b, t), PAD, dtype=np.int64)
    targets = np.full((b, t), IGNORE, dtype=np.int64)
    rel = np.zeros((b, c, t, t), dtype=np.float32)
    for k, p in enumerate(prompts):
        n = len(p.tokens)
        tokens[k, :n], targets[k, :n] = p.tokens, p.targets
        pos = np.flatnonzero(p.node_at >= 0)
        nodes = p.node_at[pos]
        rel[k][:, pos[:, None], pos[None, :]] = p.rel[:, nodes[:, None], nodes[None, :]]
    rel[:, list(zero_relations)] = 0.0
    lengths = np.array([len(p.tokens) for p in prompts], dtype=np.int64)
    return Batch(
        torch.from_numpy(tokens),
        torch.from_numpy(lengths),
        torch.from_numpy(rel),
        torch.from_numpy(targets),
        prompts[0].content,
    )


__all__ = ["IGNORE", "TEMPLATE_WORDS", "Batch", "Prompt", "PromptBuilder", "collate"]
