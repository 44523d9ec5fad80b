"""The LLM teacher end to end against a scripted loopback server: every answer, rejection, repair and
count is known in advance (see conftest for the toy run and its candidates)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from llmrec.augment.artefacts import read_attributes, read_edges, read_profiles
from llmrec.augment.audit import format_audit, random_candidates
from llmrec.augment.config import AugmentConfig
from llmrec.inference import augment_run
from llmrec.llm import LLMConfig
from llmrec.llm.testing import FakeOpenAIServer

from .conftest import CANDIDATES

# First answer, then the answer to the repair re-ask, keyed by the first candidate's title.
EDGE_ANSWERS = {
    "Film 0": ("1::2",),  # valid
    "Film 1": ("[2] and [3]",),  # valid, another format
    "Film 2": ("I think they would like the first one.", "1::3"),  # garbage, repaired
    "Film 3": ("1::9", "1::9"),  # out of range twice: dropped
    "Film 4": ("2::2", "2::4"),  # the same item twice, repaired
    "Film 5": ("第一个最好", "Je pense 1"),  # another language, then still no pair: dropped
    "Film 9": ('{"liked": 3, "disliked": 1}',),  # u7's short list (3 candidates), JSON
}
PROFILE = {
    "age": 30, "gender": "female", "liked_genres": ["comedy"], "disliked_genres": "Horror",
    "liked_directors": [], "country": "US", "language": "English", "summary": "Likes comedies.",
}  # fmt: skip


def _answer_edges(messages: list[dict[str, str]]) -> str:
    first = re.search(r"\[1\] (Film \d+)", messages[1]["content"]).group(1)  # type: ignore[union-attr]
    answers = EDGE_ANSWERS[first]
    return answers[min(len(messages) // 2 - 1, len(answers) - 1)]  # 2 messages: first ask, 4: repair


def _answer_attributes(messages: list[dict[str, str]]) -> str:
    item = int(re.search(r"Movie: Film (\d+)", messages[1]["content"]).group(1))  # type: ignore[union-attr]
    repair = len(messages) > 2
    if item == 1:
        return '{"country": "unknown", "language": "English"}'
    if item == 2:
        return '{"country": "United States", "language": "English"}' if repair else "Sorry, no idea."
    if item == 7:
        return '{"director": 42, "country": "USA", "language": "en"}'  # a number is not a name: dropped
    return json.dumps({"director": f"Someone {item}", "country": "USA", "language": "en"})


def _answer_profiles(messages: list[dict[str, str]]) -> str:
    age = int(re.search(r"age: (\d+)", messages[1]["content"]).group(1))  # type: ignore[union-attr]
    repair = len(messages) > 2
    if age == 21 and not repair:  # u1: the country is missing, then supplied
        return json.dumps({k: v for k, v in PROFILE.items() if k != "country"})
    if age == 23:  # u3: never a JSON object
        return "Here is the profile: none"
    return json.dumps(PROFILE)


def answer(messages: list[dict[str, str]]) -> str:
    """The scripted LLM: which augmentation is asked is told by the prompt's wording."""
    prompt = messages[1]["content"]
    if "Which candidate would the user like most" in prompt:
        return _answer_edges(messages)
    if "Give facts about this movie" in prompt:
        return _answer_attributes(messages)
    if "Describe a user" in prompt:
        return _answer_profiles(messages)
    raise AssertionError(f"unexpected prompt: {prompt[:80]}")


@pytest.fixture
def server():
    with FakeOpenAIServer(answer=answer, models={"chat-m", "embed-m"}) as fake:
        yield fake


def _configs(server: FakeOpenAIServer, tmp_path: Path) -> tuple[AugmentConfig, LLMConfig]:
    aug = AugmentConfig(
        teacher="llm",
        n_candidates=4,
        encoder="llm",
        vector_cache=str(tmp_path / "vectors.sqlite"),
        audit_samples=2,
    )
    llm = LLMConfig(
        base_url=server.url,
        model="chat-m",
        embedding_model="embed-m",
        cache_path=str(tmp_path / "llm.sqlite"),
        backoff_base_s=0.01,
        backoff_max_s=0.02,
        max_retries=2,
    )
    return aug, llm


