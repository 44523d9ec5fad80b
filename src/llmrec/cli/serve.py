"""`llmrec serve RUN_DIR`: the HTTP API and web page of a trained run (docs/serving.md)."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
from pathlib import Path
from typing import Any

ENV_ADMIN_TOKEN = "LLMREC_ADMIN_TOKEN"  # guards POST /admin/reload; never logged or echoed
ENV_WORKER_SETTINGS = "LLMREC_SERVE_WORKER"  # what `--workers N` hands each worker process (JSON)

log = logging.getLogger("llmrec")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add `serve` to `sub`; `common` holds --data-dir, --debug, --quiet."""
    p = sub.add_parser("serve", parents=[common], help="serve a trained run over HTTP (API and web page)")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="an `llmrec train` or `llmrec run` folder")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--model", help="which model of an `llmrec run` folder (default: best on validation)")
    p.add_argument(
        "--llm",
        action="store_true",
        help="write one explanation sentence per question with the run's [llm] backend (cached)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads for scoring (default 1)")
    p.add_argument(
        "--index",
        choices=("exact", "auto", "ivf", "hnsw"),
        default="exact",
        help="search for unfiltered lists: exact (default; equals `llmrec recommend`), an approximate "
        "FAISS index (ivf, hnsw), or auto (exact up to 200,000 items, ivf above); see docs/scale.md",
    )
    p.add_argument("--max-body", type=int, default=64 * 1024, help="largest request body in bytes")
    p.add_argument("--access-log", action="store_true", help="log every request (slower)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port, each with its own copy of the run (default 1); "
        "with more than one, SIGHUP restarts them on RUN_DIR instead of POST /admin/reload",
    )
    p.set_defaults(func=cmd_serve)


def _app(settings: dict[str, Any]) -> Any:
    """The ASGI app of `settings` (run_dir, model, llm, max_body, threads, workers)."""
    import torch

    from llmrec.serve import load_served
    from llmrec.serve.app import create_app, settle_heap
    from llmrec.serve.explain import Sentences

    torch.set_num_threads(max(1, int(settings["threads"])))
    index = _index(settings["index"])
    served = load_served(Path(settings["run_dir"]), settings["model"], index)
    sentences = Sentences(None)
    if settings["llm"]:
        from llmrec.llm import open_llm, resolve_llm_config

        env = dict(os.environ)
        sentences = Sentences(open_llm(resolve_llm_config(served.recommender.run.cfg.llm, env), env))
    token = os.environ.get(ENV_ADMIN_TOKEN) or None
    loader = functools.partial(_load, index=index)
    app = create_app(
        served, sentences, token, int(settings["max_body"]), loader=loader, workers=int(settings["workers"])
    )
    settle_heap()  # this process only serves: take the loaded heap out of the collector's full passes
    return app


def _index(kind: str) -> Any:
    """`IndexParams` for `--index` (None for exact: no index at all)."""
    from llmrec.ann import IndexParams

    return None if kind == "exact" else IndexParams(kind=kind)


def _load(run_dir: Path, model: str | None, index: Any) -> Any:
    """`load_served` with the server's index settings (also for POST /admin/reload)."""
    from llmrec.serve import load_served

    return load_served(run_dir, model, index)


def worker_app() -> Any:
    """uvicorn's factory in each `--workers` process: the app of the settings the parent left in the
    environment."""
    return _app(json.loads(os.environ[ENV_WORKER_SETTINGS]))


def cmd_serve(args: argparse.Namespace) -> int:
    """`llmrec serve RUN_DIR`: load the run (or refuse in one line), then serve until SIGINT/SIGTERM."""
    import uvicorn

    from llmrec.serve import load_served

    settings = {
        "run_dir": str(args.run_dir), "model": args.model, "llm": args.llm, "max_body": args.max_body,
        "threads": args.threads, "workers": max(1, args.workers), "index": args.index,
    }  # fmt: skip
    common = {
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        "access_log": args.access_log,
        "timeout_graceful_shutdown": 10,  # SIGINT/SIGTERM: answer the requests in flight, then stop
    }
    if settings["workers"] > 1:
        load_served(args.run_dir, args.model)  # refuse here, in one line, before any worker starts
        os.environ[ENV_WORKER_SETTINGS] = json.dumps(settings)
        log.info(
            "serving %s with %d workers on http://%s:%d",
            args.run_dir,
            settings["workers"],
            args.host,
            args.port,
        )
        uvicorn.run("llmrec.cli.serve:worker_app", factory=True, workers=settings["workers"], **common)
        return 0
    app = _app(settings)
    served = app.app.app.state.holder.served  # Metrics(BodyLimit(FastAPI))
    info = served.info()
    log.info(
        "serving %s (%s) of %s on http://%s:%d in %.2f s; reload %s",
        info["model"],
        info["chosen_because"],
        info["folder"],
        args.host,
        args.port,
        served.load_seconds,
        "on" if os.environ.get(ENV_ADMIN_TOKEN) else f"off ({ENV_ADMIN_TOKEN} unset)",
    )
    uvicorn.run(app, **common)
    return 0
