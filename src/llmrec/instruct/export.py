"""Instruction-tuning data: the prompts llmrec sends, answered from training interactions alone.

Three tasks, each in the exact wording its consumer sends (the same template functions):

- `listwise`: `llmrec.rerank`'s listwise prompt. Some of each user's training items are held out
  (`hold_out`); they are placed among candidates drawn from items the user has in no split, and the
  answer ranks them first, then the rest in the conventional order the prompt states;
- `pairs`: `llmrec.rerank`'s pair prompt, a held-out item against an item the user has in no split;
  the answer is the held-out item's letter;
- `attributes`: `llmrec.augment`'s attribute prompt for an item, its metadata values as the answer
  (JSON that `llmrec.augment.parsers.parse_attributes` reads back to the same values).

Validation and test interactions are never shown or answered: a user's history and answers come
from their training items, negatives come from items outside every split of that user, and the
similar user's section leaves out this user's validation and test items. The model the run trained
is not used either: it has seen the held-out pairs, so its ranking would give the answer away; the
prompt's "conventional ranking" is popularity over the training interactions that are still visible,
and the most similar user is the nearest by cosine over those visible rows.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from llmrec.atomic import atomic_write, write_json
from llmrec.augment.parsers import normalise_value
from llmrec.augment.prompts import ATTRIBUTES_TEMPLATE, attributes_prompt, chat, item_line
from llmrec.errors import ConfigError
from llmrec.rerank.candidates import NO_ITEM, NO_USER
from llmrec.rerank.config import Llama4RecConfig
from llmrec.rerank.listwise import similar_history
from llmrec.rerank.prompts import (
    LISTWISE_TEMPLATE,
    PAIR_TEMPLATE,
    SEPARATOR,
    display_order,
    listwise_prompt,
    pair_prompt,
    pick,
    short_ids,
)
from llmrec.rerank.texts import ItemTexts

TASKS = ("listwise", "pairs", "attributes")


@dataclass(frozen=True)
class ExportConfig:
    """What is exported and how much of each user's training history is held out as answers."""

    tasks: tuple[str, ...] = TASKS
    max_per_task: int = 0  # at most this many examples of each task (a seeded sample); 0: all
    seed: int = 2024  # hold-outs, negatives, A/B sides, candidate listing order, the sample
    holdout_share: float = 0.1  # of a user's training items held out as answers (at least one)...
    max_holdout: int = 5  # ...and at most this many, so that candidates stay mostly negatives
    # what `llmrec augment` asks for by default, plus what every MovieLens item has
    attributes: tuple[str, ...] = ("director", "country", "language", "genres", "year")
    max_field_words: int = 12  # augment.max_field_words: words kept of each field of an item line
    attribute_noun: str = "movie"  # what augment calls an item (augment.prompts.item_noun)

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ConfigError(f"instruct tasks: {unknown or 'none'} given; valid: {', '.join(TASKS)}")
        if self.max_per_task < 0 or self.max_holdout < 1 or self.max_field_words < 1:
            raise ConfigError("instruct: max_per_task >= 0, max_holdout >= 1 and max_field_words >= 1")
        if not 0.0 < self.holdout_share < 1.0:
            raise ConfigError(f"instruct.holdout_share: must lie in (0, 1), got {self.holdout_share}")


@dataclass(frozen=True)
class Example:
    """One chat example; `user` / `item`: whom or what it is about (NO_USER / NO_ITEM: nobody, none)."""

    task: str
    user: int
    item: int
    messages: list[dict[str, str]]


@dataclass
class ExportResult:
    """The examples, each user's held-out training items (internal indices) and the counts."""

    examples: list[Example]
    held_out: list[np.ndarray]
    counts: dict[str, Any] = field(default_factory=dict)


def hold_out(train: sp.csr_matrix, cfg: ExportConfig) -> tuple[sp.csr_matrix, list[np.ndarray]]:
    """Each user's held-out training items (a seeded draw) and the training matrix without them.

    A user keeps at least one item as history; users with fewer than two training items hold none out.
    """
    held: list[np.ndarray] = []
    keep_rows, keep_cols = [], []
    for u in range(train.shape[0]):
        own = train.indices[train.indptr[u] : train.indptr[u + 1]]
        n = max(0, min(max(1, int(cfg.holdout_share * len(own))), cfg.max_holdout, len(own) - 1))
        drawn = np.random.default_rng([cfg.seed, u, 10]).permutation(own)
        held.append(np.sort(drawn[:n]))
        kept = drawn[n:]
        keep_rows.append(np.full(len(kept), u))
        keep_cols.append(kept)
    rows, cols = np.concatenate(keep_rows), np.concatenate(keep_cols)
    visible = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=train.shape)
    visible.sort_indices()
    return visible, held


