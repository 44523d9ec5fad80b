"""The method registry and the plan: a toy method plugs in through the registry alone and runs end to
end through `llmrec run`; plans are ordered by artefacts; bad plans fail before any data loads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from llmrec import config as cfgmod
from llmrec.cli import main
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.methods import METHODS, get_method, register, unregister
from llmrec.methods.baselines import baseline
from llmrec.models import MODELS, Capabilities, ModelSpec
from llmrec.plan import plan
from tests.conftest import write_block_csv


@dataclass(frozen=True)
class CoConfig:
    """[model.cooc]: none."""


class CoOccurrence(nn.Module):
    """Toy closed-form recommender: a user's items times the item co-occurrence matrix."""

    capabilities = Capabilities(closed_form=True)

    def __init__(self, n_users: int, n_items: int) -> None:
        super().__init__()
        self.shape = (n_users, n_items)

    def fit(self, user_items: sp.csr_matrix) -> CoOccurrence:
        self.r_ = user_items.tocsr().astype(np.float32)
        self.c_ = (self.r_.T @ self.r_).toarray()
        return self

    def score(self, users: torch.Tensor, graph: object = None) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.r_[users.numpy()] @ self.c_, dtype=np.float32))


@pytest.fixture
def toy_method(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The toy model and method, registered for one test."""
    monkeypatch.setitem(MODELS, "cooc", ModelSpec(CoOccurrence, CoConfig, ()))
    method = register(baseline("cooc", "item co-occurrence (a test's toy)", "-"))
    yield method
    unregister("cooc")


def test_a_toy_method_runs_end_to_end_through_llmrec_run(toy_method, tmp_path: Path, capsys) -> None:
    csv = write_block_csv(tmp_path)
    config = tmp_path / "run.toml"
    config.write_text(
        f'seeds = 2\nmethods = ["cooc", "bpr-mf"]\n[data]\ndataset = "custom"\npath = "{csv}"\n'
        'rating_col = "rating"\n[split]\nratios = [0.6, 0.2, 0.2]\n[train]\nepochs = 5\nbatch_size = 64\n'
    )
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["models"]) == ["cooc", "bpr-mf"] and "cooc" in capsys.readouterr().out
    # independent route: the co-occurrence scores by hand on the saved split, ranked with numpy
    from llmrec.rundir import load_split

    split = load_split(out / "cooc")
    r = split.train.user_items.toarray()
    scores = r @ (r.T @ r)
    scores[r > 0] = -np.inf
    recalls = []
    for u in split.test.active_users():
        held = set(split.test.items_of(u))
        masked = scores[u].copy()
        masked[split.valid.items_of(u)] = -np.inf
        top = np.argsort(-masked, kind="stable")[:20]
        recalls.append(len(held & set(top.tolist())) / len(held))
    assert summary["models"]["cooc"]["test"]["recall@20"] == pytest.approx(np.mean(recalls), abs=1e-6)
    assert main(["methods", "cooc", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert listed["model"]["capabilities"] == ["closed_form"] and listed["kind"] == "baseline"


def test_methods_lists_stages_knobs_and_defaults(capsys) -> None:
    assert main(["methods"]) == 0
    text = capsys.readouterr().out
    for name in METHODS:
        assert f"{name}  (" in text
    assert "stage augment: " in text and "[base -> llmrec.augmentation]" in text
    assert "[model.sgl]: ssl_weight = 0.1, ssl_temp = 0.2, drop_ratio = 0.1" in text
    assert "[llmrec]: augment_dir = '', edges = True" in text
    assert main(["methods", "nope"]) == 2


def test_the_plan_orders_stages_by_what_they_consume() -> None:
    cfg = cfgmod.replace(RunConfig(), methods=("llmrec", "bpr-mf", "lightgcn"))
    labels = [p.label for p in plan(cfg).stages]
    assert labels == ["bpr-mf:train", "lightgcn:train", "llmrec:augment", "llmrec:train"]
    cut = plan(cfgmod.replace(cfg, methods=("lightgcn", "llmrec:augment")))
    assert [p.label for p in cut.stages] == ["lightgcn:train", "llmrec:augment"]
    assert not cut.complete(get_method("llmrec")) and cut.complete(get_method("lightgcn"))
    given = plan(cfgmod.replace(cfg, methods=("llmrec",), **{"llmrec.augment_dir": "somewhere"}))
    assert [p.label for p in given.stages] == ["llmrec:train"]
    assert given.skipped[0][0] == "llmrec:augment" and "somewhere" in given.skipped[0][1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"methods": ("lightgcn", "ngcf")}, "unknown method 'ngcf'"),
        ({"methods": ("lightgcn", "llmrec:encode")}, "method llmrec has no stage 'encode'"),
        ({"methods": ("lightgcn", "lightgcn")}, "each method once"),
        ({"methods": ("llmrec",)}, "or set llmrec.augment_dir to skip this stage"),
        ({"model.lightgcn.drop_ratio": 0.1}, "drop_ratio is a knob of [model.sgl]"),
        ({"llmrec.edgs": False}, "llmrec: unknown key(s) ['edgs']"),
        ({"llmrecc.edges": False}, "[llmrecc]: unknown table"),
        ({"bpr-mf.lr": 0.1}, "[bpr-mf]: method bpr-mf has no settings of its own"),
    ],
)
def test_bad_plans_are_one_line_errors(changes: dict, message: str) -> None:
    cfg = cfgmod.replace(RunConfig(), methods=("lightgcn", "llmrec"))
    with pytest.raises(ConfigError) as err:
        plan(cfgmod.replace(cfg, **changes))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_registering_twice_or_without_stages_is_refused(toy_method) -> None:
    with pytest.raises(ConfigError, match="already registered"):
        register(toy_method)
    with pytest.raises(ConfigError, match="built-in"):
        unregister("lightgcn")
