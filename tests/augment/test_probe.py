"""The teacher probe on a synthetic catalogue whose popular items are the users' positives, against
no-LLM teachers with known answers and a scripted loopback server (including one that never answers)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmrec.augment.probe import ProbeConfig, draw_sample, probe
from llmrec.augment.probe_stats import format_probe, paired_test, user_metrics, verdict
from llmrec.data.dataset import Dataset, Split
from llmrec.data.interactions import Interactions
from llmrec.llm import LLMConfig
from llmrec.llm.testing import FakeOpenAIServer, slow
from llmrec.rundir import save_split

N_USERS, N_ITEMS, LIKED = 12, 40, 8  # every user likes items 0..7 (train); items 8.. are seen by user 0 only


def _run(tmp_path: Path, liked: int = LIKED) -> tuple[Path, Split]:
    ids_u, ids_i = np.array([f"u{u}" for u in range(N_USERS)]), np.array([f"i{i}" for i in range(N_ITEMS)])
    users = np.repeat(np.arange(N_USERS), liked)
    items = np.tile(np.arange(liked), N_USERS)
    rest = np.arange(LIKED, N_ITEMS)  # user 0 touches every other item once, so all are "known"
    users, items = np.r_[users, np.zeros(len(rest), np.int64)], np.r_[items, rest]
    train = Interactions.from_pairs(users, items, ids_u, ids_i)
    empty = Interactions.from_pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), ids_u, ids_i)
    meta = pd.DataFrame(
        {"title": [f"Film {i}" for i in range(N_ITEMS)], "genres": ["Drama"] * N_ITEMS,
         "director": [f"Director {i % 3}" for i in range(N_ITEMS)]}
    )  # fmt: skip
    ds = Dataset("toy", np.zeros(0, np.int64), np.zeros(0, np.int64), ids_u, ids_i, item_meta=meta)
    split = Split(train, empty, empty, method="given")
    out = tmp_path / "run"
    out.mkdir(parents=True)
    save_split(split, ds, out)
    return out, split


CFG = ProbeConfig(users=10, n_candidates=6, max_hidden=2, min_history=3, bootstrap=200, seed=7)


def test_sample_hides_training_positives_among_unseen_items(tmp_path: Path) -> None:
    _, split = _run(tmp_path)
    sample = draw_sample(split, CFG)
    assert len(sample.users) == 10 and 0 not in sample.users.tolist()  # user 0 has seen every item
    for u, row, hid, hist in zip(sample.users, sample.candidates, sample.hidden, sample.history, strict=True):
        train = set(split.train.user_items[u].indices.tolist())
        assert 1 <= hid.sum() <= 2 and set(row[hid].tolist()) <= train  # hidden: training positives
        assert not set(row[~hid].tolist()) & train  # the others: never seen by the user
        assert not set(hist.tolist()) & set(row[hid].tolist()) and len(hist) == len(train) - hid.sum()


def test_no_llm_teachers_have_the_numbers_computed_by_hand(tmp_path: Path) -> None:
    run, split = _run(tmp_path)
    report = probe(run, split, ProbeConfig(**{**CFG.__dict__, "simulated": (1.0, 0.0)}))
    sample = draw_sample(split, CFG)
    t = report["teachers"]
    # hidden items (0..7) have 11+ training counts, the others 1 (user 0's): popularity always hits
    assert t["popularity"]["hit_rate"] == 1.0 and t["popularity"]["auc"] == 1.0
    assert t["random"]["hit_rate"] == pytest.approx((sample.hidden.sum(axis=1) / 6).mean(), abs=1e-4)
    assert t["random"]["auc"] == 0.5 and "not a draw" in t["random"]["label"]
    assert t["simulated p=1.0"]["hit_rate"] == 1.0 and "SIMULATION" in t["simulated p=1.0"]["label"]
    assert t["simulated p=1.0"]["verdict"] == "no better than popularity: augmentation will add noise"  # ties
    assert t["simulated p=1.0"]["vs_popularity"]["metric"] == "hit_rate"
    assert t["simulated p=0.0"]["verdict"].startswith("no better than random")
    assert "popularity" in format_probe(report)


def test_metrics_and_verdict_by_hand() -> None:
    hidden = np.array([[True, False, False], [False, True, True]])
    scores = np.array([[0.9, 0.1, 0.5], [0.3, 0.2, np.nan]])  # user 1: NaN ranks last
    hit, auc, answered = user_metrics(scores, hidden)
    assert hit.tolist() == [1.0, 0.0] and auc.tolist() == [1.0, 0.0] and answered.all()
    unanswered = user_metrics(np.full((1, 3), np.nan), hidden[:1])
    assert np.isnan(unanswered[0][0]) and not unanswered[2][0]
    better = paired_test(np.full(20, 0.9) - np.arange(20) * 0.001, np.full(20, 0.5))
    # all 20 differences positive: the exact one-sided signed-rank p is 1 / 2**20
    assert better["p_value"] == pytest.approx(2.0**-20) and better["mean_difference"] == pytest.approx(0.3905)
    row = {"users_answered": 20, "auc_ci": (0.6, 0.7), "vs_popularity": better}
    assert verdict(row, 0.5) == "adds signal beyond popularity"
    assert verdict({**row, "auc_ci": (0.45, 0.7)}, 0.5).startswith("no better than random")


def _likes_low_numbers(messages: list[dict[str, str]]) -> list[tuple[str, float]]:
    film = int(re.search(r"Candidate movie: Film (\d+)", messages[-1]["content"]).group(1))  # type: ignore[union-attr]
    p = 0.9 if film < LIKED else 0.1
    return [("Yes", math.log(p)), ("No", math.log(1 - p))]


def _answer(messages: list[dict[str, str]]) -> str:
    if "Give facts about this movie" in messages[-1]["content"]:
        assert "Director" not in messages[-1]["content"]  # the answer is never in the question
        return '{"director": "director  0"}'
    return "1::2" if "Candidates:" in messages[-1]["content"] else "Yes"


def _llm(server: FakeOpenAIServer, tmp_path: Path, **kw: object) -> LLMConfig:
    return LLMConfig(base_url=server.url, model="m", cache_path=str(tmp_path / "llm.sqlite"), **kw)  # type: ignore[arg-type]


def test_llm_teacher_listwise_position_bias_and_pointwise_logprobs(tmp_path: Path) -> None:
    run, split = _run(tmp_path)
    with FakeOpenAIServer(answer=_answer, logprobs=_likes_low_numbers) as server:
        report = probe(run, split, CFG, _llm(server, tmp_path), {}, "movie")
    sample = draw_sample(split, CFG)
    t = report["teachers"]
    first_hidden = sample.hidden[:, 0].mean()
    assert t["listwise"]["hit_rate"] == pytest.approx(first_hidden, abs=1e-4)  # always position 1
    assert t["listwise"]["position_bias"]["by_position"] == [10, 0, 0, 0, 0, 0]
    assert t["pointwise"]["hit_rate"] == 1.0 and t["pointwise"]["auc"] == 1.0
    assert (
        t["pointwise"]["parse"]["scored_by_logprobs"] == 60
        and t["pointwise"]["parse"]["no_logprobs"] is False
    )
    assert t["pointwise"]["projected_full_run"]["prompts"] == N_USERS * 6
    assert t["listwise"]["label"] == "LLM openai / m"
    acc = report["attribute_accuracy"]
    right = sum(int(i[1:]) % 3 == 0 for i in acc["items"])  # items whose director is "Director 0"
    assert (acc["asked"], acc["right"], acc["accuracy"]) == (20, right, right / 20) and 0 < right < 20


def test_a_teacher_that_times_out_and_one_in_another_language(tmp_path: Path) -> None:
    run, split = _run(tmp_path)
    cfg = ProbeConfig(**{**CFG.__dict__, "users": 3})
    with FakeOpenAIServer(answer=_answer) as server:
        server.fail_always(slow(2.0))
        report = probe(run, split, cfg, _llm(server, tmp_path, timeout_s=0.2, max_retries=0), {}, "movie")
    t = report["teachers"]
    assert t["listwise"]["users_answered"] == 0 and t["listwise"]["verdict"] == "no answers: nothing to judge"
    assert "kept failing (timed out)" in t["listwise"]["error"] and "timed out" in report["messages"][0]
    assert t["pointwise"]["usage"]["failures"] >= 1
    assert t["popularity"]["hit_rate"] == 1.0  # the no-LLM numbers are still there
    with FakeOpenAIServer(answer=lambda m: "用户会喜欢第一部电影") as server:
        report = probe(run, split, cfg, _llm(server, tmp_path / "x"), {}, "movie")
    t = report["teachers"]
    assert t["listwise"]["parse"]["rejected_first_answers"] == {"language": 3}
    assert t["pointwise"]["parse"]["language"] == 18 and t["pointwise"]["parse"]["no_logprobs"] is True


def test_too_few_positives_to_hide_is_said_and_nothing_breaks(tmp_path: Path) -> None:
    run, split = _run(tmp_path)
    report = probe(run, split, ProbeConfig(**{**CFG.__dict__, "users": 50}))
    assert report["sample"]["probed"] == N_USERS - 1 and "only 11 of the 50 users" in report["messages"][0]
    run, split = _run(tmp_path / "few", liked=3)  # 3 training positives: hiding one leaves 2 < min_history
    report = probe(run, split, CFG)
    # user 0 has positives enough but has seen every item some model knows: nothing to mix in
    assert report["sample"] == {"too_few_positives": N_USERS - 1, "too_few_unseen_items": 1, "asked_for": 10,
                                "probed": 0}  # fmt: skip
    assert report["teachers"] == {} and "nothing probed" in report["messages"][0]


def test_cli_probe_writes_the_report_and_prints_the_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from llmrec.cli import main

    run, _ = _run(tmp_path)
    with FakeOpenAIServer(answer=_answer, logprobs=_likes_low_numbers) as server:
        code = main([
            "teacher", "probe", str(run), "--llm", "openai", "--users", "5", "--simulated", "0.5",
            "--set", f'llm.base_url="{server.url}"', "--set", 'llm.model="m"',
            "--set", f'llm.cache_path="{tmp_path / "c.sqlite"}"',
        ])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert "verdict, pointwise:" in text and "SIMULATION, no LLM" in text and "LLM openai / m" in text
    report = json.loads((run / "teacher_probe.json").read_text())
    assert report["sample"]["probed"] == 5 and report["settings"]["n_candidates"] == 10
    assert set(report["teachers"]) == {"random", "popularity", "simulated p=0.5", "listwise", "pointwise"}


def test_augment_warns_when_its_teacher_failed_the_probe(tmp_path: Path) -> None:
    import json

    from llmrec.augment.config import AugmentConfig
    from llmrec.augment.stage import warn_failed_probe

    llm = LLMConfig(base_url="http://127.0.0.1:1/v1", model="m")
    listwise = {"label": "LLM openai / m", "verdict": "no better than random: x"}
    pointwise = {"label": "LLM openai / m", "verdict": "adds signal beyond popularity"}
    bad = {"teachers": {"listwise": listwise, "pointwise": pointwise}}
    (tmp_path / "teacher_probe.json").write_text(json.dumps(bad))
    run = tmp_path / "lightgcn"
    run.mkdir()
    message = warn_failed_probe(run, AugmentConfig(teacher="llm"), llm)  # found in the parent folder
    assert message is not None and "failed its probe in listwise mode" in message
    assert warn_failed_probe(run, AugmentConfig(teacher="llm", edge_mode="pointwise"), llm) is None
    assert warn_failed_probe(run, AugmentConfig(teacher="llm"), LLMConfig(model="other")) is None
