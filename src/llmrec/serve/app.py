"""The HTTP app: top-K for known and ad-hoc users, similar items, explanations, health, metrics, reload.

`create_app(served, ...)` wraps one loaded run (`loading.load_served`). Every answer that is not 2xx
is JSON `{"error": {"status", "message", "where"}}`, and the server keeps serving. The hot endpoints
are `async` and compute inline: the work is a millisecond of vector arithmetic, less than a hop to a
worker thread would cost. Reload loads the new run in a worker thread and swaps it in whole; a request
keeps the run it started with, so none is dropped. The OpenAPI page is at /docs.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import json
import math
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from llmrec.serve.batching import Batcher
from llmrec.serve.catalogue import Filters
from llmrec.serve.errors import RequestError, RunRefused
from llmrec.serve.explain import Sentences, aspect_matches, explain_prompt, graph_evidence
from llmrec.serve.loading import Served, load_served
from llmrec.serve.middleware import BodyLimit, Metrics, error_body
from llmrec.serve.recommender import Ranked

MAX_BODY = 64 * 1024  # bytes: an ad-hoc history of a few thousand ids fits


class AdHocRequest(BaseModel):
    """A new user: the items they liked (raw ids), K and filters. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    items: list[str] = Field(description="raw item ids the user liked (at least one)")
    k: int = Field(20, description="list length, 1..catalogue size")
    fold_in: str = Field("mean", description="mean: mean of item vectors | lstsq: ridge least squares")
    genres: list[str] = Field(default_factory=list, description="keep items of any of these genres")
    year_min: int | None = None
    year_max: int | None = None


class AdHocExplainRequest(BaseModel):
    """Why `item` suits a new user who liked `items`; `profile` text is matched against its aspects."""

    model_config = ConfigDict(extra="forbid")

    items: list[str]
    item: str
    profile: str = ""
    sentence: bool = True


class ReloadRequest(BaseModel):
    """A run directory to serve instead, and optionally which model of it."""

    model_config = ConfigDict(extra="forbid")

    run_dir: str
    model: str | None = None


@dataclass
class Holder:
    """The run being served; replaced whole by a reload."""

    served: Served
    sentences: Sentences
    reloading: asyncio.Lock = field(default_factory=asyncio.Lock)
    batcher: Batcher = field(default_factory=Batcher)


def _json(content: Any, status: int = 200) -> Response:
    """A JSON response without response-model validation (the hot path)."""
    return Response(_encode(content).encode(), status, media_type="application/json")


TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _query_int(request: Request, name: str, default: int | None) -> int | None:
    """An integer query parameter, parsed by hand (FastAPI's per-parameter machinery costs more than
    the ranking); a 422 naming it when it is not an integer."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise RequestError(422, f"Input should be a valid integer, got {raw!r}", f"query.{name}") from None


def _query_bool(request: Request, name: str, default: bool) -> bool:
    """A boolean query parameter (true/false, 1/0, yes/no, on/off)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in TRUE or raw.lower() in FALSE:
        return raw.lower() in TRUE
    raise RequestError(422, f"Input should be a valid boolean, got {raw!r}", f"query.{name}")


def _documented(*params: tuple[str, str, str]) -> dict[str, Any]:
    """OpenAPI entries of query parameters parsed by hand: (name, type, description)."""
    return {
        "parameters": [
            {"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
            for n, t, d in params
        ]
    }


def _ranked(served: Served, ranked: Ranked) -> RawJSON:
    """A ranked list as the API shows it: [{rank, item_id, title, genres, year, score}], joined from
    each item's cached JSON (the hot path's encoding)."""
    fragment = served.recommender.catalogue.fragment
    rows = (
        f'{{"rank": {r + 1}, {fragment(i)}, "score": {repr(s) if math.isfinite(s) else "null"}}}'
        for r, (i, s) in enumerate(zip(ranked.items, ranked.scores, strict=True))
    )
    return RawJSON("[" + ", ".join(rows) + "]")


class RawJSON(str):
    """JSON text to embed as is in a response."""


def _encode(content: Any) -> str:
    """JSON of `content`, with RawJSON values spliced in unchanged."""
    if isinstance(content, RawJSON):
        return str(content)
    if isinstance(content, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_encode(v)}" for k, v in content.items()) + "}"
    return json.dumps(content, ensure_ascii=False)


def _filters(genres: str | list[str] | None, year_min: int | None, year_max: int | None) -> Filters:
    """Filters from a comma-separated query value or a JSON list (the body's)."""
    names = genres.split(",") if isinstance(genres, str) else genres or []
    origin = "query" if isinstance(genres, str) else "body"
    return Filters(tuple(g.strip() for g in names if g.strip()), year_min, year_max, origin)


