"""`llmrec serve` as a process on a real loopback socket: the web page in headless Chromium, reload
under load guarded by a token, graceful shutdown; refusals of runs that cannot be served; the LLM
sentence through the cached layer."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from llmrec.cli import main
from llmrec.llm import LLMConfig, open_llm
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.serve import RunRefused, load_served
from llmrec.serve.app import create_app
from llmrec.serve.explain import Sentences

TOKEN = "tok-9f2c1e"
SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running `llmrec serve` process."""

    process: subprocess.Popen[str]
    url: str
    log: Path


@pytest.fixture(scope="module")
def server(run_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`python -m llmrec serve RUN_ROOT` on a free loopback port, with an admin token."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {
        **os.environ,
        "LLMREC_ADMIN_TOKEN": TOKEN,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llmrec", "serve", str(run_root), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"the server did not become ready: {log.read_text()[-2000:]}")
    yield Server(process, url, log)
    if process.poll() is None:
        process.kill()


def test_binds_loopback_and_answers_over_a_real_socket(server: Server) -> None:
    assert "Uvicorn running on http://127.0.0.1:" in server.log.read_text()
    listing = httpx.get(f"{server.url}/users/u0/recommendations", params={"k": 3}).json()
    assert len(listing["items"]) == 3
    bad = httpx.post(
        f"{server.url}/recommendations", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["where"] == "body"


def _chromium() -> str:
    for candidate in (os.environ.get("LLMREC_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        path = candidate and shutil.which(candidate)
        if path:
            return path
    message = "no Chromium found for the browser test: apt-get install chromium (or set LLMREC_CHROMIUM)"
    if os.environ.get("LLMREC_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (virtual time lets its fetches finish)."""
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", url]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False).stdout


def test_web_page_shows_recommendations_and_opens_an_explanation(server: Server, tmp_path: Path) -> None:
    dom = _dom(f"{server.url}/?user=u0&k=7&explain=1", tmp_path / "profile")
    assert 'data-ready="1"' in dom, dom[-1500:]
    expected = httpx.get(f"{server.url}/users/u0/recommendations", params={"k": 7}).json()["items"]
    shown = re.findall(r'<tr class="rec-row" data-item="([^"]+)"', dom)
    assert shown == [it["item_id"] for it in expected]
    assert f"<b>{expected[0]['title']}</b>" in dom  # titles, genres
    assert dom.count('class="explanation-row"') == 1 and 'class="path"' in dom  # the first one opened
    assert "no LLM" in dom  # the local teacher is labelled
    history = httpx.get(f"{server.url}/users/u0").json()["history"]
    assert dom.count('class="history-row"') == len(history)


def test_web_page_starts_from_liked_items(server: Server, tmp_path: Path) -> None:
    dom = _dom(f"{server.url}/?items=i0,i1,i2&k=5&explain=1&profile=Drama%20lover", tmp_path / "profile")
    expected = httpx.post(f"{server.url}/recommendations", json={"items": ["i0", "i1", "i2"], "k": 5}).json()
    shown = re.findall(r'<tr class="rec-row" data-item="([^"]+)"', dom)
    assert shown == [it["item_id"] for it in expected["items"]]
    assert 'class="explanation-row"' in dom
    assert len(httpx.get(f"{server.url}/items", params={"q": "Film"}).json()["items"]) == 20  # title search
    # the typed profile text reaches the explanation: the page shows what the API matched, no more
    body = {"items": ["i0", "i1", "i2"], "item": shown[0], "profile": "Drama lover"}
    matches = httpx.post(f"{server.url}/explanations", json=body).json()["aspects"]["profile_matches"]
    row = re.search(r'class="explanation-row".*?</tr>', dom, re.S)
    assert row is not None
    assert ("Profile: text Drama" in row.group(0)) == bool(matches)


def test_reload_needs_the_token_and_drops_no_request(server: Server, run_root: Path) -> None:
    body = {"run_dir": str(run_root / "lightgcn")}
    for headers in ({}, {"authorization": "Bearer wrong"}):
        refused = httpx.post(f"{server.url}/admin/reload", json=body, headers=headers)
        assert refused.status_code == 401 and TOKEN not in refused.text
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url) as c:
            while not stop.is_set():
                statuses.append(c.get("/users/u5/recommendations", params={"k": 5}).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    auth = {"authorization": f"Bearer {TOKEN}"}
    done = httpx.post(f"{server.url}/admin/reload", json=body, headers=auth, timeout=60)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert done.status_code == 200 and done.json()["folder"] == str(run_root / "lightgcn")
    assert httpx.get(f"{server.url}/meta").json()["chosen_because"] == "the folder's own model"
    assert len(statuses) > 10 and set(statuses) == {200}
    bad = httpx.post(f"{server.url}/admin/reload", json={"run_dir": "/no/such/run"}, headers=auth)
    assert bad.status_code == 422 and "no such directory" in bad.json()["error"]["message"]
    assert httpx.get(f"{server.url}/readyz").status_code == 200  # still serving the last good run
    assert TOKEN not in server.log.read_text()


def test_sigterm_shuts_down_gracefully(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    # uvicorn finishes the requests in flight and the lifespan, then re-raises the signal it caught
    assert server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log.read_text()


def _copy(run_root: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "lightgcn"
    shutil.copytree(run_root / "lightgcn", folder)
    return folder


def test_runs_that_cannot_be_served_are_refused_in_one_line(run_root: Path, tmp_path: Path) -> None:
    cases = {}
    cases["missing"] = tmp_path / "nothing-here"
    (tmp_path / "empty").mkdir()
    cases["not a run"] = tmp_path / "empty"
    no_model = _copy(run_root, tmp_path / "a")
    next(no_model.glob("model-seed*.pt")).unlink()
    cases["model-seed"] = no_model
    newer = _copy(run_root, tmp_path / "b")
    text = (newer / "config.toml").read_text()  # a key a later version added
    (newer / "config.toml").write_text(text.replace("[train]\n", "[train]\nwarmup_v9 = 1\n", 1))
    cases["warmup_v9"] = newer
    other = _copy(run_root, tmp_path / "c")
    text = (other / "config.toml").read_text()
    (other / "config.toml").write_text(re.sub(r"(?m)^dim = \d+", "dim = 8", text))
    cases["size mismatch"] = other
    for says, folder in cases.items():
        with pytest.raises(RunRefused) as err:
            load_served(folder)
        message = str(err.value)
        assert "\n" not in message and message.startswith("cannot serve"), message
        assert says in message or (says == "missing" and "no such directory" in message), message


def test_cli_refusal_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("llmrec: error: cannot serve") and "\n" not in err


def test_llm_sentence_is_cached(run_root: Path, tmp_path: Path) -> None:
    with FakeOpenAIServer(models={"chat-m"}) as fake:
        cfg = LLMConfig(
            base_url=fake.url, model="chat-m", cache_path=str(tmp_path / "cache.sqlite"), max_retries=0
        )
        sentences = Sentences(open_llm(cfg, {}))
        with TestClient(create_app(load_served(run_root), sentences)) as client:
            first = client.get("/users/u0/explanations/i2").json()["sentence"]
            again = client.get("/users/u0/explanations/i2").json()["sentence"]
            assert client.get("/meta").json()["llm"] is True
        assert fake.completed == 1  # the second answer came from the cache
        prompt = fake.bodies[0]["messages"][-1]["content"]
    assert first["text"] == again["text"] == " ".join(f"echo: {prompt}".split())
    assert (first["cached"], again["cached"]) == (False, True)
    assert "'Film 2'" in prompt and json.dumps(first["model"]) == '"openai / chat-m"'


def test_workers_share_the_port_and_send_reload_to_sighup(run_root: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "LLMREC_ADMIN_TOKEN": TOKEN,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    log = tmp_path / "workers.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "llmrec", "serve", str(run_root), "--port", str(port), "--workers", "2"],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, pids = time.monotonic() + 120, set()
        while time.monotonic() < deadline and len(pids) < 2:
            try:
                with httpx.Client(base_url=url, timeout=5) as c:  # a fresh connection each time
                    pids.add(c.get("/meta").json()["pid"])
            except httpx.TransportError:
                time.sleep(0.3)
        assert len(pids) == 2, log.read_text()[-2000:]
        listing = httpx.get(f"{url}/users/u0/recommendations", params={"k": 4}).json()
        assert len(listing["items"]) == 4
        auth = {"authorization": f"Bearer {TOKEN}"}
        refused = httpx.post(f"{url}/admin/reload", json={"run_dir": str(run_root)}, headers=auth)
        assert refused.status_code == 409 and "SIGHUP" in refused.json()["error"]["message"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
