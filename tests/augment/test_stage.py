"""Choosing the base run, and the fingerprint that decides between reuse and rebuild."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmrec.augment.config import AugmentConfig
from llmrec.augment.stage import augment_fingerprint
from llmrec.errors import ConfigError, DataError
from llmrec.inference import base_run
from llmrec.llm import LLMConfig


def _compare_folder(toy_run: Path, tmp_path: Path) -> Path:
    """An `llmrec run`-like folder: two baseline folders with their validation metrics, and a folder
    that is no baseline (an LLM method's, which cannot be its own base)."""
    root = tmp_path / "compare"
    for name, recall in (("bpr-mf", 0.30), ("lightgcn", 0.25), ("llmrec", 0.5)):
        shutil.copytree(toy_run, root / name)
        (root / name / "metrics.json").write_text(json.dumps({"valid": {"recall@20": recall}}))
    return root


def test_single_run_and_best_on_validation(toy_run: Path, tmp_path: Path) -> None:
    assert base_run(toy_run).path == toy_run
    root = _compare_folder(toy_run, tmp_path)
    best = base_run(root)
    assert best.path == root / "bpr-mf"
    assert best.selected_by == "best validation recall@20 (0.3000) of ['bpr-mf', 'lightgcn']"
    assert base_run(root, "lightgcn").path == root / "lightgcn"
    with pytest.raises(ConfigError, match=r"no 'sgl' in .*found \['bpr-mf', 'lightgcn'\]"):
        base_run(root, "sgl")
    with pytest.raises(ConfigError, match="holds a bpr-mf run, not lightgcn"):
        base_run(toy_run, "lightgcn")
    with pytest.raises(DataError, match="is not a run directory"):
        base_run(tmp_path / "empty")


def test_fingerprint_follows_inputs_and_answer_settings(toy_run: Path) -> None:
    base = base_run(toy_run)
    aug, llm = AugmentConfig(teacher="llm"), LLMConfig()
    first = augment_fingerprint(base, aug, llm)
    assert augment_fingerprint(base, aug, LLMConfig(concurrency=64)) == first  # speed does not change answers
    assert augment_fingerprint(base, aug, LLMConfig(model="other")) != first
    assert augment_fingerprint(base, AugmentConfig(teacher="llm", n_candidates=5), llm) != first
    (toy_run / "items.tsv").write_text((toy_run / "items.tsv").read_text().replace("Film 3", "Film Three"))
    assert augment_fingerprint(base, aug, llm) != first  # a changed input file
