"""ER2ALM end to end through `llmrec run` on a toy catalogue: the no-LLM teacher (values by hand, a
rerun reuses every stage) and an LLM teacher behind the fake OpenAI-compatible server (counts of
rejections, repairs and weight problems by hand; profiles built from training items only)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from llmrec.cli import main
from llmrec.er2alm.teacher import concentration_weights
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.rundir import load_split
from tests.retrieval.conftest import HashingEncoder

N_ITEMS = 36
GENRES = ("Drama", "Comedy", "Horror")


def _write_toy(tmp_path: Path) -> tuple[Path, Path]:
    """inter.csv (three taste blocks), items.csv (title, year, genres) and corpus.csv (IMDb layout).

    Items i0..i29 have a document (director "Maker <block>", cast, plot); i30..i35 have none; i5's
    document is dated 30 years off, so the trust gate refuses it.
    """
    lines = ["user_id,item_id,rating"]
    for b in range(3):
        for u in range(10):
            lines += [f"u{b * 10 + u},i{b * 12 + i},5" for i in range(12) if (u + i) % 4 != 0]
    (tmp_path / "inter.csv").write_text("\n".join(lines) + "\n")
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(N_ITEMS)],
            "title": [f"Story Number {i} of Block {i // 12}" for i in range(N_ITEMS)],
            "year": [1980 + i for i in range(N_ITEMS)],
            "genres": [GENRES[i // 12] for i in range(N_ITEMS)],
        }
    )
    items.to_csv(tmp_path / "items.csv", index=False)
    corpus = pd.DataFrame(
        {
            "movie_id": [f"d{i}" for i in range(30)],
            "movie_title": [f"Story Number {i} of Block {i // 12}" for i in range(30)],
            "year": [1980 + i + (30 if i == 5 else 0) for i in range(30)],
            "description": [
                f"A {GENRES[i // 12].lower()} tale about lighthouse keepers number {i}." for i in range(30)
            ],
            "director": [f"['Maker {i // 12}']" for i in range(30)],
            "writer": ["Someone"] * 30,
            "cast": [f"['Actor {i % 7}', 'Actor {i % 5 + 10}']" for i in range(30)],
            "genre": [GENRES[i // 12] for i in range(30)],
            "age_rating": ["PG"] * 30,
            "movie_length": ["1h 40m"] * 30,
        }
    )
    corpus.to_csv(tmp_path / "corpus.csv", index=False)
    return tmp_path / "inter.csv", tmp_path / "corpus.csv"


def _config(tmp_path: Path, extra: str = "") -> Path:
    inter, corpus = _write_toy(tmp_path)
    path = tmp_path / "run.toml"
    path.write_text(
        f'seeds = 1\nmethods = ["lightgcn", "er2alm"]\n[data]\ndataset = "custom"\npath = "{inter}"\n'
        f'items_path = "{tmp_path / "items.csv"}"\nrating_col = "rating"\n'
        "[split]\nratios = [0.7, 0.15, 0.15]\n[model]\ndim = 8\nn_layers = 1\n"
        "[train]\nepochs = 4\nbatch_size = 256\neval_every = 2\n"
        f'[augment]\nn_candidates = 4\nvector_cache = "{tmp_path / "vectors.sqlite"}"\n'
        f'[er2alm]\ncorpus = "{corpus}"\ngate_folds = 2\ngate_epochs = 5\ngate_n = 5\neta = 0.5\n{extra}'
    )
    return path


@pytest.fixture(autouse=True)
def fake_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashed trigram vectors instead of MiniLM: no model load in a unit test."""
    monkeypatch.setattr("llmrec.methods.er2alm_inputs.encoder_of", lambda ctx: HashingEncoder())


