"""The rating task through `llmrec run`: baselines chosen by the lowest validation RMSE, paired
p-values, the report's own table; llama4rec-rating's LLM path against a fake that knows each user's
taste, and its no-LLM path, labelled."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from llmrec.cli import main
from llmrec.llm.testing import FakeOpenAIServer

N_USERS, N_ITEMS = 24, 16


def _data(tmp_path: Path) -> tuple[Path, Path]:
    """Even users rate even films 5 and odd ones 1, odd users the reverse (a few ratings 4 and 2);
    items.csv has genres, cast and a director for all but films 3 and 7."""
    rng = np.random.default_rng(0)
    lines = ["user_id,item_id,rating"]
    for u in range(N_USERS):
        for i in range(N_ITEMS):
            like = (u % 2) == (i % 2)
            soft = rng.random() < 0.2
            lines.append(f"u{u},i{i},{(4 if soft else 5) if like else (2 if soft else 1)}")
    inter = tmp_path / "inter.csv"
    inter.write_text("\n".join(lines) + "\n")
    items = tmp_path / "items.csv"
    directors = ["" if i in (3, 7) else f"Director {i % 4}" for i in range(N_ITEMS)]
    rows = [
        f"i{i},Film {i},{'Drama' if i % 2 else 'Action'},{directors[i]},Star {i % 3}" for i in range(N_ITEMS)
    ]
    items.write_text("item_id,title,genres,director,cast\n" + "\n".join(rows) + "\n")
    return inter, items


def _config(tmp_path: Path, section: str, llm: str = "") -> Path:
    inter, items = _data(tmp_path)
    path = tmp_path / "rating.toml"
    path.write_text(
        'seeds = 2\nmethods = ["biased-mf", "deepfm", "llama4rec-rating"]\n'
        f'[data]\ndataset = "custom"\npath = "{inter}"\nitems_path = "{items}"\nrating_col = "rating"\n'
        "rating_threshold = 0.0\n[split]\nratios = [0.6, 0.2, 0.2]\n"
        '[train]\nepochs = 4\nlr = 0.01\nbatch_size = 64\npatience = 2\nmetric = "rmse"\n'
        "[biased-mf]\ndim = 4\n[deepfm]\ndim = 4\nhidden = [8]\n"
        f"{llm}[llama4rec-rating]\n{section}"
    )
    return path


def knows_the_taste(messages: list[dict[str, str]]) -> str:
    """The fake LLM: a director and star for attribute questions; for a rating, the user's taste read
    from the history shown (the parity of the films rated 4 or more)."""
    prompt = messages[-1]["content"]
    if "Give facts" in prompt:
        return '{"director": "Director 9", "star": "Star 9"}'
    liked = [int(i) % 2 for i, r in re.findall(r"- Film (\d+)[^\n]*: (\d)", prompt) if int(r) >= 4]
    item = int(re.search(r"to rate: Film (\d+)", prompt).group(1))  # type: ignore[union-attr]
    return "5" if liked and item % 2 == round(sum(liked) / len(liked)) else "1"


def test_the_rating_run_with_an_llm_rater_and_llm_attributes(tmp_path: Path) -> None:
    with FakeOpenAIServer(answer=knows_the_taste, models={"m"}) as server:
        llm = f'[llm]\nbase_url = "{server.url}"\nmodel = "m"\ncache_path = "{tmp_path / "llm.sqlite"}"\n'
        config = _config(tmp_path, 'attributes = "llm"\nrater = "llm"\nalpha_grid = [0.5, 1.0]\n', llm)
        assert main(["run", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
        asked = server.requests
        # a rerun reuses every trained seed and answers every prompt from the cache
        assert main(["run", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
        assert server.requests == asked
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    models = summary["models"]
    assert list(models) == ["biased-mf", "deepfm", "llama4rec-rating-base", "llama4rec-rating"]
    valid = {n: models[n]["valid"]["rmse"] for n in ("biased-mf", "deepfm")}
    assert summary["best_baseline"] == min(valid, key=valid.__getitem__)  # lowest RMSE, not highest
    assert set(models["llama4rec-rating"]["p_value"]) == {"rmse", "mae"}
    paired = summary["paired"]  # the rater against its own base, the attributes against DeepFM
    assert set(paired) == {"llama4rec-rating vs llama4rec-rating-base", "llama4rec-rating-base vs deepfm"}
    assert paired["llama4rec-rating vs llama4rec-rating-base"]["p_value"]["rmse"] < 0.05
    attributes = json.loads((out / "llama4rec-rating" / "attributes.json").read_text())
    assert attributes["coverage"]["director"] == {"dataset": 14, "llm": 2}  # films 3 and 7 asked
    assert attributes["values"]["director"]["i3"] == "Director 9" and attributes["teacher"]["kind"] == "llm"
    metrics = json.loads((out / "llama4rec-rating" / "metrics.json").read_text())
    assert metrics["rater"] == {"kind": "llm", "backend": "openai", "model": "m"}
    for run in metrics["runs"]:
        # the fake rater is right about every pair: validation gives it all the weight, exact ratings
        # are 1 or 5 except the soft 2s and 4s, so its error is what those leave
        assert run["alpha"]["alpha1"] == 1.0
        assert run["test"]["rmse"] == pytest.approx(run["rater_alone_test"]["rmse"])
        assert run["rater_alone_test"]["rmse"] < 1.0
        assert run["audit"]["test"]["fell_back_to_model"] == 0
    assert metrics["test"]["rmse"] < models["llama4rec-rating-base"]["test"]["rmse"]
    report = (out / "report.md").read_text()
    assert "Rating prediction: test RMSE and MAE" in report and "lower is better" in report


def test_the_no_llm_path_is_labelled_and_alpha_zero_is_the_retrained_deepfm(tmp_path: Path) -> None:
    config = _config(tmp_path, 'aggregation = "model"\n')
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    out = tmp_path / "out"
    metrics = json.loads((out / "llama4rec-rating" / "metrics.json").read_text())
    assert metrics["rater"]["llm"] is False and "no-LLM" in metrics["rater"]["what"]
    assert (
        metrics["attributes_teacher"]["kind"] == "dataset"
        and "no-LLM" in metrics["attributes_teacher"]["what"]
    )
    base = json.loads((out / "llama4rec-rating-base" / "metrics.json").read_text())
    assert metrics["test"] == pytest.approx(base["test"])  # alpha 0: DeepFM with attributes, unchanged
    summary = json.loads((out / "summary.json").read_text())
    assert summary["raters"]["llama4rec-rating"]["rater"]["kind"] == "local"
    heading = (out / "report.md").read_text().splitlines()[2]
    assert "attributes: no-LLM teacher: the dataset's metadata files" in heading
    assert "llama4rec-rating: no-LLM rater" in heading


def test_a_thresholded_dataset_and_a_mixed_run_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, "")
    text = config.read_text()
    config.write_text(text.replace("rating_threshold = 0.0", "rating_threshold = 4.0"))
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) != 0
    assert "data.rating_threshold = 4 drops ratings" in capsys.readouterr().err
    config.write_text(text.replace('"biased-mf", "deepfm"', '"biased-mf", "lightgcn"'))
    assert main(["run", str(config), "--out", str(tmp_path / "o")]) != 0
    assert "one task per run" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before any data loads


def test_ablation_rows_of_the_rating_method_hold_rmse_and_mae(tmp_path: Path) -> None:
    config = _config(tmp_path, "")
    assert main(["ablate", str(config), "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    ablation = json.loads((tmp_path / "out" / "ablation.json").read_text())
    part = ablation["methods"][0]
    assert part["method"] == "llama4rec-rating" and part["metrics"] == ["rmse", "mae"]
    # the local rater reads no prompt, so the no-prompt-augmentation row would equal the full method
    assert [v["name"] for v in part["variants"]] == ["full", "no-aggregation", "fixed-alpha"]
    rater_alone = part["variants"][1]
    # alpha chosen on validation includes 0 (DeepFM alone): the full method is never worse there
    base = json.loads((tmp_path / "out" / "llama4rec-rating-base" / "metrics.json").read_text())
    for full, alone in zip(
        json.loads((tmp_path / "out" / "llama4rec-rating" / "metrics.json").read_text())["runs"],
        base["runs"],
        strict=True,
    ):
        assert full["valid"]["rmse"] <= alone["valid"]["rmse"] + 1e-9
    assert set(rater_alone["p_value"]) == {"rmse", "mae"}
