"""The LLMRec model's inputs read from an augmentation folder: what is loaded, and every refusal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from llmrec.atomic import write_json
from llmrec.augment import artefacts
from llmrec.errors import ConfigError, DataError
from llmrec.features import load_saved_inputs, save_inputs
from llmrec.methods.llmrec import LLMRecConfig
from llmrec.methods.llmrec import load_llmrec_inputs as load_augmented
from llmrec.rundir import load_split
from tests.augment.conftest import N_ITEMS, N_USERS, build_run


def _augment_dir(run: Path, dim: int = 5) -> Path:
    """A finished augmentation folder of the toy run: features with known values, three triples."""
    out = run / "augment"
    split = load_split(run)
    rng = np.random.default_rng(0)
    arrays = {
        "item_text": rng.normal(size=(N_ITEMS, dim)),
        "item_attr_all": rng.normal(size=(N_ITEMS, dim)),
        "user_profile": rng.normal(size=(N_USERS, dim)),
    }
    files = artefacts.write_embeddings(out, arrays, "test-encoder", {"kind": "local"})
    users, pos, neg = np.array([0, 1, 7]), np.array([0, 1, 9]), np.array([3, 2, 10])
    ids = (split.train.user_ids, split.train.item_ids)
    files += artefacts.write_edges(out, users, pos, neg, *ids, {"kind": "local"})
    write_json(out / artefacts.AUDIT_JSON, {"base": {"run_dir": str(run)}})
    artefacts.write_manifest(out, "f", [*files, artefacts.AUDIT_JSON], {"teacher": {"kind": "local"}})
    return out


@pytest.fixture
def run_and_augment(tmp_path: Path) -> tuple[Path, Path]:
    run = build_run(tmp_path / "run")
    return run, _augment_dir(run)


def test_loads_switched_on_inputs_in_projection_order(run_and_augment: tuple[Path, Path]) -> None:
    run, aug = run_and_augment
    inputs = load_augmented(aug, load_split(run), LLMRecConfig())
    assert list(inputs.features.user) == ["profile"] and list(inputs.features.item) == ["text", "attributes"]
    np.testing.assert_allclose(inputs.features.item["text"].numpy(), np.load(aug / "item_text.npy"))
    assert inputs.user_dims == (5,) and inputs.item_dims == (5, 5)
    assert [t.tolist() for t in inputs.triples] == [[0, 1, 7], [0, 1, 9], [3, 2, 10]]
    assert inputs.sources["features"] == ["user_profile.npy", "item_text.npy", "item_attr_all.npy"]
    assert inputs.sources["triples"] == 3 and inputs.sources["teacher"] == {"kind": "local"}

    off = LLMRecConfig(edges=False, user_profiles=False, item_attributes=False)
    bare = load_augmented(aug, load_split(run), off)
    assert bare.triples is None and not bare.features.user and list(bare.features.item) == ["text"]

    save_inputs(inputs, run)  # a run directory keeps what its model trained on
    again = load_saved_inputs(run)
    assert again is not None and list(again.features.item) == ["text", "attributes"]
    np.testing.assert_array_equal(again.features.user["profile"].numpy(), inputs.features.user["profile"])
    assert [t.tolist() for t in again.triples] == [t.tolist() for t in inputs.triples]


def test_refuses_missing_wrong_and_broken_artefacts(run_and_augment: tuple[Path, Path]) -> None:
    run, aug = run_and_augment
    split = load_split(run)
    (aug / "user_profile.npy").unlink()
    with pytest.raises(
        ConfigError, match=r"llmrec.user_profiles is on but .*user_profile.npy does not exist"
    ):
        load_augmented(aug, split, LLMRecConfig())
    load_augmented(aug, split, LLMRecConfig(user_profiles=False))  # switched off: fine

    np.save(aug / "item_attr_all.npy", np.zeros((N_ITEMS, 5), np.float32))
    with pytest.raises(ConfigError, match=r"llmrec.item_attributes is on but every row of .* is empty"):
        load_augmented(aug, split, LLMRecConfig(user_profiles=False))
    np.save(aug / "item_attr_all.npy", np.ones((N_ITEMS, 5), np.float32))
    np.save(aug / "item_text.npy", np.zeros((N_ITEMS + 1, 5), np.float32))
    with pytest.raises(DataError, match=r"item_text.npy: 13 rows, but the run has 12 items"):
        load_augmented(aug, split, LLMRecConfig(user_profiles=False))
    bad = np.zeros((N_ITEMS, 5), np.float32)
    bad[4, 2] = np.nan
    np.save(aug / "item_text.npy", bad)
    with pytest.raises(
        DataError, match=r"item_text.npy: 1 row\(s\) hold NaN or infinite values, first row 4"
    ):
        load_augmented(aug, split, LLMRecConfig(user_profiles=False))
    np.save(aug / "item_text.npy", np.zeros(N_ITEMS, np.float32))
    with pytest.raises(DataError, match="expected a 2-D float matrix"):
        load_augmented(aug, split, LLMRecConfig(user_profiles=False))
    (aug / "item_text.npy").write_text("garbage")
    with pytest.raises(DataError, match="not a readable .npy matrix"):
        load_augmented(aug, split, LLMRecConfig(user_profiles=False))

    (aug / artefacts.MANIFEST).unlink()
    with pytest.raises(DataError, match="holds no finished augmentation"):
        load_augmented(aug, split, LLMRecConfig())


def test_refuses_triples_of_another_id_space(run_and_augment: tuple[Path, Path]) -> None:
    run, aug = run_and_augment
    split = load_split(run)
    other = np.array([f"x{i}" for i in range(N_ITEMS)])
    three = np.array([0, 1, 2])
    artefacts.write_edges(aug, three, three, three, split.train.user_ids, other, {"kind": "local"})
    with pytest.raises(DataError, match="pos_id values do not match this run's ids"):
        load_augmented(aug, split, LLMRecConfig())
    big = np.array([0, 1, N_ITEMS])
    artefacts.write_edges(aug, three, big, three, split.train.user_ids, np.arange(13), {"kind": "local"})
    with pytest.raises(DataError, match=r"pos index out of range \[0, 12\)"):
        load_augmented(aug, split, LLMRecConfig())


def test_refuses_an_augmentation_of_another_split(run_and_augment: tuple[Path, Path], tmp_path: Path) -> None:
    run, aug = run_and_augment
    split = load_split(run)
    # the augmentation claims a base run whose train part differs by one edge
    other = build_run(tmp_path / "other")
    z = dict(np.load(other / "split.npz"))
    z["train_indices"] = z["train_indices"].copy()
    z["train_indices"][0] = (z["train_indices"][0] + 1) % N_ITEMS
    np.savez_compressed(other / "split.npz", **z)
    (aug / artefacts.AUDIT_JSON).write_text(json.dumps({"base": {"run_dir": str(other)}}))
    with pytest.raises(DataError, match="differs from this run's train part"):
        load_augmented(aug, split, LLMRecConfig())


def test_principal_components_match_the_svd() -> None:
    from llmrec.features import principal_components

    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 8)) + 5.0  # rank 3 after centring
    z, kept = principal_components(x.astype(np.float32), 2)
    u, s, _ = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(z), np.abs(u[:, :2] * s[:2]), rtol=1e-4, atol=1e-4)
    assert kept == pytest.approx(float((s[:2] ** 2).sum() / (s**2).sum()), rel=1e-6)
    full, kept3 = principal_components(x.astype(np.float32), 3)
    assert kept3 == pytest.approx(1.0)
    # distances between rows survive when nothing is dropped
    np.testing.assert_allclose(np.linalg.norm(full[0] - full[1]), np.linalg.norm(x[0] - x[1]), rtol=1e-4)


def test_feature_dim_reduces_what_the_model_reads(run_and_augment: tuple[Path, Path]) -> None:
    run, aug = run_and_augment
    inputs = load_augmented(aug, load_split(run), LLMRecConfig(feature_dim=3))
    assert inputs.user_dims == (3,) and inputs.item_dims == (3, 3)
    assert set(inputs.sources["principal_components"]) == {
        "user_profile.npy",
        "item_text.npy",
        "item_attr_all.npy",
    }
