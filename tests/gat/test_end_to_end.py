"""A tiny graph-transformer run through `llmrec run`, next to a baseline; reruns reuse; resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from llmrec.cli import main
from llmrec.config import load
from llmrec.data.prepare import load_dataset
from llmrec.gat.config import GatConfig
from llmrec.gat.data import build_data
from llmrec.gat.training import new_model, prompt_scorer
from llmrec.rundir import load_split
from tests.conftest import write_block_csv

TINY = (
    "[graph_transformer]\nn_layers = 1\ndim = 16\nn_heads = 2\ncontext = 24\ndropout = 0.0\n"
    "pretrain_epochs = 1\nfinetune_epochs = 2\nbatch_size = 16\nmin_word_count = 1\ntext_tokens = 8\n"
)


def _config(tmp_path: Path) -> Path:
    csv = write_block_csv(tmp_path)
    config = tmp_path / "run.toml"
    config.write_text(
        f'seeds = 1\nmethods = ["pop", "graph_transformer"]\n[data]\ndataset = "custom"\npath = "{csv}"\n'
        f'items_path = "{csv.parent / "items.csv"}"\nrating_col = "rating"\n'
        "[split]\nratios = [0.6, 0.2, 0.2]\n[train]\nepochs = 2\n" + TINY
    )
    return config


def test_tiny_run_sits_next_to_a_baseline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(_config(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["models"]) == ["pop", "graph_transformer"]
    metrics = json.loads((out / "graph_transformer" / "metrics.json").read_text())
    assert metrics["prompts"]["item_text_prompts"] == 36  # every item has a title
    run = metrics["runs"][0]
    assert set(run["test"]) == set(summary["models"]["pop"]["test"])  # the same metrics as every model
    # independent route: recall@20 of the saved model, ranked with numpy on the saved split
    split = load_split(out / "graph_transformer")
    section = GatConfig(**_tiny())  # type: ignore[arg-type]
    dataset = load_dataset(load(tmp_path / "run.toml").data, [tmp_path])  # the item text it read
    data = build_data(split.train.user_items, dataset.item_meta, section, 2024)  # the run's seed
    model = new_model(data, section, 0)
    model.load_state_dict(torch.load(out / "graph_transformer" / "model-seed2024.pt"))
    users = split.test.active_users()
    scores = prompt_scorer(model, data, section)(torch.from_numpy(users)).numpy()
    recalls = []
    for row, u in zip(scores, users, strict=True):
        row = row.copy()
        row[split.train.items_of(u)] = -np.inf
        row[split.valid.items_of(u)] = -np.inf
        top = set(np.argsort(-row, kind="stable")[:20].tolist())
        held = set(split.test.items_of(u).tolist())
        recalls.append(len(held & top) / len(held))
    assert run["test"]["recall@20"] == pytest.approx(np.mean(recalls), abs=1e-6)
    # a rerun reuses both stages' files
    stamp = (out / "graph_transformer" / "pretrain-seed2024.pt").stat().st_mtime_ns
    assert main(["run", str(_config(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    assert (out / "graph_transformer" / "pretrain-seed2024.pt").stat().st_mtime_ns == stamp


def _tiny() -> dict[str, object]:
    import tomllib

    return tomllib.loads(TINY)["graph_transformer"]


def test_generated_attributes_join_the_item_text(tmp_path: Path) -> None:
    """An augmentation beside the run (RUN_DIR/augment) adds its attributes to the item text ("auto");
    `attributes = "off"` leaves them out; a folder without attributes.tsv is a config error."""
    out = tmp_path / "out"
    augment = out / "augment"
    augment.mkdir(parents=True)
    rows = "".join(f"i{i}\tCountry {i % 3}\tlocal\n" for i in range(36))
    (augment / "attributes.tsv").write_text("item_id\tcountry\tteacher\n" + rows)
    (augment / "manifest.json").write_text(json.dumps({"teacher": {"kind": "local"}}))
    config = _config(tmp_path)
    args = ["run", str(config), "--out", str(out), "--no-progress", "--set", 'methods=["graph_transformer"]']
    assert main(args) == 0
    prompts = json.loads((out / "graph_transformer" / "metrics.json").read_text())["prompts"]
    assert prompts["attributes_filled_country"] == 36
    noted = json.loads((out / "summary.json").read_text())["graph_transformer"]["attributes"]
    assert noted["teacher"] == {"kind": "local"} and noted["filled"] == {"country": 36}
    off = tmp_path / "off"
    assert main([*args[:3], str(off), *args[4:], "--set", 'graph_transformer.attributes="off"']) == 0
    prompts = json.loads((off / "graph_transformer" / "metrics.json").read_text())["prompts"]
    assert "attributes_filled_country" not in prompts
    bad = [*args[:3], str(tmp_path / "bad"), *args[4:], "--set", f'graph_transformer.attributes="{tmp_path}"']
    assert main(bad) != 0
