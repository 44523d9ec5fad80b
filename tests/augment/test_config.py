"""[augment] and [llm] tables of the run config: validation, unknown keys, TOML round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmrec import config as cfgmod
from llmrec.augment.config import AugmentConfig
from llmrec.config import RunConfig
from llmrec.errors import ConfigError
from llmrec.llm import LLMConfig


def test_defaults_are_nested_in_the_run_config() -> None:
    cfg = RunConfig()
    assert cfg.augment == AugmentConfig() and cfg.llm == LLMConfig()
    assert cfg.augment.attributes == ("director", "country", "language") and cfg.augment.n_candidates == 10


def test_toml_round_trip_with_prices_and_tuples(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[augment]\nteacher = "llm"\nattributes = ["director", "writer"]\nn_candidates = 20\n'
        '[llm]\nmodel = "gpt-4o-mini"\nbase_url = "http://localhost:8000/v1"\n'
        'prices = [["gpt-4o-mini", 0.15, 0.6], ["text-embedding-3-small", 0.02, 0]]\n'
    )
    cfg = cfgmod.load(path)
    assert cfg.augment.attributes == ("director", "writer") and cfg.augment.teacher == "llm"
    assert cfg.llm.prices == (("gpt-4o-mini", 0.15, 0.6), ("text-embedding-3-small", 0.02, 0.0))
    path.write_text(cfgmod.dumps_toml(cfg))
    assert cfgmod.load(path) == cfg


def test_unknown_keys_raise_with_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"augment: unknown key\(s\) \['candidates'\].*'n_candidates'"):
        cfgmod.from_dict(RunConfig, {"augment": {"candidates": 5}})
    with pytest.raises(ConfigError, match=r"llm: unknown key\(s\) \['modell'\]"):
        cfgmod.from_dict(RunConfig, {"llm": {"modell": "x"}})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"teacher": "gpt"}, "augment.teacher"),
        ({"teacher": "llmrec"}, "augment.import_dir"),
        ({"n_candidates": 1}, "augment.n_candidates"),
        ({"history_token_budget": 0}, "augment.history_token_budget"),
        ({"encode_batch": 0}, "augment.encode_batch"),
        ({"audit_samples": -1}, "augment.audit_samples"),
        ({"attributes": ("director", "director")}, "augment.attributes"),
        ({"attributes": ("all",)}, "augment.attributes"),
        ({"attributes": ("box office",)}, "augment.attributes"),
    ],
)
def test_invalid_values(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AugmentConfig(**changes)