def test_llm_teacher_counts_every_answer_and_reruns_for_free(
    toy_run: Path, server: FakeOpenAIServer, tmp_path: Path
) -> None:
    aug, llm = _configs(server, tmp_path)
    audit = augment_run(toy_run, aug, llm, env={}, show_progress=False)
    out = toy_run / "augment"

    edges = audit["edges"]
    assert (edges["users"], edges["no_history"], edges["too_few_candidates"], edges["short_candidates"]) == (
        9, 1, 1, 1,
    )  # fmt: skip
    assert edges["prompts"] == 7 and edges["over_budget"] == 0 and edges["failed_requests"] == 0
    assert edges["rejected_first_answers"] == {"format": 1, "language": 1, "out_of_range": 1, "same_item": 1}
    assert (edges["repairs_asked"], edges["repaired"], edges["invalid_after_repair"]) == (4, 2, 2)
    assert edges["usable"] == 5 and edges["parse_failure_rate"] == pytest.approx(4 / 7, abs=1e-4)

    triples = read_edges(out)
    got = {
        (int(u), int(p), int(n))
        for u, p, n in zip(triples["user"], triples["pos"], triples["neg"], strict=True)
    }
    # u0 1::2; u1 [2] and [3]; u2 repaired 1::3; u4 repaired 2::4; u7 {"liked": 3, "disliked": 1}
    assert got == {(0, 0, 1), (1, 0, 2), (2, 2, 1), (4, 0, 2), (7, 11, 9)}
    assert list(triples["pos_id"][triples["user"] == 7]) == ["i11"]
    assert triples["teacher"] == {
        "kind": "llm",
        "backend": "openai",
        "model": "chat-m",
        "base_url": server.url,
    }

    quality = edges["quality"]  # validation items: u0 {0}, u1 {0}, u2 {5}, u4 {2}, u7 {11}
    assert quality["users"] == 5
    assert quality["augmented_positive"] == pytest.approx(3 / 5)  # u0, u1, u7
    assert quality["base_top1"] == pytest.approx(1 / 5)  # u0's top candidate is item 0
    assert quality["augmented_negative"] == pytest.approx(1 / 5)  # u4's negative is item 2
    cands = np.array([CANDIDATES[u] for u in range(9)])
    users, valid = [0, 1, 2, 4, 7], [[0], [0], [5], [2], [11]]
    picks = random_candidates(cands, np.array(users), aug.seed)
    expected = np.mean([p in v for p, v in zip(picks, valid, strict=True)])
    assert quality["random_candidate"] == pytest.approx(expected)

    attrs = audit["attributes"]
    assert attrs["prompts"] == 11 and attrs["untitled_skipped"] == 1
    assert attrs["rejected_first_answers"] == {"format": 1, "type": 1}
    assert (attrs["repaired"], attrs["invalid_after_repair"], attrs["usable"]) == (1, 1, 10)
    coverage = attrs["coverage"]
    assert coverage["director"] == {
        "dataset": 0.5,
        "teacher": 0.3333,
        "missing": 0.1667,
        "distinct_values": 6,
    }
    # "USA" and "United States" are one value, "en" and "English" too
    assert coverage["country"] == {"dataset": 0.0, "teacher": 0.75, "missing": 0.25, "distinct_values": 1}
    assert coverage["language"] == {
        "dataset": 0.0,
        "teacher": 0.8333,
        "missing": 0.1667,
        "distinct_values": 1,
    }
    table = read_attributes(out)
    assert table.loc[1, ["country", "language"]].tolist() == ["", "English"]
    assert table.loc[7, ["director", "director_source"]].tolist() == ["", ""]
    assert table.loc[0, ["director", "director_source", "country_source"]].tolist() == [
        "Director A", "dataset", "teacher",
    ]  # fmt: skip

    profiles = audit["profiles"]
    assert (profiles["prompts"], profiles["no_history"], profiles["usable"]) == (8, 1, 7)
    assert profiles["rejected_first_answers"] == {"format": 2}
    assert (profiles["repaired"], profiles["invalid_after_repair"]) == (1, 1)
    saved = {p["user_id"]: p for p in read_profiles(out)}
    assert sorted(saved) == ["u0", "u1", "u2", "u4", "u5", "u7", "u8"]
    # the dataset's age and gender win over the LLM's guess; values are normalised
    assert (saved["u2"]["age"], saved["u2"]["gender"], saved["u2"]["country"]) == (
        22,
        "male",
        "United States",
    )
    assert saved["u2"]["liked_genres"] == ["Comedy"] and saved["u2"]["teacher"] == "llm"

    index = json.loads((out / "embeddings.json").read_text())
    assert index["model"] == "llm:openai:embed-m"
    assert index["files"]["user_profile.npy"] == {"shape": [9, 8], "missing_rows": 2}  # u3 dropped, u6 none
    usage = json.loads((out / "llm_usage.json").read_text())
    assert usage["stages"]["edges"]["repairs"] == 4 and usage["stages"]["edges"]["invalid"] == 2
    assert usage["stages"]["encode"]["answered"] > 0 and usage["teacher"]["kind"] == "llm"
    assert audit["llm_usage"]["requests"] == server.requests  # every request is accounted, embeddings too
    assert "edges: 5 (user, pos, neg) triples" in format_audit(audit)
    assert len(audit["samples"]["edges"]) == 2 and audit["samples"]["edges"][0]["prompt"].startswith(
        "Recommend"
    )

    sent = server.requests
    assert sent >= 7 + 4 + 11 + 2 + 8 + 2  # chat prompts and repairs, plus embedding requests
    again = augment_run(toy_run, aug, llm, env={}, show_progress=False)
    assert again["reused"] and server.requests == sent  # the same folder is reused outright

    elsewhere = augment_run(toy_run, aug, llm, env={}, out=tmp_path / "other", show_progress=False)
    assert server.requests == sent  # a fresh folder: every answer and vector comes from the caches
    assert elsewhere["edges"] == audit["edges"] and elsewhere["attributes"] == audit["attributes"]
    assert elsewhere["encoding"]["encoded"] == 0
    assert (tmp_path / "other" / "edges.tsv").read_text() == (out / "edges.tsv").read_text()


def test_changed_config_rebuilds(toy_run: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    aug, llm = _configs(server, tmp_path)
    first = augment_run(toy_run, aug, llm, env={}, show_progress=False)
    assert "reused" not in first
    fewer = AugmentConfig(**{**aug.__dict__, "n_candidates": 3, "profiles": False})
    second = augment_run(toy_run, fewer, llm, env={}, show_progress=False)
    assert "reused" not in second and second["n_candidates"] == 3 and second["profiles"] is None
    assert not (toy_run / "augment" / "profiles.jsonl").exists()  # a stage switched off leaves nothing behind
    assert second["edges"]["short_candidates"] == 0  # u7 now has a full list of 3


def test_prompt_over_the_budget_is_not_sent(toy_run: Path, server: FakeOpenAIServer, tmp_path: Path) -> None:
    aug, llm = _configs(server, tmp_path)
    tight = AugmentConfig(
        **{**aug.__dict__, "prompt_token_budget": 60, "item_attributes": False, "profiles": False}
    )
    audit = augment_run(toy_run, tight, llm, env={}, show_progress=False)
    assert (
        audit["edges"]["over_budget"] == 7
        and audit["edges"]["prompts"] == 0
        and audit["edges"]["usable"] == 0
    )
