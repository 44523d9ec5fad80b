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

    from llmrec.pipeline import check_config

    text = 'models = ["bpr-mf", "lightgcn"]\n[train]\nlr = 0.02\n[train_by_model.bpr-mf]\nlr = 0.005\n'
    cfg = cfgmod.from_dict(cfgmod.RunConfig, tomllib.loads(text))
    assert cfgmod.for_model(cfg, "bpr-mf").train.lr == 0.005
    assert cfgmod.for_model(cfg, "lightgcn").train.lr == 0.02
    assert cfgmod.for_model(cfg, "bpr-mf").model.name == "bpr-mf"
    assert cfgmod.from_dict(cfgmod.RunConfig, tomllib.loads(cfgmod.dumps_toml(cfg))) == cfg
    with pytest.raises(ConfigError, match=r"train_by_model.bpr-mf: unknown key\(s\) \['lrr'\]"):
        cfgmod.from_dict(cfgmod.RunConfig, tomllib.loads("[train_by_model.bpr-mf]\nlrr = 1\n"))
    with pytest.raises(ConfigError, match="train_by_model.sgl: not a model of this run"):
        check_config(cfgmod.replace(cfg, train_by_model={"sgl": {"lr": 0.1}}))
    with pytest.raises(ConfigError, match="train.lr must be positive"):
        check_config(cfgmod.replace(cfg, train_by_model={"lightgcn": {"lr": -1.0}}))
    check_config(cfgmod.replace(cfg, train_by_model={"llmrec": {"lr": 0.01}}))  # the augmented model too
    # dynamic negatives: the BPR baselines take them, LLMRec's stage does not, GF-CF has no negatives
    dns = cfgmod.replace(cfg, **{"train.negatives": 8})
    check_config(cfgmod.replace(dns, models=("gf-cf", "lightgcn"), train_by_model={}))
    staged = cfgmod.replace(dns, stages=("augment", "train", "llmrec"))
    with pytest.raises(ConfigError, match="LLMRec trains on uniform negatives only"):
        check_config(staged)
    check_config(cfgmod.replace(staged, train_by_model={"llmrec": {"negatives": 1}}))


def test_eval_screen_is_checked_and_left_out_of_the_run_fingerprint() -> None:
    """The screen changes how the top K is found, not what it is: a run resumes across it."""
    import numpy as np

    from llmrec.data.dataset import Split
    from llmrec.data.interactions import Interactions
    from llmrec.pipeline import check_config, run_fingerprint

    cfg = RunConfig()
    assert cfg.eval.screen_flag() is None
    with pytest.raises(ConfigError, match="eval.screen: expected auto, on or off, got 'fast'"):
        check_config(cfgmod.replace(cfg, eval=cfgmod.replace(cfg.eval, screen="fast")))
    ids = np.arange(3)
    part = Interactions.from_pairs(np.array([0, 1]), np.array([1, 2]), ids, ids)
    split = Split(part, part, part, "given")
    on = cfgmod.replace(cfg, eval=cfgmod.replace(cfg.eval, screen="on"))
    other_k = cfgmod.replace(cfg, eval=cfgmod.replace(cfg.eval, ks=(5,)))
    assert run_fingerprint(on, split, None) == run_fingerprint(cfg, split, None)
    assert run_fingerprint(other_k, split, None) != run_fingerprint(cfg, split, None)


def test_settings_that_change_no_result_or_came_later_keep_old_fingerprints() -> None:
    """Checkpoint frequency never enters the fingerprint; a knob added later (SimGCL's init) enters it
    only when set away from its default, so runs made before it existed are still reused. The hash
    of a run made before both existed is rebuilt here from its parts without them."""
    import numpy as np

    from llmrec.data.dataset import Split
    from llmrec.data.interactions import Interactions
    from llmrec.pipeline import run_fingerprint

    ids = np.arange(3)
    part = Interactions.from_pairs(np.array([0, 1]), np.array([1, 2]), ids, ids)
    split = Split(part, part, part, "given")
    cfg = RunConfig()
    base = run_fingerprint(cfg, split, None)
    rare = cfgmod.replace(cfg, train=cfgmod.replace(cfg.train, checkpoint_minutes=30.0))
    xavier = cfgmod.replace(cfg, model=cfgmod.replace(cfg.model, simgcl_init="xavier"))
    assert run_fingerprint(rare, split, None) == base
    assert run_fingerprint(xavier, split, None) != base
    # the pre-existing hash: the same parts, as dicts that never had the two keys
    digest = hashlib.sha256()
    for p in (split.train, split.valid, split.test):
        digest.update(p.user_items.indptr.tobytes())
        digest.update(p.user_items.indices.tobytes())
    model = {k: v for k, v in cfgmod.to_dict(cfg.model).items() if k != "simgcl_init"}
    train = {k: v for k, v in cfgmod.to_dict(cfg.train).items() if k != "checkpoint_minutes"}
    evals = {k: v for k, v in cfgmod.to_dict(cfg.eval).items() if k != "screen"}
    old = cfgmod.fingerprint(cfg.data, cfg.split, model, train, evals, cfg.seed, None, digest.hexdigest())
    assert base == old