def test_no_llm_teacher_end_to_end_and_rerun_reuses_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", str(_config(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "er2alm" in summary["models"]
    folder = out / "er2alm_inputs"
    aspects = pd.read_csv(folder / "aspects.tsv", sep="\t", dtype=str, keep_default_na=False)
    by_id = aspects.set_index("item_id")
    assert by_id.loc["i13", "director"] == "Maker 1" and by_id.loc["i13", "era"] == "1990s"
    assert by_id.loc["i5", "director"] == "" and by_id.loc["i33", "director"] == ""  # refused; no document
    assert by_id.loc["i33", "genre"] == "Horror"  # the basic attributes still give the genre
    assert set(aspects["source"]) == {"local"}
    retrieval = json.loads((folder / "retrieval.json").read_text())
    assert retrieval["audit"]["accepted"] == 29 and retrieval["audit"]["year"] == 1
    # a user's weights by hand from their training items only
    split = load_split(out / "lightgcn")
    users = json.loads((folder / "users.json").read_text())
    columns = aspects.drop(columns=["item_id", "source"])
    item_rows = [{k: v or None for k, v in r.items()} for r in columns.to_dict("records")]
    u = 3
    history = [item_rows[i] for i in split.train.items_of(u)]
    want = concentration_weights(history, tuple(aspects.columns[1:-1]))
    assert users["weights"][u] == pytest.approx(list(want.values()), abs=1e-4)
    assert users["edges"]["report"]["kept_by_eta"] == min(
        users["edges"]["report"]["picked"], 15
    )  # ceil(30 * 0.5)
    gate = json.loads((folder / "gate.json").read_text())
    assert gate["report"]["aspects_present"] == int(
        (aspects.drop(columns=["item_id", "source"]) != "").sum().sum()
    )
    manifest = json.loads((folder / "features" / "manifest.json").read_text())
    assert manifest["teacher"]["kind"] == "local" and "no LLM" in manifest["teacher"]["note"]
    assert summary["teacher"]["kind"] == "local" and summary["er2alm"]["gate"]["aspects_present"] > 0
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")}
    assert main(["run", str(_config(tmp_path)), "--out", str(out), "--no-progress"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("*.json")} == stamps  # nothing rebuilt


def _answer(messages: list[dict[str, str]]) -> str:
    """The scripted LLM, by prompt wording; first answers of some items are broken on purpose."""
    prompt, repair = messages[1]["content"], len(messages) > 2
    if "Complete the auxiliary information" in prompt:
        n = int(re.search(r"Story Number (\d+)", prompt).group(1))  # type: ignore[union-attr]
        if n == 0 and not repair:
            return "I cannot answer that."
        if n == 1:
            return '{"genre": "Drama"}'  # keys missing, twice: dropped
        return json.dumps(
            {
                "genre": "Drama",
                "director": f"Director {n % 3}",
                "cast": ["A"],
                "country": "USA",
                "language": "en",
                "era": 1990,
                "plot_keywords": ["sea", "light"],
            }
        )
    if "write their preference profile" in prompt:
        return json.dumps(
            {
                "genre": "drama",
                "director": "Director 1",
                "cast": "A",
                "country": "United States",
                "language": "English",
                "era": "1990s",
                "plot_keywords": ["sea"],
            }
        )
    if "Weigh how much each aspect" in prompt:
        return (
            '{"genre": 0.9, "director": "0.6", "cast": "lots", "country": 1.5, "language": 0, '
            '"era": 0.2, "mood": 0.3}'
        )  # plot_keywords missing
    if "Which candidate would the user like most" in prompt:
        return "1::2"
    raise AssertionError(f"unexpected prompt: {prompt[:80]}")


def test_llm_teacher_counts_problems_and_never_shows_held_out_items(tmp_path: Path) -> None:
    with FakeOpenAIServer(answer=_answer, models={"chat-m"}) as server:
        extra = (
            'teacher = "llm"\n[llm]\nmodel = "chat-m"\n'
            f'base_url = "{server.url}"\ncache_path = "{tmp_path / "llm.sqlite"}"\n'
        )
        out = tmp_path / "out"
        assert main(["run", str(_config(tmp_path, extra)), "--out", str(out), "--no-progress"]) == 0
        bodies = list(server.bodies)
    folder = out / "er2alm_inputs"
    aspects = json.loads((folder / "aspects.json").read_text())
    report = aspects["report"]
    assert report["prompts"] == N_ITEMS and report["rejected_first_answers"] == {"format": 2}
    assert (report["repairs_asked"], report["repaired"], report["invalid_after_repair"]) == (2, 1, 1)
    assert aspects["values"][0]["director"] == "Director 0" and aspects["source"][1] == ""
    assert aspects["values"][2]["country"] == "United States" and aspects["values"][2]["era"] == "1990s"
    users = json.loads((folder / "users.json").read_text())
    issues = users["report"]["weights"]["issues"]
    n_profiled = users["report"]["profiles"]["usable"]
    assert issues == {
        k: n_profiled for k in ("boundary", "missing", "not_number", "out_of_range", "unknown_aspect")
    }
    # genre 0.9, director 0.6, cast fallback, country fallback, language 0 -> 0.01, era 0.2, keywords fallback
    assert users["weights"][0] == pytest.approx([0.9, 0.6, 0.5, 0.5, 0.01, 0.2, 0.5])
    split = load_split(out / "lightgcn")
    train_sets = [
        {f"Story Number {int(split.train.item_ids[i][1:])} " for i in split.train.items_of(u)}
        for u in range(split.train.n_users)
    ]
    profile_prompts = [
        b["messages"][1]["content"]
        for b in bodies
        if "write their preference profile" in b["messages"][1]["content"] and len(b["messages"]) == 2
    ]
    assert len(profile_prompts) == n_profiled
    for prompt in profile_prompts:
        shown = {f"Story Number {n} " for n in re.findall(r"Story Number (\d+) ", prompt)}
        assert shown in train_sets  # exactly one user's training items, never a validation or test item
    teacher = json.loads((folder / "features" / "manifest.json").read_text())["teacher"]
    assert teacher == {"kind": "llm", "backend": "openai", "model": "chat-m", "base_url": server.url}
    usage = aspects["llm_usage"]["stages"]["er2alm-aspects"]
    assert usage["items"] == N_ITEMS + 2  # 36 prompts and 2 repairs, each costed
