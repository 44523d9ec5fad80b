"""`llmrec augment` through `llmrec.cli.main`: the local teacher (real MiniLM encoder), an LLM teacher
reached through the environment, LLMRec export, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmrec.cli import main
from llmrec.llm.testing import FakeOpenAIServer

from .test_llm_path import answer


def _local_args(run: Path, tmp_path: Path) -> list[str]:
    return [
        "augment", str(run), "--llm", "local", "--no-progress",
        "--set", f'augment.vector_cache="{tmp_path / "vectors.sqlite"}"', "--set", "augment.n_candidates=4",
    ]  # fmt: skip


def test_local_teacher(toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_local_args(toy_run, tmp_path)) == 0
    printed = capsys.readouterr()
    assert "augmentation audit: teacher local (no LLM was used" in printed.out
    assert f"augmentation folder: {toy_run / 'augment'}" in printed.err
    out = toy_run / "augment"
    rows = (out / "edges.tsv").read_text().splitlines()
    assert rows[0] == "user_id\tpos_id\tneg_id\tteacher" and all(r.endswith("\tlocal") for r in rows[1:])
    assert len(rows) - 1 == 7  # every user with a history and two candidates: all but u6 and u8
    index = json.loads((out / "embeddings.json").read_text())
    assert index["teacher"]["kind"] == "local" and index["model"].endswith("all-MiniLM-L6-v2")
    assert index["files"]["item_text.npy"]["shape"] == [12, 384]
    assert index["files"]["item_attr_country.npy"]["missing_rows"] == 12  # the toy data has no country
    audit = json.loads((out / "audit.json").read_text())
    assert audit["attributes"]["coverage"]["director"]["dataset"] == 0.5 and audit["profiles"]["usable"] == 8

    assert main([*_local_args(toy_run, tmp_path), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["reused"] is True and again["fingerprint"] == audit["fingerprint"]


def test_llm_teacher_from_the_environment_with_export(
    toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAIServer(answer=answer, models={"chat-m", "embed-m"}) as server:
        monkeypatch.setenv("LLMREC_LLM_BASE_URL", server.url)  # the CLI hands the environment down
        monkeypatch.setenv("LLMREC_LLM_MODEL", "chat-m")
        code = main(
            [
                "augment", str(toy_run), "--llm", "openai", "--out", str(tmp_path / "aug"),
                "--set", "augment.n_candidates=4", "--set", 'augment.encoder="llm"',
                "--set", 'llm.embedding_model="embed-m"',
                "--set", f'llm.cache_path="{tmp_path / "c.sqlite"}"',
                "--set", f'augment.vector_cache="{tmp_path / "v.sqlite"}"',
                "--export-llmrec", str(tmp_path / "release"), "--no-progress",
            ]
        )  # fmt: skip
        assert code == 0 and server.requests > 0
    printed = capsys.readouterr()
    assert (
        "teacher llm (openai / chat-m)" in printed.out and "edges: 5 (user, pos, neg) triples" in printed.out
    )
    assert (tmp_path / "release" / "augmented_sample_dict").is_file()
    assert json.loads((tmp_path / "aug" / "audit.json").read_text())["teacher"]["base_url"] == server.url


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("llmrec: error: ") and "\n" not in err
    return err


def test_bad_input(toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "takes only augment.* and llm.* keys" in _error(
        capsys, ["augment", str(toy_run), "--set", "train.lr=1"]
    )
    assert "unknown key(s) ['n_cand']" in _error(
        capsys, ["augment", str(toy_run), "--set", "augment.n_cand=3"]
    )
    assert "give one" in _error(capsys, ["augment", str(toy_run), "--llm", "local", "--import-llmrec", "x"])
    assert "is not a run directory" in _error(
        capsys, ["augment", str(tmp_path / "nothing"), "--llm", "local"]
    )
    assert "llm.replay_path" in _error(capsys, ["augment", str(toy_run), "--llm", "replay"])
    missing = tmp_path / "release"
    missing.mkdir()
    empty = ["augment", str(toy_run), "--import-llmrec", str(missing), "--set", "augment.n_candidates=4"]
    assert "none of LLMRec's files" in _error(capsys, empty)
    (missing / "augmented_sample_dict").write_bytes(b"\x80\x04garbage")
    argv = ["augment", str(toy_run), "--import-llmrec", str(missing), "--set", "augment.n_candidates=4",
            "--set", f'augment.vector_cache="{tmp_path / "v.sqlite"}"']  # fmt: skip
    err = _error(capsys, argv)
    assert "not a readable LLMRec file" in err