def _check_k(served: Served, k: int, where: str) -> None:
    """K must be in 1..catalogue."""
    n = served.recommender.n_items
    if k < 1 or k > n:
        raise RequestError(422, f"k must be between 1 and {n} (the catalogue), got {k}", where)


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    """A pydantic error location as `body.items[2]` / `query.k`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "request"


def _install_errors(app: FastAPI) -> None:
    """Every error as JSON saying what and where."""

    @app.exception_handler(RequestError)
    async def request_error(_: Request, err: RequestError) -> Response:
        return _json(err.body(), err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0]
        loc = tuple(first.get("loc", ()))
        if first.get("type") == "json_invalid":
            at = loc[1] if len(loc) > 1 else "?"
            message = f"malformed JSON at character {at}: {first.get('ctx', {}).get('error', first['msg'])}"
            return _json(json.loads(error_body(422, message, "body")), 422)
        extra = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
        return _json(json.loads(error_body(422, f"{first['msg']}{extra}", _where(loc))), 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        where = f"{request.method} {request.url.path}"
        return _json(json.loads(error_body(err.status_code, str(err.detail), where)), err.status_code)


def settle_heap() -> None:
    """Move every object alive after loading (torch, the run, the app) out of the collector's sight.

    The cyclic collector's oldest generation otherwise rescans those millions of objects now and
    then, a pause of a request's lifetime many times over for whichever requests are in flight
    (measured: 150-200 ms stalls without it). For a process that only serves (`llmrec serve` calls
    it); an application embedding `create_app` decides for its own heap.
    """
    gc.collect()
    gc.freeze()


def create_app(
    served: Served,
    sentences: Sentences | None = None,
    admin_token: str | None = None,
    max_body: int = MAX_BODY,
    loader: Callable[[Path, str | None], Served] = load_served,
    workers: int = 1,
) -> Any:
    """The ASGI app serving `served` (wrapped in the metrics and body-limit layers)."""
    holder = Holder(served, sentences or Sentences(None))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        holder.sentences.close()  # on shutdown, after the requests in flight are answered

    app = FastAPI(
        title="llmrec serve",
        summary="Top-K recommendations with explanations from a trained run",
        lifespan=lifespan,
    )
    app.state.holder = holder
    registry = CollectorRegistry()
    _install_errors(app)
    page = resources.files("llmrec.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/healthz", summary="liveness: the process answers")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/readyz", summary="readiness: a run is loaded")
    async def readyz() -> Response:
        s = holder.served
        return _json({"ready": True, "model": s.recommender.model_name, "folder": str(s.folder)})

    @app.get("/metrics", summary="Prometheus text metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/meta", summary="the run served: model, dataset, counts, genres, years")
    async def meta() -> Response:
        return _json({**holder.served.info(), "llm": holder.sentences.llm is not None, "pid": os.getpid()})

    @app.get("/users", summary="a page of known user ids")
    async def users(offset: int = Query(0, ge=0), limit: int = Query(20, ge=1, le=1000)) -> Response:
        ids = holder.served.recommender.catalogue.user_ids
        return _json({"total": len(ids), "users": ids[offset : offset + limit].tolist()})

    @app.get("/users/{user_id}", summary="a known user's history (train and valid items) and profile")
    async def user(user_id: str) -> Response:
        s = holder.served
        u = s.recommender.catalogue.user(user_id, "path.user_id")
        history = [s.recommender.catalogue.describe(int(i)) for i in s.recommender.history(u)]
        profile = s.augmentations.profiles.get(user_id)
        return _json(
            {"user_id": user_id, "history": history, "profile": profile, "source": s.augmentations.label()}
        )

    user_query = _documented(
        ("k", "integer", "list length, 1..catalogue size (default 20)"),
        ("exclude_seen", "boolean", "leave out the user's train and valid items (default true)"),
        ("genres", "string", "comma-separated; keep items of any of them"),
        ("year_min", "integer", "keep items released in or after this year"),
        ("year_max", "integer", "keep items released in or before this year"),
    )

    @app.get("/users/{user_id}/recommendations", summary="top-K for a known user", openapi_extra=user_query)
    async def recommend_user(user_id: str, request: Request) -> Response:
        s = holder.served
        k = _query_int(request, "k", 20)
        assert k is not None
        _check_k(s, k, "query.k")
        exclude_seen = _query_bool(request, "exclude_seen", True)
        filters = _filters(
            request.query_params.get("genres", ""), _query_int(request, "year_min", None),
            _query_int(request, "year_max", None),
        )  # fmt: skip
        u = s.recommender.catalogue.user(user_id, "path.user_id")
        s.recommender.catalogue.mask(filters)  # a bad filter fails this request here, not its batch
        ranked = await holder.batcher.recommend(
            s.recommender, s.recommender.ask_user(u, k, exclude_seen, filters)
        )
        return _json(
            {"user_id": user_id, "model": s.recommender.model_name, "k": k, "items": _ranked(s, ranked)}
        )

    @app.post("/recommendations", summary="top-K for an ad-hoc user, folded in from liked items")
    async def recommend_items(body: AdHocRequest) -> Response:
        s = holder.served
        _check_k(s, body.k, "body.k")
        items = s.recommender.catalogue.items(body.items, "body.items")
        filters = _filters(body.genres, body.year_min, body.year_max)
        s.recommender.catalogue.mask(filters)  # a bad filter fails this request here, not its batch
        ranked = await holder.batcher.recommend(
            s.recommender, s.recommender.ask_items(items, body.k, body.fold_in, filters)
        )
        return _json(
            {
                "fold_in": body.fold_in,
                "model": s.recommender.model_name,
                "k": body.k,
                "items": _ranked(s, ranked),
            }
        )

    @app.get("/items", summary="items whose title contains q")
    async def items(q: str = Query("", max_length=200), limit: int = Query(20, ge=1, le=200)) -> Response:
        return _json({"items": holder.served.recommender.catalogue.search(q, limit)})

    @app.get("/items/{item_id}/similar", summary="the items nearest to an item")
    async def similar(item_id: str, k: int = Query(10)) -> Response:
        s = holder.served
        _check_k(s, k, "query.k")
        i = s.recommender.catalogue.item(item_id, "path.item_id")
        return _json(
            {"item": s.recommender.catalogue.describe(i), "items": _ranked(s, s.recommender.similar(i, k))}
        )

    async def explanation(
        s: Served,
        history: np.ndarray,
        item: int,
        user: int | None,
        scores: torch.Tensor,
        text: str,
        sentence: bool,
    ) -> dict[str, Any]:
        rec = s.recommender
        allowed = np.ones(rec.n_items, dtype=bool)
        allowed[history] = False
        higher = int((scores[torch.from_numpy(allowed)] > scores[item]).sum())
        profile = (
            s.augmentations.profiles.get(str(rec.catalogue.user_ids[user])) if user is not None else None
        )
        aspects = aspect_matches(rec, s.augmentations, history, item, profile, text)
        graph = graph_evidence(rec, history, item, user)
        out = {
            "item": rec.catalogue.describe(item),
            "score": float(scores[item]),
            "rank": None if not allowed[item] else higher + 1,
            "in_history": not bool(allowed[item]),
            "graph": graph,
            "aspects": aspects,
            "sentence": None,
        }
        if sentence:
            liked = [p["via_item"]["title"] or p["via_item"]["item_id"] for p in graph["paths"]]
            prompt = explain_prompt(
                rec.catalogue.titles[item] or rec.catalogue.item_ids[item], liked, aspects
            )
            out["sentence"] = await run_in_threadpool(holder.sentences.write, prompt)
        return out

    @app.get("/users/{user_id}/explanations/{item_id}", summary="why an item suits a known user")
    async def explain_user(user_id: str, item_id: str, sentence: bool = True) -> Response:
        s = holder.served
        u = s.recommender.catalogue.user(user_id, "path.user_id")
        i = s.recommender.catalogue.item(item_id, "path.item_id")
        out = await explanation(s, s.recommender.history(u), i, u, s.recommender.user_scores(u), "", sentence)
        return _json({"user_id": user_id, **out})

    @app.post("/explanations", summary="why an item suits an ad-hoc user")
    async def explain_items(body: AdHocExplainRequest) -> Response:
        s = holder.served
        history = s.recommender.catalogue.items(body.items, "body.items")
        i = s.recommender.catalogue.item(body.item, "body.item")
        vector = s.recommender.fold_in(history, "mean")
        assert s.recommender.item_vecs is not None
        scores = (vector[None, :] @ s.recommender.item_vecs.T)[0]
        return _json(await explanation(s, history, i, None, scores, body.profile, body.sentence))

    @app.post("/admin/reload", summary="serve another run directory (needs the admin token)")
    async def reload(body: ReloadRequest, authorization: str = Header("")) -> Response:
        if not admin_token:
            raise RequestError(
                403, "reload is disabled: start the server with LLMREC_ADMIN_TOKEN set", "header"
            )
        given = authorization.removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), admin_token.encode()):
            raise RequestError(
                401, "missing or wrong admin token (Authorization: Bearer ...)", "header.authorization"
            )
        if workers > 1:
            raise RequestError(
                409,
                f"reload is per process and this server runs {workers} workers: "
                "send SIGHUP to the server process to restart them on its RUN_DIR",
                "server",
            )
        async with holder.reloading:
            try:
                new = await run_in_threadpool(loader, Path(body.run_dir), body.model)
            except RunRefused as err:
                raise RequestError(422, str(err), "body.run_dir") from None
            old, holder.served = holder.served, new
        return _json({"reloaded": True, "from": str(old.folder), **new.info()})

    return Metrics(BodyLimit(app, max_body), registry)


__all__ = ["MAX_BODY", "create_app", "settle_heap"]
