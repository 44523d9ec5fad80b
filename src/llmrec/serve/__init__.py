"""Serving a trained run over HTTP: top-K for known and ad-hoc users, explanations, a web page.

`load_served(run_dir)` loads the run once (`loading.py`); `create_app(served)` is the ASGI app
(`app.py`); `llmrec serve RUN_DIR` runs it on uvicorn. Needs the `serve` extra (FastAPI, uvicorn,
prometheus_client), imported only here and by the CLI command that serves.
"""

from __future__ import annotations

from llmrec.serve.errors import RequestError, RunRefused
from llmrec.serve.loading import Served, load_served

__all__ = ["RequestError", "RunRefused", "Served", "load_served"]
