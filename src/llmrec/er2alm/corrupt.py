"""Measure the reliability gate on injected corruption: replace a share of the generated aspects with
(a) the same aspect of another random item ("swap") or (b) plausible-looking nonsense ("nonsense":
invented names, genres, countries and languages, impossible eras, and text in another language), run
the gate on the corrupted table, and count what it removed of each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llmrec.er2alm.grounding import Grounding
from llmrec.er2alm.reliability import ReliabilityConfig, run_gate

KINDS = ("swap", "nonsense")
_SYLLABLES = (
    "ka",
    "vor",
    "lin",
    "dra",
    "mel",
    "quo",
    "zan",
    "thi",
    "bru",
    "sel",
    "op",
    "rix",
    "nal",
    "gue",
    "fen",
    "dov",
    "ush",
    "tral",
    "wen",
    "pim",
    "ox",
    "cor",
    "ila",
    "bez",
)
_FOREIGN = (
    "Der Zug fährt morgen früh um sieben Uhr ab",
    "La cuenta del supermercado incluye leche y pan",
    "Il pleut souvent au printemps dans cette région",
    "Пожалуйста, закройте окно перед уходом",
    "今天的天气非常适合洗衣服",
    "Het gemeentehuis is op maandag gesloten",
    "Questa ricetta richiede due uova e farina",
    "明日の会議は午後三時に始まります",
    "Ο σταθμός βρίσκεται δίπλα στο ταχυδρομείο",
    "Kahvinkeitin pitää puhdistaa viikoittain",
)


def _name(rng: np.random.Generator, parts: int = 2) -> str:
    """An invented, name-like word sequence ('Vorlin Kadrasel')."""
    words = ["".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 4)))).capitalize() for _ in range(parts)]
    return " ".join(words)


def nonsense(aspect: str, rng: np.random.Generator) -> str:
    """A plausible-looking but meaningless value for `aspect`; a third are text in another language."""
    if rng.random() < 1 / 3 or aspect in ("plot_keywords", "theme", "mood"):
        return str(rng.choice(_FOREIGN))
    if aspect in ("director", "cast"):
        return ", ".join(_name(rng) for _ in range(1 if aspect == "director" else 3))
    if aspect == "genre":
        return f"{_name(rng, 1)} {rng.choice(['Saga', 'Noir', 'Opera', 'Drama'])}"
    if aspect == "country":
        return f"Republic of {_name(rng, 1)}"
    if aspect == "language":
        return f"{_name(rng, 1)}ish"
    if aspect == "era":
        return f"{int(rng.integers(24, 40))}{int(rng.integers(0, 10))}0s"
    return _name(rng, 3)


def corrupt(
    values: Sequence[Sequence[str | None]], aspects: Sequence[str], kind: str, rate: float, seed: int
) -> tuple[list[list[str | None]], np.ndarray]:
    """A copy of `values` ([item][aspect]) with `rate` of the present cells replaced, and the mask of
    replaced cells. A swap takes the same aspect of another item whose value differs."""
    if kind not in KINDS:
        raise ValueError(f"corruption kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng(seed)
    table = [list(row) for row in values]
    cells = [(i, k) for i, row in enumerate(table) for k, v in enumerate(row) if v]
    chosen: Any = rng.choice(len(cells), size=round(rate * len(cells)), replace=False) if cells else []
    mask = np.zeros((len(table), len(aspects)), dtype=bool)
    for c in chosen:
        i, k = cells[int(c)]
        if kind == "nonsense":
            table[i][k] = nonsense(aspects[k], rng)
        else:
            donors = [j for j, row in enumerate(values) if row[k] and row[k] != values[i][k]]
            if not donors:
                continue
            table[i][k] = values[int(rng.choice(donors))][k]
        mask[i, k] = True
    return table, mask


def corruption_study(
    values: Sequence[Sequence[str | None]],
    aspects: Sequence[str],
    basic: np.ndarray,
    marker: np.ndarray,
    embed: Callable[[list[list[str | None]]], np.ndarray],
    cfg: ReliabilityConfig,
    rate: float = 0.2,
    seed: int = 0,
    ground: Callable[[list[list[str | None]]], Grounding] | None = None,
) -> dict[str, Any]:
    """Per corruption kind: share of corrupted aspects removed, share of genuine ones kept.

    `embed` turns a [item][aspect] table into [n_items, n_aspects, d] vectors (zeros where missing);
    `ground`, when given, a table into the gate's grounding features (grounding.py).
    The uncorrupted table is measured too (`clean`: the share the gate drops with nothing wrong).
    """
    out: dict[str, Any] = {
        "rate": rate, "seed": seed, "config": cfg.__dict__.copy(), "grounding": ground is not None
    }  # fmt: skip
    clean = [list(r) for r in values]
    present = np.array([[bool(v) for v in row] for row in clean], dtype=bool)
    gate = run_gate(cfg, basic, marker, embed(clean), present, ground(clean) if ground else None)
    out["clean"] = {"genuine_kept": round(float(gate.kept[present].mean()), 4), "aspects": int(present.sum())}
    for kind in KINDS:
        table, mask = corrupt(values, aspects, kind, rate, seed)
        present = np.array([[bool(v) for v in row] for row in table], dtype=bool)
        gate = run_gate(cfg, basic, marker, embed(table), present, ground(table) if ground else None)
        genuine = present & ~mask
        per_aspect = {
            a: {
                "removed": _share(~gate.kept[:, k] & mask[:, k], mask[:, k]),
                "genuine_kept": _share(gate.kept[:, k] & genuine[:, k], genuine[:, k]),
            }
            for k, a in enumerate(aspects)
        }
        out[kind] = {
            "corrupted": int(mask.sum()),
            "removed": _share(~gate.kept & mask, mask),
            "genuine_kept": _share(gate.kept & genuine, genuine),
            "per_aspect": per_aspect,
        }
    return out


def _share(hits: np.ndarray, of: np.ndarray) -> float | None:
    """hits / of, rounded; None when `of` is empty."""
    n = int(of.sum())
    return round(float(hits.sum()) / n, 4) if n else None


__all__ = ["KINDS", "corrupt", "corruption_study", "nonsense"]
