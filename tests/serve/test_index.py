"""Serving through an approximate index (FAISS): same lists as exact search where the index is exact
by construction (36 items: one IVF cell, an HNSW search wider than the catalogue), filters exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

pytest.importorskip("faiss", reason="faiss-cpu (the `dev` and `faiss` extras) serves approximate lists")

from llmrec.ann import IndexParams  # noqa: E402
from llmrec.serve import load_served  # noqa: E402
from llmrec.serve.app import create_app  # noqa: E402
from llmrec.serve.catalogue import Filters  # noqa: E402


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_indexed_lists_equal_exact_ones_on_a_small_catalogue(run_root: Path, kind: str) -> None:
    exact = load_served(run_root).recommender
    indexed = load_served(run_root, index=IndexParams(kind=kind)).recommender
    assert exact.search_kind == "exact" and indexed.search_kind == kind
    for user in range(len(exact.catalogue.user_ids)):
        want = exact.recommend_user(user, 10, True, Filters())
        got = indexed.recommend_user(user, 10, True, Filters())
        assert got.items == want.items
        assert np.allclose(got.scores, want.scores, atol=1e-5)
        assert not set(got.items) & set(exact.history(user).tolist())  # seen items left out
    # an ad-hoc user and a whole catalogue's worth of k
    items = np.array([0, 1, 2])
    assert indexed.recommend_items(items, 33, "mean", Filters()).items == (
        exact.recommend_items(items, 33, "mean", Filters()).items
    )


def test_filters_and_meta_with_an_index(run_root: Path) -> None:
    served = load_served(run_root, index=IndexParams(kind="ivf"))
    with TestClient(create_app(served)) as client:
        assert client.get("/meta").json()["search"] == "ivf"
        user = client.get("/users?limit=1").json()["users"][0]
        full = client.get(f"/users/{user}/recommendations?k=36").json()["items"]
        drama = client.get(f"/users/{user}/recommendations?k=36&genres=Drama").json()["items"]
        # a filtered list is the full list's dramas, in the same order
        assert [i["item_id"] for i in drama] == [i["item_id"] for i in full if "Drama" in i["genres"]]
    with TestClient(create_app(load_served(run_root))) as client:
        assert client.get("/meta").json()["search"] == "exact"


def test_the_serving_process_freezes_its_loaded_heap(run_root: Path) -> None:
    """`llmrec serve` takes what loading left out of the collector's full passes (the 150-200 ms
    stalls they caused, docs/serving.md); an app made with `create_app` leaves the heap alone."""
    import gc

    from llmrec.cli.serve import _app

    gc.unfreeze()
    create_app(load_served(run_root))
    assert gc.get_freeze_count() == 0
    settings = {"run_dir": str(run_root), "model": None, "llm": False, "max_body": 65536, "threads": 1,
                "workers": 1, "index": "exact"}  # fmt: skip
    try:
        _app(settings)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