def similar_users(visible: sp.csr_matrix, batch_size: int = 256) -> np.ndarray:
    """Each user's most cosine-similar other user over binary visible rows (NO_USER without history).

    Users without history are never anyone's similar user; ties go to the lower index. A batch holds a
    dense [batch_size, n_users] block (60 MB for Gowalla's 30K users at 256).
    """
    counts = np.diff(visible.indptr).astype(np.float64)
    has = counts > 0
    norms = np.sqrt(np.maximum(counts, 1.0))
    similar = np.full(visible.shape[0], NO_USER, dtype=np.int64)
    for start in range(0, visible.shape[0], batch_size):
        rows = np.arange(start, min(start + batch_size, visible.shape[0]))
        sims = (visible[rows] @ visible.T).toarray() / (norms[rows, None] * norms[None, :])
        sims[:, ~has] = -np.inf
        sims[np.arange(len(rows)), rows] = -np.inf
        best = np.argmax(sims, axis=1)
        ok = has[rows] & np.isfinite(sims[np.arange(len(rows)), best])
        similar[rows] = np.where(ok, best, NO_USER)
    return similar


def draw_unseen(
    rng: np.random.Generator, n: int, banned: set[int], n_items: int, cdf: np.ndarray | None = None
) -> np.ndarray:
    """`n` distinct items outside `banned`, uniformly or by the distribution `cdf` (fewer if too few)."""
    picked: dict[int, None] = {}  # insertion-ordered, distinct
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    for _ in range(20):  # rejection sampling; a nearly exhausted catalogue falls through to the pool
        size = 2 * (n - len(picked)) + 8
        if cdf is None:
            draws = rng.integers(0, n_items, size)
        else:  # float rounding can leave cdf[-1] a hair under 1: clip to the last item
            draws = np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), n_items - 1)
        for i in draws.tolist():
            if i not in banned and len(picked) < n:
                picked[i] = None
        if len(picked) >= n:
            return np.fromiter(picked, dtype=np.int64)
    pool = np.setdiff1d(np.arange(n_items), np.fromiter(banned | set(picked), dtype=np.int64))
    extra = rng.permutation(pool)[: n - len(picked)]
    return np.concatenate([np.fromiter(picked, dtype=np.int64), extra]).astype(np.int64)


def text_rows(records: Sequence[Mapping[str, object]]) -> list[dict[str, str]]:
    """Metadata rows (as `rundir.load_item_meta` reads them) as their non-empty text fields, no id."""
    return [{k: str(v).strip() for k, v in r.items() if k != "item_id" and str(v).strip()} for r in records]


def _row(m: sp.csr_matrix, u: int) -> np.ndarray:
    return m.indices[m.indptr[u] : m.indptr[u + 1]]


def _example(task: str, user: int, item: int, prompt: str, template: str, answer: str) -> Example:
    """The request llmrec sends (system + user turn) with the answer as the assistant's turn."""
    messages = chat(prompt, template).message_dicts() + [{"role": "assistant", "content": answer}]
    return Example(task, user, item, messages)


def listwise_example(
    visible: sp.csr_matrix,
    user: int,
    candidates: np.ndarray,
    is_held: np.ndarray,
    similar: int,
    hide: np.ndarray,
    texts: ItemTexts,
    section: Llama4RecConfig,
) -> Example:
    """`rerank.listwise.user_prompt`'s prompt for `candidates` (in conventional order), with `hide` left
    out of the similar user's items; the answer ranks the held-out candidates (`is_held`) first, then
    the others, each part in the conventional order."""
    own = _row(visible, user)
    history = pick(own, section.history_items, section.seed, (user,))
    theirs = similar_history(visible, user, similar, section.similar_exclude_shared)
    theirs = theirs[~np.isin(theirs, hide)]  # the user's validation and test items stay unseen
    shown = pick(theirs, section.similar_items, section.seed, (user, similar))
    positions = display_order(len(candidates), section.seed, user, section.shuffle_candidates)
    ids = short_ids(len(candidates))
    id_of = {int(p): ids[j] for j, p in enumerate(positions)}
    conventional = [id_of[p] for p in range(len(candidates))]
    text = listwise_prompt(
        [texts.short[i] for i in history], len(own), [texts.short[i] for i in shown], len(theirs),
        [texts.full[candidates[p]] for p in positions], ids,
        conventional if section.show_base_ranking else [], section.noun,
    )  # fmt: skip
    first = [id_of[p] for p in range(len(candidates)) if is_held[p]]
    answer = SEPARATOR.join(first + [id_of[p] for p in range(len(candidates)) if not is_held[p]])
    return _example("listwise", user, NO_ITEM, text, LISTWISE_TEMPLATE, answer)


def attribute_example(meta: Mapping[str, str], item: int, item_id: str, cfg: ExportConfig) -> Example | None:
    """`augment`'s attribute prompt for the item's known values of `cfg.attributes`, with no answer in
    its line: the asked fields are left out, and so is any other field that spells an answer out (the
    writer who also directed); a value the title holds is not asked. None without a title or a value."""
    title = meta.get("title", "")
    if not title:
        return None  # augment never asks about an untitled item
    known = {k: normalise_value(k, meta.get(k), k) for k in cfg.attributes}
    parts = {k: v.split(", ") for k, v in known.items() if v is not None}
    parts = {k: p for k, p in parts.items() if not any(x in title for x in p)}
    if not parts:
        return None

    def spells_out(text: str) -> bool:
        return any(x in text for p in parts.values() for x in p)

    shown = {f: v for f, v in meta.items() if f not in parts and (f == "title" or not spells_out(v))}
    line = item_line(shown, item_id, cfg.max_field_words)
    answer = json.dumps({k: p[0] if len(p) == 1 else p for k, p in parts.items()}, ensure_ascii=False)
    prompt = attributes_prompt(line, list(parts), cfg.attribute_noun)
    return _example("attributes", NO_USER, item, prompt, ATTRIBUTES_TEMPLATE, answer)


