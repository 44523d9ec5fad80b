"""`llmrec instruct export`: what the examples show and answer, checked by hand on the block run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from llmrec.augment.parsers import normalise_value, parse_attributes
from llmrec.augment.prompts import SYSTEM
from llmrec.cli import main
from llmrec.instruct.export import (
    ExportConfig,
    attribute_example,
    export_examples,
    hold_out,
    listwise_example,
    similar_users,
    text_rows,
)
from llmrec.rerank import Llama4RecConfig, item_texts, parse_choice, parse_ranking
from llmrec.rerank.candidates import NO_USER
from llmrec.rerank.listwise import user_prompt
from llmrec.rundir import load_item_meta, load_split
from tests.augment.conftest import build_run

CANDIDATE = re.compile(r"^\[([A-Z]+)\] Film (\d+)", re.MULTILINE)


def _export(run: Path, out: Path, *extra: str) -> list[dict]:
    assert main(["instruct", "export", str(run), "--out", str(out), "--quiet", *extra]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _result(run: Path):
    """The export of the block run through the library, as the CLI builds it."""
    split, records = load_split(run), load_item_meta(run).to_dict("records")
    ids = split.train.item_ids.tolist()
    hidden = split.valid.user_items + split.test.user_items
    cfg = ExportConfig(attributes=("director", "genres", "year"), attribute_noun="item")
    texts, rows = item_texts(records, ids), text_rows(records)
    result = export_examples(split.train.user_items, hidden, texts, rows, ids, Llama4RecConfig(), cfg)
    return split, result


def _film(split, item: int) -> str:
    """The number in an item's title: the block CSV's item i<n> is titled 'Film <n>'."""
    return str(split.train.item_ids[item]).removeprefix("i")


def _films_named(text: str) -> set[str]:
    return set(re.findall(r"Film (\d+)\b", text))


def test_jsonl_shape_counts_and_sidecar(block_run: Path, tmp_path: Path, capsys) -> None:
    rows = _export(block_run, tmp_path / "data.jsonl")
    assert "wrote 108 examples (listwise 36, pairs 36, attributes 36)" in capsys.readouterr().out
    for row in rows:
        assert list(row) == ["messages"]
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
        assert row["messages"][0]["content"] == SYSTEM
        assert all(isinstance(m["content"], str) and m["content"] for m in row["messages"])
    meta = json.loads((tmp_path / "data.meta.json").read_text())
    # 36 users with 8 training items each: one held out per user (10% of 8, at least one)
    assert meta["by_task"] == {"listwise": 36, "pairs": 36, "attributes": 36}
    assert meta["examples"] == len(rows) == 108
    assert meta["users_with_held_out"] == meta["held_out_items"] == 36
    assert meta["training_interactions"] == 288
    assert meta["templates"]["listwise"] == "rerank.listwise/v1" and meta["seed"] == 2024


def test_no_validation_or_test_item_in_any_example(block_run: Path, tmp_path: Path) -> None:
    split, result = _result(block_run)
    # the file holds the same examples as the library's result, in order
    rows = _export(block_run, tmp_path / "d.jsonl", "--attributes", "director,genres,year")
    assert [r["messages"] for r in rows] == [e.messages for e in result.examples]
    checked = 0
    for example in result.examples:
        if example.user < 0:
            continue
        u = example.user
        text = "\n".join(m["content"] for m in example.messages)
        unseen = {_film(split, i) for i in [*split.valid.items_of(u), *split.test.items_of(u)]}
        assert len(unseen) == 4 and not unseen & _films_named(text), (u, unseen & _films_named(text))
        held = {_film(split, i) for i in result.held_out[u]}
        assert held <= {_film(split, i) for i in split.train.items_of(u)}
        history = example.messages[1]["content"].split("\n\n")[1]  # the user's own history section
        assert history.startswith("The user's history (all 7 ") and not held & _films_named(history)
        checked += 1
    assert checked == 72


def test_answers_parse_with_llmrecs_own_parsers(block_run: Path) -> None:
    split, result = _result(block_run)
    meta = text_rows(load_item_meta(block_run).to_dict("records"))
    by_task = {t: [e for e in result.examples if e.task == t] for t in ("listwise", "pairs", "attributes")}
    for example in by_task["listwise"]:
        prompt, answer = example.messages[1]["content"], example.messages[2]["content"]
        film_of = dict(CANDIDATE.findall(prompt))
        ids = list(film_of)
        assert len(ids) == 20 and ids[:3] == ["A", "B", "C"]
        ranked = [ids[k] for k in parse_ranking(answer, ids)]
        held = {_film(split, i) for i in result.held_out[example.user]}
        assert {film_of[i] for i in ranked[: len(held)]} == held
        # the rest keep the conventional order the prompt states
        stated = prompt.split("A conventional recommender ranks the candidates: ")[1].split("\n")[0]
        rest = [i for i in stated.split(" > ") if film_of[i] not in held]
        assert ranked[len(held) :] == rest
        # negatives come from other blocks: the user has none of them in any split
        block = int(_film(split, result.held_out[example.user][0])) // 12
        assert all(int(film_of[i]) // 12 != block for i in rest)
    for example in by_task["pairs"]:
        prompt, answer = example.messages[1]["content"], example.messages[2]["content"]
        options = dict(re.findall(r"^\[([AB])\] Film (\d+)", prompt, re.MULTILINE))
        assert options["AB"[parse_choice(answer)]] == _film(split, example.item)
        assert example.item in result.held_out[example.user]
    letters = [e.messages[2]["content"] for e in by_task["pairs"]]
    assert 10 < letters.count("A") < 26  # the held-out item is shown as A or B at random
    for example in by_task["attributes"]:
        prompt, answer = example.messages[1]["content"], example.messages[2]["content"]
        parsed = parse_attributes(answer, ["director"])
        assert parsed == {"director": normalise_value("director", meta[example.item]["director"], "director")}
        assert '"director"' in prompt and "Director " not in prompt.split("\n\n")[1]  # not given away


def test_deterministic_for_a_seed(block_run: Path, tmp_path: Path) -> None:
    a = (tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl")
    _export(block_run, a[0])
    _export(block_run, a[1])
    _export(block_run, a[2], "--seed", "7")
    assert a[0].read_bytes() == a[1].read_bytes()
    assert a[0].read_bytes() != a[2].read_bytes()


def test_tasks_and_max_per_task(block_run: Path, tmp_path: Path) -> None:
    rows = _export(block_run, tmp_path / "p.jsonl", "--tasks", "pairs", "--max-per-task", "5")
    assert len(rows) == 5
    assert all(r["messages"][2]["content"] in ("A", "B") for r in rows)
    meta = json.loads((tmp_path / "p.meta.json").read_text())
    assert meta["by_task"] == {"pairs": 5} and meta["available_by_task"] == {"pairs": 36}
    # a task's examples do not depend on which other tasks are exported
    both = _export(block_run, tmp_path / "both.jsonl", "--tasks", "listwise,pairs", "--max-per-task", "5")
    assert both[5:] == rows


def test_hold_out_rule() -> None:
    train = sp.csr_matrix(np.array([[1] * 30 + [0] * 10, [1] + [0] * 39, [0] * 40, [1, 1] + [0] * 38]))
    visible, held = hold_out(train, ExportConfig(holdout_share=0.1, max_holdout=2))
    assert [len(h) for h in held] == [2, 0, 0, 1]  # 10% of 30 is 3, capped at 2; one item stays history
    assert visible.nnz == train.nnz - 3
    for u, h in enumerate(held):
        assert not set(h) & set(visible[u].indices) and set(h) <= set(train[u].indices)


def test_similar_users_by_cosine_over_visible_rows() -> None:
    m = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=np.float32))
    # 0~1: 2/sqrt(6); 2 shares nothing, so ties (0) go to the lowest index with history
    assert similar_users(m, batch_size=2).tolist() == [1, 0, 0, NO_USER]


def test_listwise_prompt_is_the_rerankers(block_run: Path) -> None:
    """With nothing to hide, the listwise example's prompt is exactly what `llmrec.rerank` sends."""
    split = load_split(block_run)
    texts = item_texts(load_item_meta(block_run).to_dict("records"), split.train.item_ids.tolist())
    train = split.train.user_items
    section = Llama4RecConfig()
    cands = np.array([30, 31, 32, 33, 3])
    example = listwise_example(train, 5, cands, cands == 3, 7, np.zeros(0, np.int64), texts, section)
    assert example.messages[1]["content"] == user_prompt(train, 5, cands, 7, texts, section).text
    answer = example.messages[2]["content"]
    ids = answer.split(" > ")
    first = example.messages[1]["content"].split(f"[{ids[0]}] ")[1].split("\n")[0]
    assert first == texts.full[3]


