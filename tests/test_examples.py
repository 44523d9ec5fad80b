"""Every shipped example config loads, passes the pipeline's checks, and says what it claims."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmrec import config as cfgmod
from llmrec.pipeline import check_config

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_is_valid(path: Path) -> None:
    cfg = cfgmod.load(path)
    check_config(cfg, single=not cfg.models)
    assert not re.search(r"(?m)^\s*api_key\s*=", path.read_text())  # keys come from the environment


def test_the_issue_asks_for_these_examples() -> None:
    stems = {p.stem for p in EXAMPLES}
    assert {"ml100k", "ml_latest_small", "netflix", "openai_server", "gowalla_lightgcn"} <= stems
    for stem in ("ml100k", "ml_latest_small", "netflix", "openai_server"):
        cfg = cfgmod.load(Path(__file__).parent.parent / "examples" / f"{stem}.toml")
        assert cfg.stages == ("train", "augment", "llmrec"), stem
    assert cfgmod.load(EXAMPLES[0].parent / "openai_server.toml").augment.teacher == "llm"
