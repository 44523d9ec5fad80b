"""`llmrec serve RUN_DIR`: the HTTP API and web page of a trained run (docs/serving.md)."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

ENV_ADMIN_TOKEN = "LLMREC_ADMIN_TOKEN"  # guards POST /admin/reload; never logged or echoed

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
    p.add_argument("--max-body", type=int, default=64 * 1024, help="largest request body in bytes")
    p.add_argument("--access-log", action="store_true", help="log every request (slower)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """`llmrec serve RUN_DIR`: load the run (or refuse in one line), then serve until SIGINT/SIGTERM."""
    import torch
    import uvicorn

    from llmrec.serve import load_served
    from llmrec.serve.app import create_app
    from llmrec.serve.explain import Sentences

    torch.set_num_threads(max(1, args.threads))
    served = load_served(args.run_dir, args.model)
    sentences = Sentences(None)
    if args.llm:
        from llmrec.llm import open_llm, resolve_llm_config

        env = dict(os.environ)
        sentences = Sentences(open_llm(resolve_llm_config(served.recommender.run.cfg.llm, env), env))
    token = os.environ.get(ENV_ADMIN_TOKEN) or None
    app = create_app(served, sentences, token, args.max_body)
    info = served.info()
    log.info(
        "serving %s (%s) of %s on http://%s:%d in %.2f s; reload %s",
        info["model"],
        info["chosen_because"],
        info["folder"],
        args.host,
        args.port,
        served.load_seconds,
        "on" if token else f"off ({ENV_ADMIN_TOKEN} unset)",
    )
    # uvicorn stops on SIGINT/SIGTERM after answering the requests in flight (10 s at most)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=args.access_log,
        timeout_graceful_shutdown=10,
    )
    return 0
