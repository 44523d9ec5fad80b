"""Fixtures shared across test folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmrec.data.interactions import Interactions


@pytest.fixture
def csv_data(tmp_path: Path) -> Path:
    """Three blocks of 12 users x 12 items; each user rates every item of their block 5."""
    return write_block_csv(tmp_path)


def write_block_csv(tmp_path: Path) -> Path:
    """inter.csv (the blocks plus one low rating) and items.csv (titles) in tmp_path; returns inter.csv."""
    lines = ["user_id,item_id,rating"]
    for b in range(3):
        for u in range(12):
            lines += [f"u{b * 12 + u},i{b * 12 + i},5" for i in range(12)]
    lines += ["u0,i30,1"]  # a low rating, dropped by the default threshold of 4
    path = tmp_path / "inter.csv"
    path.write_text("\n".join(lines) + "\n")
    items = tmp_path / "items.csv"
    # a director per item: the local teacher copies it as the item's attribute
    items.write_text(
        "item_id,title,director\n" + "".join(f"i{i},Film {i},Director {i % 5}\n" for i in range(36))
    )
    return path


def block_interactions(rng: np.random.Generator, n: int, noise: float) -> Interactions:
    """n edges of 30 users in three taste blocks of 12 items (of 40), a `noise` share of them random."""
    users = rng.integers(0, 30, n)
    items = (users % 3) * 12 + rng.integers(0, 12, n)
    flip = rng.random(n) < noise
    items[flip] = rng.integers(0, 40, int(flip.sum()))
    return Interactions.from_pairs(users, items, np.arange(30).astype(str), np.arange(40).astype(str))
