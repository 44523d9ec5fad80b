"""Item attribute augmentation: the configured attributes (director, country, language...) per item.

What the dataset's metadata has is taken from it (normalised); the LLM is asked only for the attributes
an item lacks, as a JSON object. "unknown" or an empty answer leaves the value missing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmrec.augment.ask import Asked, ask
from llmrec.augment.audit import sample_positions
from llmrec.augment.config import AugmentConfig
from llmrec.augment.inputs import Inputs
from llmrec.augment.parsers import parse_attributes
from llmrec.augment.prompts import (
    ATTRIBUTES_TEMPLATE,
    attributes_expected,
    attributes_prompt,
    chat,
    estimate_tokens,
    item_line,
)
from llmrec.augment.teacher import dataset_attributes
from llmrec.llm import Backend, StageStats

DATASET, TEACHER = "dataset", "teacher"  # where a value came from


def ask_attributes(
    llm: Backend, prompts: Sequence[str], keys: Sequence[tuple[str, ...]], stats: StageStats
) -> Asked[dict[str, str | None]]:
    """Ask each attribute prompt in one batch and parse its answer for its `keys` (one repair each):
    the one way augmentation, the rating task and the probe ask an LLM for item attributes."""
    return ask(
        llm,
        [chat(prompt, ATTRIBUTES_TEMPLATE) for prompt in prompts],
        keys,
        lambda wanted: functools.partial(parse_attributes, keys=wanted),
        attributes_expected,
        stats,
    )


@dataclass
class AttributeResult:
    """Values per attribute by internal item index (None: missing) and where each came from."""

    values: dict[str, list[str | None]]
    sources: dict[str, list[str]]  # "dataset", "teacher" or "" (missing)
    report: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


def from_dataset(inputs: Inputs, names: tuple[str, ...]) -> AttributeResult:
    """The attributes the dataset's metadata has: what the local teacher gives."""
    values = dataset_attributes(inputs.items, names)
    sources = {n: [DATASET if v is not None else "" for v in values[n]] for n in names}
    return AttributeResult(values, sources, {"items": inputs.n_items, "prompts": 0})


def llm_attributes(llm: Backend, stats: StageStats, inputs: Inputs, aug: AugmentConfig) -> AttributeResult:
    """Ask the LLM, in one batch, for each item's missing attributes; items without a title are skipped."""
    result = from_dataset(inputs, aug.attributes)
    ids = inputs.train.item_ids
    todo: list[tuple[int, tuple[str, ...], str]] = []
    untitled = over = 0
    for i, meta in enumerate(inputs.items):
        missing = tuple(n for n in aug.attributes if result.values[n][i] is None)
        if not missing:
            continue
        if not meta.get("title"):
            untitled += 1  # nothing to identify the item by: the answer could only be invented
            continue
        prompt = attributes_prompt(item_line(meta, str(ids[i]), aug.max_field_words), missing, inputs.noun)
        if estimate_tokens(prompt) > aug.prompt_token_budget:
            over += 1
            continue
        todo.append((i, missing, prompt))
    asked = ask_attributes(llm, [prompt for _, _, prompt in todo], [keys for _, keys, _ in todo], stats)
    for (i, _, _), parsed in zip(todo, asked.values, strict=True):
        for name, value in (parsed or {}).items():
            if value is not None:
                result.values[name][i] = value
                result.sources[name][i] = TEACHER
    result.report = {
        "items": inputs.n_items,
        "untitled_skipped": untitled,
        "over_budget": over,
        **asked.summary(),
    }
    for k in sample_positions(len(todo), aug.audit_samples, aug.seed):
        i, _, prompt = todo[k]
        result.samples.append(
            {"item_id": str(ids[i]), "prompt": prompt, "answer": asked.answers[k], "parsed": asked.values[k]}
        )
    return result
