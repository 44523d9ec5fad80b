"""The augmentation stage over several endpoints (one failing) and over the Batch API: the same
artefacts as one healthy server, per-endpoint counters in the audit, batch state in the folder."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from llmrec.augment.artefacts import read_edges
from llmrec.inference import augment_run
from llmrec.llm.testing import FakeOpenAIServer, http_error
from llmrec.llm.testing_batch import FakeBatchServer

from .test_llm_path import _configs, answer


def test_endpoints_and_batch_give_the_single_server_artefacts(toy_run: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(answer=answer, models={"chat-m", "embed-m"}) as one:
        aug, llm = _configs(one, tmp_path / "single")
        single = augment_run(toy_run, aug, llm, env={}, show_progress=False)
        expected = (toy_run / "augment" / "edges.tsv").read_text()
        assert single["llm_endpoints"] == []
    with (
        FakeOpenAIServer(answer=answer, models={"chat-m", "embed-m"}) as good,
        FakeOpenAIServer(answer=answer, models={"chat-m", "embed-m"}) as bad,
    ):
        bad.fail_always(http_error(503))
        aug, llm = _configs(good, tmp_path / "multi")
        multi = dataclasses.replace(llm, base_url=None, base_urls=(bad.url, good.url), endpoint_probe_s=60.0)
        audit = augment_run(toy_run, aug, multi, env={}, show_progress=False)
        assert (toy_run / "augment" / "edges.tsv").read_text() == expected
        assert audit["edges"] == single["edges"] and audit["profiles"] == single["profiles"]
        rows = {r["url"]: r for r in audit["llm_endpoints"]}
        assert rows[bad.url.rstrip("/")]["answered"] == 0 and rows[bad.url.rstrip("/")]["state"] == "down"
        assert rows[good.url.rstrip("/")]["answered"] == good.completed
        assert audit["llm_usage"]["requests"] == good.requests + bad.requests
        usage = json.loads((toy_run / "augment" / "llm_usage.json").read_text())
        assert usage["endpoints"] == audit["llm_endpoints"]
        assert audit["teacher"]["base_urls"] == [bad.url, good.url]
    with FakeBatchServer(answer=answer, polls_to_finish=1) as fake:
        aug, llm = _configs(one, tmp_path / "batch")  # `one` is stopped: only its URL shape is used
        batch = dataclasses.replace(llm, backend="openai_batch", base_url=fake.url, batch_poll_s=0.0)
        audit = augment_run(toy_run, aug, batch, env={}, show_progress=False)
        assert (toy_run / "augment" / "edges.tsv").read_text() == expected
        assert audit["edges"] == single["edges"]
        state = json.loads((toy_run / "augment" / "llm_batches.json").read_text())["batches"]
        assert fake.creates == len(state) >= 3 and all(b["collected"] for b in state)  # edges, repairs, ...
    assert read_edges(toy_run / "augment")["teacher"]["backend"] == "openai_batch"
