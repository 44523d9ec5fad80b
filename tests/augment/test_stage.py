"""Choosing the base run, and the fingerprint that decides between reuse and rebuild."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmrec.augment.config import AugmentConfig
from llmrec.augment.stage import augment_fingerprint, select_base
from llmrec.errors import ConfigError, DataError
from llmrec.llm import LLMConfig


def _compare_folder(toy_run: Path, tmp_path: Path) -> Path:
    """An `llmrec run`-like folder: two model folders with their validation metrics."""
    root = tmp_path / "compare"
    for name, recall in (("bpr-mf", 0.30), ("other", 0.25)):
        shutil.copytree(toy_run, root / name)
        (root / name / "metrics.json").write_text(json.dumps({"valid": {"recall@20": recall}}))
    return root


def test_single_run_and_best_on_validation(toy_run: Path, tmp_path: Path) -> None:
    assert select_base(toy_run).path == toy_run
    root = _compare_folder(toy_run, tmp_path)
    best = select_base(root)
    assert best.path == root / "bpr-mf"
    assert best.selected_by == "best validation recall@20 (0.3000) of ['bpr-mf', 'other']"
    assert select_base(root, "other").path == root / "other"
    with pytest.raises(ConfigError, match=r"no 'lightgcn' in .*found \['bpr-mf', 'other'\]"):
        select_base(root, "lightgcn")
    with pytest.raises(ConfigError, match="holds a bpr-mf run, not lightgcn"):
        select_base(toy_run, "lightgcn")
    with pytest.raises(DataError, match="is not a run directory"):
        select_base(tmp_path / "empty")


def test_fingerprint_follows_inputs_and_answer_settings(toy_run: Path) -> None:
    base = select_base(toy_run)
    aug, llm = AugmentConfig(teacher="llm"), LLMConfig()
    first = augment_fingerprint(base, aug, llm)
    assert augment_fingerprint(base, aug, LLMConfig(concurrency=64)) == first  # speed does not change answers
    assert augment_fingerprint(base, aug, LLMConfig(model="other")) != first
    assert augment_fingerprint(base, AugmentConfig(teacher="llm", n_candidates=5), llm) != first
    (toy_run / "items.tsv").write_text((toy_run / "items.tsv").read_text().replace("Film 3", "Film Three"))
    assert augment_fingerprint(base, aug, llm) != first  # a changed input file
