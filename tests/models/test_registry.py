"""The model registry: each model's own knobs in the dataclass next to it, its declared capabilities,
and `[model.<name>]` tables typed, checked and routed to that model only."""

import dataclasses
import inspect

import pytest

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.factory import check_model_tables, model_options, new_model
from llmrec.models import MODELS, SHARED, Capabilities, build_model
from llmrec.models.sgl import SGLConfig
from llmrec.models.simgcl import SimGCLConfig


def test_every_model_declares_capabilities_and_a_config_matching_its_constructor() -> None:
    for name, spec in MODELS.items():
        assert isinstance(spec.cls.capabilities, Capabilities), name
        params = inspect.signature(spec.cls.__init__).parameters
        for f in dataclasses.fields(spec.config):  # every knob is a constructor keyword with that default
            assert params[f.name].default == getattr(spec.config(), f.name), (name, f.name)
        assert set(spec.shared) <= set(SHARED) and all(k in params for k in spec.shared), name


def test_capabilities_are_what_the_models_do() -> None:
    caps = {name: spec.capabilities for name, spec in MODELS.items()}
    fused = {"llmrec", "er2alm"}  # LightGCN with side features and augmented triples
    assert {n for n, c in caps.items() if c.closed_form} == {"gf-cf", "pop"}
    assert {n for n, c in caps.items() if c.graph} == {"lightgcn", "sgl", "simgcl", "gf-cf", *fused}
    assert {n for n, c in caps.items() if c.hard_negatives} == {"bpr-mf", "lightgcn", "sgl", "simgcl"}
    assert {n for n, c in caps.items() if c.augmented_triples or c.side_features} == fused
    assert {n for n, c in caps.items() if c.epoch_views} == {"sgl"}
    assert {n for n, c in caps.items() if c.embeddings} == {"bpr-mf", "lightgcn", "sgl", "simgcl", *fused}
    assert {n for n, c in caps.items() if c.sequential} == {"sasrec"}


def test_a_table_reaches_its_model_only() -> None:
    cfg = cfgmod.replace(RunConfig(), **{"model.sgl.ssl_weight": 0.3, "model.simgcl.eps": 0.9})
    assert model_options(cfg.model, "sgl") == SGLConfig(ssl_weight=0.3)
    assert model_options(cfg.model, "simgcl") == SimGCLConfig(eps=0.9)
    sgl = new_model(cfgmod.replace(cfg, **{"model.name": "sgl"}), 5, 6)
    simgcl = new_model(cfgmod.replace(cfg, **{"model.name": "simgcl"}), 5, 6)
    assert (sgl.ssl_weight, sgl.drop_ratio, simgcl.ssl_weight, simgcl.eps) == (0.3, 0.1, 0.5, 0.9)
    gfcf = build_model("gf-cf", 5, 6, options=MODELS["gf-cf"].config(k=16, alpha=0.1))
    assert (gfcf.k, gfcf.alpha) == (16, 0.1)


def test_defaults_are_the_constructors_defaults() -> None:
    for name in MODELS:  # a bare build equals a configured one
        configured = new_model(cfgmod.replace(RunConfig(), **{"model.name": name}), 5, 6)
        bare = build_model(name, 5, 6, 64, 3, 1e-4)
        assert {k: v for k, v in vars(configured).items() if not k.startswith("_")} == {
            k: v for k, v in vars(bare).items() if not k.startswith("_")
        }


def test_wrong_tables_and_knobs_are_one_line_errors() -> None:
    cfg = RunConfig()
    with pytest.raises(ConfigError, match=r"\[model.ngcf\]: no such model"):
        check_model_tables(cfgmod.replace(cfg, **{"model.ngcf.dim": 3}).model)
    wrong = cfgmod.replace(cfg, **{"model.lightgcn.drop_ratio": 0.2}).model
    with pytest.raises(ConfigError, match=r"no knobs of its own \(drop_ratio is a knob of \[model.sgl\]\)"):
        check_model_tables(wrong)
    with pytest.raises(ConfigError, match=r"\[model.sgl\]: unknown key\(s\) \['eps'\]; its knobs: "):
        model_options(cfgmod.replace(cfg, **{"model.sgl.eps": 0.2}).model, "sgl")
    with pytest.raises(ConfigError, match="model.sgl.drop_ratio: expected float"):
        model_options(cfgmod.replace(cfg, **{"model.sgl.drop_ratio": "high"}).model, "sgl")
    with pytest.raises(ConfigError, match="sgl_drop is now model.sgl.drop_ratio"):
        cfgmod.from_dict(RunConfig, {"model": {"sgl_drop": 0.2}})
    with pytest.raises(KeyError):
        build_model("ngcf", 5, 6)
    with pytest.raises(ValueError, match="side features"):
        build_model("lightgcn", 24, 24, 8, 2, 1e-4, item_feature_dims=(4,))
    with pytest.raises(TypeError, match="must be a SGLConfig"):
        build_model("sgl", 5, 6, options=SimGCLConfig())


def test_knobs_reach_llmrec() -> None:
    from llmrec.models import LLMRec

    cfg = cfgmod.replace(
        RunConfig(),
        **{"model.name": "llmrec", "model.llmrec.prune_mode": "official", "model.llmrec.fusion": "learned"},
    )
    model = new_model(cfg, 5, 6, ((), (3,)))
    assert isinstance(model, LLMRec)
    assert (model.prune_mode, model.fusion, model.item_feature_dims, model.aug_weight) == (
        "official",
        "learned",
        (3,),
        0.012,
    )