def test_export_of_an_llmrec_run_folder_uses_a_baseline(tmp_path: Path) -> None:
    build_run(tmp_path / "runs" / "bpr-mf")  # augment's toy run, as a method folder of `llmrec run`
    rows = _export(tmp_path / "runs", tmp_path / "t.jsonl", "--tasks", "attributes,pairs")
    tasks = [("pairs" if r["messages"][2]["content"] in ("A", "B") else "attributes") for r in rows]
    # i0..i10 have titles (i11 has none); every titled item has genres and a year, i0..i5 a director
    assert tasks.count("attributes") == 11
    # users u0..u5 (two training items) and u7, u8 hold one item out; u6 has no history
    assert tasks.count("pairs") == 8
    assert "Director" in rows[0]["messages"][2]["content"]


def test_bad_input_ends_in_one_line(block_run: Path, tmp_path: Path, capsys) -> None:
    assert main(["instruct", "export", str(block_run), "--tasks", "listwise,ratings"]) == 2
    assert "instruct tasks: ['ratings'] given; valid: listwise, pairs, attributes" in capsys.readouterr().err
    assert main(["instruct", "export", str(tmp_path)]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["instruct", "export"])


def test_attribute_answers_are_never_in_the_prompt() -> None:
    meta = {"title": "Heat (1995)", "year": "1995", "genres": "Action|Crime", "director": "Michael Mann",
            "writer": "Michael Mann", "rated": "R"}  # fmt: skip
    cfg = ExportConfig(attributes=("director", "genres", "year", "country"))
    example = attribute_example(meta, 3, "i3", cfg)
    assert example is not None and (example.task, example.item) == ("attributes", 3)
    prompt, answer = example.messages[1]["content"], example.messages[2]["content"]
    # the year is in the title, so it is not asked; the writer field would give the director away
    assert "Movie: Heat (1995); rated: R\n" in prompt and "Mann" not in prompt
    assert 'exactly these keys: "director", "genres".' in prompt
    assert parse_attributes(answer, ["director", "genres"]) == {
        "director": "Michael Mann",
        "genres": "Action, Crime",
    }
    assert attribute_example({**meta, "title": ""}, 3, "i3", cfg) is None  # augment skips untitled items
    assert attribute_example({"title": "Heat (1995)", "year": "1995"}, 3, "i3", cfg) is None
