"""`llmrec sweep`: every grid point a full run over the same seeds; what a key does not touch is reused."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from llmrec.cli import main
from llmrec.sweep import label, points
from tests.conftest import write_block_csv


def test_points_and_labels() -> None:
    grid = {"a.b": [1, 2], "c": ["x"]}
    assert points(grid) == [{"a.b": 1, "c": "x"}, {"a.b": 2, "c": "x"}]
    assert label({"llama4rec.aggregation": "llm", "x": 0.5}) == "llama4rec.aggregation=llm,x=0.5"


def test_a_sweep_reuses_what_its_key_does_not_touch(tmp_path: Path, caplog, capsys) -> None:
    csv = write_block_csv(tmp_path)
    config = tmp_path / "run.toml"
    config.write_text(
        f'seeds = 2\nmethods = ["bpr-mf", "llama4rec"]\n[data]\ndataset = "custom"\npath = "{csv}"\n'
        f'items_path = "{csv.parent / "items.csv"}"\nrating_col = "rating"\n'
        "[split]\nratios = [0.6, 0.2, 0.2]\n"
        '[train]\nepochs = 5\nbatch_size = 64\nmetric = "recall@5"\n[eval]\nks = [2, 5]\n'
        f'[augment]\nvector_cache = "{tmp_path / "v.sqlite"}"\n[llama4rec]\nn_candidates = 4\n'
    )
    out = tmp_path / "sweep"
    args = [
        "sweep",
        str(config),
        "--set-grid",
        'llama4rec.aggregation="llm","base"',
        "--out",
        str(out),
        "--no-progress",
    ]
    with caplog.at_level(logging.INFO, logger="llmrec"):
        assert main(args) == 0
    result = json.loads((out / "sweep.json").read_text())
    assert [r["dir"] for r in result["points"]] == ["llama4rec.aggregation=llm", "llama4rec.aggregation=base"]
    # the second point's BPR-MF seeds come from the first point's files: its key does not touch them
    second = out / "llama4rec.aggregation=base"
    assert caplog.text.count(f"reused from {second / 'bpr-mf'}") == 2
    for row in result["points"]:
        summary = json.loads((out / row["dir"] / "summary.json").read_text())
        assert row["models"]["llama4rec"]["test"] == summary["models"]["llama4rec"]["test"]
    base_point = result["points"][1]["models"]
    mf = base_point["bpr-mf"]["test"]  # alpha 0: the reranker keeps BPR-MF's order
    assert {k: base_point["llama4rec"]["test"][k] for k in mf} == pytest.approx(mf)
    assert "<svg" in (out / "sweep.html").read_text() and "report-sweep.svg" in (out / "sweep.md").read_text()
    capsys.readouterr()
    assert (
        main(["sweep", str(config), "--set-grid", 'llama4rec.aggregation="median"', "--out", str(out)]) == 2
    )
    assert "llama4rec.aggregation: 'median' is not one of" in capsys.readouterr().err
