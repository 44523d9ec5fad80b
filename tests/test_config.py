"""Typed config: unknown keys and wrong types raise with the valid choices; TOML round-trips."""

import hashlib

import pytest

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.errors import ConfigError


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['lrr'\].*'lr'"):
        cfgmod.from_dict(RunConfig, {"train": {"lrr": 0.1}})


def test_wrong_type_names_the_key() -> None:
    with pytest.raises(ConfigError, match="train.epochs"):
        cfgmod.from_dict(RunConfig, {"train": {"epochs": "many"}})


def test_toml_round_trip_and_coercion(tmp_path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("seeds = 3\n[train]\nlr = 1\n[eval]\nks = [5, 10]\n[split]\nratios = [0.7, 0.2, 0.1]\n")
    cfg = cfgmod.load(path)
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.eval.ks == (5, 10) and cfg.seeds == 3
    path.write_text(cfgmod.dumps_toml(cfg))
    assert cfgmod.load(path) == cfg


def test_missing_and_malformed_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        cfgmod.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        cfgmod.load(bad)


def test_fingerprint_covers_defaults_and_changes() -> None:
    a = RunConfig()
    assert cfgmod.fingerprint(a) == cfgmod.fingerprint(RunConfig())
    assert cfgmod.fingerprint(a) != cfgmod.fingerprint(cfgmod.replace(a, **{"train.lr": 0.5}))


def test_train_by_model_overrides_one_model_and_round_trips(tmp_path) -> None:
    import tomllib

    from llmrec.plan import plan

    text = 'methods = ["bpr-mf", "lightgcn"]\n[train]\nlr = 0.02\n[train_by_model.bpr-mf]\nlr = 0.005\n'
    cfg = cfgmod.from_dict(cfgmod.RunConfig, tomllib.loads(text))
    assert cfgmod.for_model(cfg, "bpr-mf").train.lr == 0.005
    assert cfgmod.for_model(cfg, "lightgcn").train.lr == 0.02
    assert cfgmod.for_model(cfg, "bpr-mf").model.name == "bpr-mf"
    assert cfgmod.from_dict(cfgmod.RunConfig, tomllib.loads(cfgmod.dumps_toml(cfg))) == cfg
    with pytest.raises(ConfigError, match=r"train_by_model.bpr-mf: unknown key\(s\) \['lrr'\]"):
        cfgmod.from_dict(cfgmod.RunConfig, tomllib.loads("[train_by_model.bpr-mf]\nlrr = 1\n"))
    with pytest.raises(ConfigError, match="train_by_model.sgl: not a method of this run"):
        plan(cfgmod.replace(cfg, train_by_model={"sgl": {"lr": 0.1}}))
    with pytest.raises(ConfigError, match="train.lr must be positive"):
        plan(cfgmod.replace(cfg, train_by_model={"lightgcn": {"lr": -1.0}}))
    with_llmrec = cfgmod.replace(cfg, methods=("bpr-mf", "lightgcn", "llmrec"))
    plan(cfgmod.replace(with_llmrec, train_by_model={"llmrec": {"lr": 0.01}}))  # the augmented model too
    # dynamic negatives: the BPR baselines take them, LLMRec's stage does not, GF-CF has no negatives
    dns = cfgmod.replace(cfg, **{"train.negatives": 8})
    plan(cfgmod.replace(dns, methods=("gf-cf", "lightgcn"), train_by_model={}))
    staged = cfgmod.replace(dns, methods=("bpr-mf", "lightgcn", "llmrec"))
    with pytest.raises(ConfigError, match="LLMRec trains on uniform negatives only"):
        plan(staged)
    plan(cfgmod.replace(staged, train_by_model={"llmrec": {"negatives": 1}}))


def test_eval_screen_is_checked_and_left_out_of_the_run_fingerprint() -> None:
    """The screen changes how the top K is found, not what it is: a run resumes across it."""
    import numpy as np

    from llmrec.data.dataset import Split
    from llmrec.data.interactions import Interactions
    from llmrec.fingerprint import run_fingerprint
    from llmrec.plan import plan

    cfg = RunConfig()
    assert cfg.eval.screen_flag() is None
    with pytest.raises(ConfigError, match="eval.screen: expected auto, on or off, got 'fast'"):
        plan(cfgmod.replace(cfg, eval=cfgmod.replace(cfg.eval, screen="fast")))
    ids = np.arange(3)
    part = Interactions.from_pairs(np.array([0, 1]), np.array([1, 2]), ids, ids)
    split = Split(part, part, part, "given")
    on = cfgmod.replace(cfg, eval=cfgmod.replace(cfg.eval, screen="on"))
    other_k = cfgmod.replace(cfg, eval=cfgmod.replace(cfg.eval, ks=(5,)))
    assert run_fingerprint(on, split, None) == run_fingerprint(cfg, split, None)
    assert run_fingerprint(other_k, split, None) != run_fingerprint(cfg, split, None)


def test_what_enters_a_run_fingerprint() -> None:
    """Checkpoint frequency and the folder of extra edges never enter it (the edges' contents do);
    a model's own knobs enter only its own runs' fingerprints, and a shared knob only the fingerprints
    of models that take it. The hash is rebuilt here from its parts."""
    import numpy as np
    import scipy.sparse as sp

    from llmrec.data.dataset import Split
    from llmrec.data.interactions import Interactions
    from llmrec.fingerprint import run_fingerprint

    ids = np.arange(3)
    part = Interactions.from_pairs(np.array([0, 1]), np.array([1, 2]), ids, ids)
    split = Split(part, part, part, "given")
    cfg = RunConfig()
    base = run_fingerprint(cfg, split, None)
    assert run_fingerprint(cfgmod.replace(cfg, **{"train.checkpoint_minutes": 30.0}), split, None) == base
    assert run_fingerprint(cfgmod.replace(cfg, **{"train.extra_edges": "x"}), split, None) == base
    # min_epochs came later: hashed only when set, so runs made before it are still reused
    assert run_fingerprint(cfgmod.replace(cfg, **{"train.min_epochs": 5}), split, None) != base
    assert run_fingerprint(cfgmod.replace(cfg, **{"model.sgl.drop_ratio": 0.3}), split, None) == base
    sgl = cfgmod.replace(cfg, **{"model.name": "sgl"})
    assert run_fingerprint(cfgmod.replace(sgl, **{"model.sgl.drop_ratio": 0.3}), split, None) != (
        run_fingerprint(sgl, split, None)
    )
    mf = cfgmod.replace(cfg, **{"model.name": "bpr-mf"})
    assert run_fingerprint(cfgmod.replace(mf, **{"model.n_layers": 1}), split, None) == (
        run_fingerprint(mf, split, None)
    )
    extra = sp.csr_matrix(([1.0], ([0], [0])), shape=(3, 3))
    assert run_fingerprint(cfg, split, None, extra=extra) != base
    digest = hashlib.sha256()
    for p in (split.train, split.valid, split.test):
        digest.update(p.user_items.indptr.tobytes())
        digest.update(p.user_items.indices.tobytes())
    model = {"dim": 64, "n_layers": 3, "name": "lightgcn", "options": {}}
    train = {
        k: v
        for k, v in cfgmod.to_dict(cfg.train).items()
        if k not in ("checkpoint_minutes", "extra_edges", "min_epochs")
    }
    evals = {k: v for k, v in cfgmod.to_dict(cfg.eval).items() if k != "screen"}
    rebuilt = cfgmod.fingerprint(cfg.data, cfg.split, model, train, evals, cfg.seed, None, digest.hexdigest())
    assert base == rebuilt