def export_examples(
    train: sp.csr_matrix,
    hidden: sp.csr_matrix,
    texts: ItemTexts,
    item_rows: Sequence[Mapping[str, str]],
    item_ids: Sequence[object],
    section: Llama4RecConfig,
    cfg: ExportConfig,
) -> ExportResult:
    """Every example of `cfg.tasks` from `train`; `hidden` (validation + test) only keeps items out.

    `texts` are the reranker's item lines (`rerank.item_texts`), `item_rows` the metadata rows by
    internal index (non-empty text fields), `section` the run's [llama4rec] settings.
    """
    section = dataclasses.replace(section, seed=cfg.seed)
    train, hidden = train.tocsr(), hidden.tocsr()
    n_users, n_items = train.shape
    visible, held = hold_out(train, cfg)
    popularity = np.asarray(visible.sum(axis=0)).ravel()
    weights = popularity + 1.0  # negatives lean popular, as a conventional model's candidates do
    cdf = np.cumsum(weights) / weights.sum()
    similar = similar_users(visible) if "listwise" in cfg.tasks else np.zeros(0, np.int64)
    found: dict[str, list[Example]] = {t: [] for t in cfg.tasks}
    for u in range(n_users):
        if not len(held[u]):
            continue
        banned = {*_row(train, u).tolist(), *_row(hidden, u).tolist()}
        if "listwise" in cfg.tasks:
            rng = np.random.default_rng([cfg.seed, u, 11])
            negatives = draw_unseen(rng, section.n_candidates - len(held[u]), banned, n_items, cdf)
            cands = np.concatenate([held[u], negatives])
            cands = cands[np.lexsort((cands, -popularity[cands]))]  # conventional: popular first
            if len(cands) >= 2:
                found["listwise"].append(listwise_example(
                    visible, u, cands, np.isin(cands, held[u]), int(similar[u]), _row(hidden, u), texts,
                    section,
                ))  # fmt: skip
        if "pairs" in cfg.tasks:  # a stream of its own: the pairs do not change with the other tasks
            rng = np.random.default_rng([cfg.seed, u, 13])
            own = _row(visible, u)
            history = [texts.short[i] for i in pick(own, section.history_items, section.seed, (u,))]
            for pos, neg in zip(held[u], draw_unseen(rng, len(held[u]), banned, n_items), strict=False):
                first, second, letter = (pos, neg, "A") if rng.random() < 0.5 else (neg, pos, "B")
                prompt = pair_prompt(history, len(own), texts.full[first], texts.full[second], section.noun)
                found["pairs"].append(_example("pairs", u, int(pos), prompt, PAIR_TEMPLATE, letter))
    if "attributes" in cfg.tasks:
        for i, meta in enumerate(item_rows):
            example = attribute_example(meta, i, str(item_ids[i]), cfg)
            if example is not None:
                found["attributes"].append(example)
    examples: list[Example] = []
    for task in cfg.tasks:
        rows = found[task]
        if cfg.max_per_task and len(rows) > cfg.max_per_task:
            keep = np.random.default_rng([cfg.seed, TASKS.index(task), 12]).choice(
                len(rows), cfg.max_per_task, replace=False
            )
            rows = [rows[k] for k in np.sort(keep)]
        examples += rows
    counts = {
        "examples": len(examples),
        "by_task": {t: sum(e.task == t for e in examples) for t in cfg.tasks},
        "available_by_task": {t: len(found[t]) for t in cfg.tasks},
        "users_with_held_out": int(sum(len(h) > 0 for h in held)),
        "held_out_items": int(sum(len(h) for h in held)),
        "training_interactions": int(train.nnz),
    }
    return ExportResult(examples, held, counts)


def write_export(result: ExportResult, out: Path, info: Mapping[str, Any]) -> Path:
    """`out` as JSONL (one `{"messages": [...]}` per line) and its sidecar `<stem>.meta.json` (counts,
    settings, `info`); returns the sidecar's path."""
    lines = [json.dumps({"messages": e.messages}, ensure_ascii=False) + "\n" for e in result.examples]
    atomic_write(out, lambda f: f.writelines(lines))
    sidecar = out.with_name(f"{out.stem}.meta.json")
    write_json(sidecar, {**info, **result.counts, "templates": TEMPLATES})
    return sidecar


TEMPLATES = {"listwise": LISTWISE_TEMPLATE, "pairs": PAIR_TEMPLATE, "attributes": ATTRIBUTES_TEMPLATE}
