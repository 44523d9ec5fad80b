"""The real datasets under $LLMREC_DATA_DIR reproduce their published statistics."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from llmrec.config import DataConfig, SplitConfig
from llmrec.data.dataset import TEST, TRAIN, VALID, Dataset
from llmrec.data.download import sha256_of
from llmrec.data.loaders import load_ml1m
from llmrec.data.prepare import load_dataset, to_implicit
from llmrec.data.registry import DATASETS
from llmrec.data.split import split
from llmrec.errors import DataError


@pytest.fixture(scope="session")
def raw(real_dir: Path) -> Callable[[str], Dataset]:
    """raw(name): a real dataset without threshold or k-core, loaded once per test session."""

    @functools.cache
    def load(name: str) -> Dataset:
        return load_dataset(DataConfig(dataset=name, rating_threshold=None), [real_dir], download=False)

    return load


def fold_sizes(ds: Dataset) -> list[int]:
    """Events in train, valid and test."""
    return [int((ds.folds == f).sum()) for f in (TRAIN, VALID, TEST)]


def test_staged_files_match_registry_sha256(real_dir: Path) -> None:
    checked = 0
    for spec in DATASETS.values():
        for f in spec.files:
            if f.sha256 and (real_dir / f.path).is_file():
                assert sha256_of(real_dir / f.path) == f.sha256, f.path
                checked += 1
    assert checked >= 25


def test_ml100k(raw: Callable[[str], Dataset], real_dir: Path) -> None:
    ds = raw("ml-100k")
    assert (ds.n_users, ds.n_items, len(ds)) == (943, 1682, 100000)
    assert ds.user_meta.shape == (943, 4) and ds.item_meta["title"].iloc[0] == "Toy Story"
    # independent count, straight from the text: awk -F'\t' '$3 >= 4' u.data | wc -l gives 55375
    lines = (real_dir / "ml-100k/u.data").read_text().splitlines()
    by_hand = sum(int(line.split("\t")[2]) >= 4 for line in lines)
    assert by_hand == len(to_implicit(ds, 4.0)) == 55375


def test_lightgcn_splits(raw: Callable[[str], Dataset]) -> None:
    gowalla, yelp = raw("gowalla"), raw("yelp2018")
    assert (gowalla.n_users, gowalla.n_items, *fold_sizes(gowalla)) == (29858, 40981, 810128, 0, 217242)
    assert (yelp.n_users, yelp.n_items, *fold_sizes(yelp)) == (31668, 38048, 1237259, 0, 324147)
    sp = split(gowalla, SplitConfig())
    assert sp.method == "given" and sp.test.nnz == 217242 and sp.train.nnz + sp.valid.nnz == 810128


def test_ml1m_lightgcnpp(raw: Callable[[str], Dataset]) -> None:
    ds = raw("ml-1m-lightgcnpp")
    # the README (after RecBole-GNN) says 6,040 users, but the files hold ids 0..6038 only: one ML-1M
    # user has no rating >= 3, and RecBole's user count includes its padding id
    assert (ds.n_users, ds.n_items, len(ds)) == (6039, 3628, 836478)
    assert all(n > 0 for n in fold_sizes(ds))


def test_llmrec_netflix(raw: Callable[[str], Dataset]) -> None:
    ds = raw("llmrec-netflix")
    assert (ds.n_users, ds.n_items, *fold_sizes(ds)) == (13187, 17366, 68933, 0, 1845)
    assert len(np.unique(ds.items)) == 8413
    sp = split(ds, SplitConfig())
    assert sp.test.nnz == 1845 and sp.train.nnz + sp.valid.nnz == 68933
    assert any("validation is carved from train" in n for n in ds.notes)
    assert any("UNVERIFIED" in n for n in ds.notes) and ds.item_meta["title"].iloc[0] == "Down by Law"


def test_lastfm(raw: Callable[[str], Dataset]) -> None:
    ds = raw("lastfm")
    assert (ds.n_users, ds.n_items, len(ds)) == (1892, 17632, 92834)
    assert (ds.item_meta["title"] != "").all() and ds.ratings.min() >= 1
    assert to_implicit(ds, 1.0) is ds
    # play counts are not ratings: the default rating threshold (4) must keep all 92,834 pairs
    assert to_implicit(ds, 4.0) is ds


def test_ml_latest_small(raw: Callable[[str], Dataset]) -> None:
    ds = raw("ml-latest-small")
    assert (ds.n_users, ds.n_items, len(ds)) == (610, 9724, 100836)
    assert sorted(np.unique(ds.ratings).tolist()) == [x / 2 for x in range(1, 11)]


def test_ml1m_without_ratings_names_the_file_and_url(real_dir: Path) -> None:
    if (real_dir / "ml-1m/ratings.dat").exists():
        pytest.skip("ratings.dat is present in this data dir")
    with pytest.raises(
        DataError, match=r"missing ml-1m/ratings\.dat;.*https://files\.grouplens\.org/.*ml-1m\.zip"
    ):
        load_dataset(DataConfig(dataset="ml-1m"), [real_dir], download=False)


def test_ml1m_real_metadata_parses(real_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    for name in ("movies.dat", "users.dat"):
        (folder / name).symlink_to(real_dir / "ml-1m" / name)
    (tmp_path / "ml-1m-melu").symlink_to(real_dir / "ml-1m-melu")
    (folder / "ratings.dat").write_text("1::1::5::978300760\n6040::3952::4::978300761\n")
    ds = load_ml1m(folder)
    assert ds.item_meta["title"].tolist() == ["Toy Story", "Contender, The"]
    assert ds.item_meta["director"].iloc[0] == "John Lasseter"
    assert ds.user_meta["occupation"].tolist() == ["K-12 student", "doctor/health care"]
