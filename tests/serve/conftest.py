"""A tiny trained run to serve: 36 users in three taste blocks of 12 items, with titles, genres,
years, and a hand-written augmentation (a director per item, one user profile, the local teacher)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import llmrec

GENRES = ("Comedy", "Drama", "Horror|Drama")  # by block


def write_data(folder: Path) -> dict[str, str]:
    """inter.csv and items.csv; returns the config keys that read them."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["user_id,item_id,rating"]
    for b in range(3):
        for u in range(12):
            # every user of a block likes 9 of its 12 items, so each has unseen items of its block
            lines += [f"u{b * 12 + u},i{b * 12 + (u + j) % 12},5" for j in range(9)]
    (folder / "inter.csv").write_text("\n".join(lines) + "\n")
    rows = [f"i{i},Film {i},{GENRES[i // 12]},{1990 + i}" for i in range(36)]
    (folder / "items.csv").write_text("item_id,title,genres,year\n" + "\n".join(rows) + "\n")
    return {
        "data.dataset": "custom",
        "data.path": str(folder / "inter.csv"),
        "data.items_path": str(folder / "items.csv"),
        "data.rating_col": "rating",
    }


def write_augmentation(folder: Path) -> None:
    """A finished local-teacher augmentation: a director per item and a profile for u0."""
    folder.mkdir(parents=True, exist_ok=True)
    teacher = {"kind": "local", "note": "no LLM was used (test)"}
    rows = [f"i{i}\tDirector {i % 4}\tmetadata\tlocal" for i in range(36)]
    (folder / "attributes.tsv").write_text(
        "item_id\tdirector\tdirector_source\tteacher\n" + "\n".join(rows) + "\n"
    )
    profile = {
        "user_id": "u0",
        "liked_genres": ["Comedy"],
        "disliked_genres": ["Horror"],
        "liked_directors": ["Director 1"],
        "summary": "likes comedies",
        "teacher": "local",
    }
    (folder / "profiles.jsonl").write_text(json.dumps(profile) + "\n")
    manifest = {"fingerprint": "test", "files": ["attributes.tsv", "profiles.jsonl"], "teacher": teacher}
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="session")
def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An `llmrec run`-like folder: lightgcn/ (trained in seconds) and augment/ beside it."""
    root = tmp_path_factory.mktemp("serve") / "run"
    keys = write_data(root.parent / "data")
    overrides = {**keys, "split.ratios": [0.6, 0.2, 0.2], "train.epochs": 2, "train.eval_every": 2}
    llmrec.train_one(out=root / "lightgcn", overrides=overrides, model__name="lightgcn")
    write_augmentation(root / "augment")
    return root


@pytest.fixture
def client(run_root: Path) -> Iterator[TestClient]:
    """An HTTP client talking to the app in process (httpx over ASGI), with the admin token 's3cret'."""
    from llmrec.serve import load_served
    from llmrec.serve.app import create_app

    with TestClient(create_app(load_served(run_root), admin_token="s3cret"), base_url="http://serve") as c:
        yield c


@pytest.fixture(scope="session")
def pop_root(run_root: Path) -> Path:
    """The same data with the popularity model (no vectors), trained beside: run/pop."""
    keys = write_data(run_root.parent / "data")
    llmrec.train_one(
        out=run_root.parent / "pop", overrides={**keys, "split.ratios": [0.6, 0.2, 0.2]}, model__name="pop"
    )
    return run_root.parent / "pop"
