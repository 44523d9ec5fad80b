"""`build_model` routes each ModelConfig knob to the models that read it, and only to them."""

import dataclasses

import pytest

from llmrec.config import ModelConfig, RunConfig
from llmrec.models import KNOBS, MODELS, build_model
from llmrec.rundir import new_model


def test_every_model_config_knob_is_routed() -> None:
    fields = {f.name for f in dataclasses.fields(ModelConfig)} - {"name", "dim", "n_layers"}
    assert fields == set(KNOBS)
    assert all(set(models) <= set(MODELS) for models, _ in KNOBS.values())


def test_knobs_reach_their_model_and_defaults_match_the_config() -> None:
    sgl = build_model("sgl", 5, 6, 8, 2, 1e-4, sgl_weight=0.3, simgcl_eps=0.9, ssl_temp=0.1)
    assert (sgl.ssl_weight, sgl.ssl_temp, sgl.drop_ratio) == (0.3, 0.1, 0.1)
    simgcl = build_model("simgcl", 5, 6, 8, 2, 1e-4, sgl_weight=0.3, simgcl_eps=0.9)
    assert (simgcl.ssl_weight, simgcl.eps) == (0.5, 0.9)
    gfcf = build_model("gf-cf", 5, 6, 8, 2, 1e-4, gfcf_k=16, gfcf_alpha=0.1)
    assert (gfcf.k, gfcf.alpha) == (16, 0.1)
    # the constructors' defaults are the config's defaults, so a bare build equals a configured one
    for name in MODELS:
        configured = new_model(dataclasses.replace(RunConfig(), model=ModelConfig(name=name)), 5, 6)
        bare = build_model(name, 5, 6, 64, 3, 1e-4)
        assert {k: v for k, v in vars(configured).items() if not k.startswith("_")} == {
            k: v for k, v in vars(bare).items() if not k.startswith("_")
        }


def test_unknown_names_raise() -> None:
    with pytest.raises(KeyError, match="sgl_wieght"):
        build_model("sgl", 5, 6, 8, 2, 1e-4, sgl_wieght=0.3)
    with pytest.raises(KeyError):
        build_model("ngcf", 5, 6, 8, 2, 1e-4)
