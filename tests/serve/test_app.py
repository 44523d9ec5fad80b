"""The HTTP API through httpx over ASGI: lists equal `llmrec recommend` and hand computations; every
bad input is a 4xx JSON error naming what and where, and the server keeps serving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

import llmrec
from llmrec.inference import recommend

N_ITEMS = 36


def _item_ids(run_root: Path) -> list[str]:
    """Raw item ids by internal index."""
    return [str(i) for i in llmrec.load(run_root / "lightgcn").split.train.item_ids]


def _ix(run_root: Path, *raw: str) -> list[int]:
    """Internal indices of raw item ids."""
    ids = _item_ids(run_root)
    return [ids.index(r) for r in raw]


def _ids(response_json: dict) -> list[str]:
    return [it["item_id"] for it in response_json["items"]]


def _history(run_root: Path, user: str) -> set[int]:
    """A user's train and valid items (internal indices), read from the saved split."""
    run = llmrec.load(run_root / "lightgcn")
    u = list(run.split.train.user_ids).index(user)
    return set(run.split.train.items_of(u)) | set(run.split.valid.items_of(u))


def _vectors(run_root: Path) -> tuple[np.ndarray, np.ndarray]:
    run = llmrec.load(run_root / "lightgcn")
    with torch.no_grad():
        users, items = run.test_model().embed(run.test_graph)
    return users.numpy(), items.numpy()


@pytest.mark.parametrize("user", ["u0", "u13", "u35"])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_served_lists_equal_llmrec_recommend(client: TestClient, run_root: Path, user: str, k: int) -> None:
    served = client.get(f"/users/{user}/recommendations", params={"k": k}).json()
    expected = recommend(run_root / "lightgcn", user, k)
    assert _ids(served) == [e["item_id"] for e in expected]
    assert [it["score"] for it in served["items"]] == pytest.approx([e["score"] for e in expected], abs=1e-6)
    assert [it["title"] for it in served["items"]] == [e["title"] for e in expected]


def test_k_up_to_the_catalogue_and_seen_items_on_request(client: TestClient, run_root: Path) -> None:
    seen = _history(run_root, "u0")
    unseen = client.get("/users/u0/recommendations", params={"k": N_ITEMS}).json()
    assert len(unseen["items"]) == N_ITEMS - len(seen)  # fewer remain than K: all of them
    every = client.get("/users/u0/recommendations", params={"k": N_ITEMS, "exclude_seen": False}).json()
    assert sorted(_ids(every)) == sorted(f"i{i}" for i in range(N_ITEMS))
    users, items = _vectors(run_root)
    u0 = list(llmrec.load(run_root / "lightgcn").split.train.user_ids).index("u0")
    by_hand = np.argsort(-(items @ users[u0]))
    assert _ids(every)[:5] == [_item_ids(run_root)[i] for i in by_hand[:5]]


def test_genre_and_year_filters_keep_the_order_of_the_full_list(client: TestClient) -> None:
    full = client.get("/users/u13/recommendations", params={"k": N_ITEMS}).json()["items"]
    drama = client.get("/users/u13/recommendations", params={"k": N_ITEMS, "genres": "drama"}).json()["items"]
    assert [it["item_id"] for it in drama] == [it["item_id"] for it in full if "Drama" in it["genres"]]
    years = client.get(
        "/users/u13/recommendations",
        params={"k": 4, "genres": "Comedy,Horror", "year_min": 2000, "year_max": 2020},
    ).json()["items"]
    keep = [it for it in full if ({"Comedy", "Horror"} & set(it["genres"])) and 2000 <= it["year"] <= 2020]
    assert [it["item_id"] for it in years] == [it["item_id"] for it in keep][:4]


def test_ad_hoc_user_is_the_mean_of_item_vectors(client: TestClient, run_root: Path) -> None:
    liked = ["i0", "i1", "i2"]
    served = client.post("/recommendations", json={"items": liked, "k": 5}).json()
    _, items = _vectors(run_root)
    rows = _ix(run_root, *liked)
    scores = items @ items[rows].mean(axis=0)
    scores[rows] = -np.inf
    assert _ids(served) == [_item_ids(run_root)[i] for i in np.argsort(-scores)[:5]]
    assert [it["score"] for it in served["items"]] == pytest.approx(np.sort(scores)[::-1][:5], abs=1e-5)
    assert not set(liked) & set(_ids(served))


def test_ad_hoc_least_squares_solves_the_ridge_normal_equations(client: TestClient, run_root: Path) -> None:
    served = client.post(
        "/recommendations", json={"items": ["i12", "i14"], "k": 3, "fold_in": "lstsq"}
    ).json()
    _, items = _vectors(run_root)
    rows = _ix(run_root, "i12", "i14")
    h = items[rows].astype(np.float64)
    ridge = 1e-2 * (h * h).sum(axis=1).mean()
    u = np.linalg.solve(h.T @ h + ridge * np.eye(h.shape[1]), h.T @ np.ones(2))
    scores = items.astype(np.float64) @ u
    scores[rows] = -np.inf
    assert _ids(served) == [_item_ids(run_root)[i] for i in np.argsort(-scores)[:3]]
    assert served["fold_in"] == "lstsq"


def test_similar_items_by_cosine(client: TestClient, run_root: Path) -> None:
    served = client.get("/items/i5/similar", params={"k": 4}).json()
    _, items = _vectors(run_root)
    unit = items / np.linalg.norm(items, axis=1, keepdims=True)
    (five,) = _ix(run_root, "i5")
    cos = unit @ unit[five]
    cos[five] = -np.inf
    assert _ids(served) == [_item_ids(run_root)[i] for i in np.argsort(-cos)[:4]]


def test_explanation_counts_paths_through_shared_users(client: TestClient, run_root: Path) -> None:
    run = llmrec.load(run_root / "lightgcn")
    seen = (run.split.train.user_items + run.split.valid.user_items).tocsr()
    users, items = run.split.train.user_ids, run.split.train.item_ids
    rows = {str(users[u]): {str(items[i]) for i in seen.indices[seen.indptr[u] : seen.indptr[u + 1]]}
            for u in range(seen.shape[0])}  # fmt: skip
    t = client.get("/users/u0/recommendations", params={"k": 1}).json()["items"][0]["item_id"]
    x = client.get(f"/users/u0/explanations/{t}", params={"sentence": False}).json()
    others = {v for v, liked in rows.items() if t in liked and v != "u0"}
    assert x["graph"]["item_users"] == len(others)
    assert x["rank"] == 1 and x["in_history"] is False
    for path in x["graph"]["paths"]:
        h = path["via_item"]["item_id"]
        assert h in rows["u0"]
        assert path["co_users"] == sum(1 for v in others if h in rows[v])
        assert all(h in rows[n] and t in rows[n] for n in path["neighbours"])
    counts = [p["co_users"] for p in x["graph"]["paths"]]
    assert counts == sorted(counts, reverse=True)


def test_explanation_names_matching_aspects_and_the_local_teacher(client: TestClient) -> None:
    # i2 is a comedy by Director 2; u0's profile likes comedies and Director 1 and dislikes horror
    x = client.get("/users/u0/explanations/i2", params={"sentence": False}).json()
    assert x["aspects"]["item"] == {"genres": ["Comedy"], "director": ["Director 2"]}
    assert {"profile": "liked_genres", "aspect": "genres", "value": "Comedy", "for": True} in x["aspects"][
        "profile_matches"
    ]
    assert not any(m["profile"] == "liked_directors" for m in x["aspects"]["profile_matches"])
    assert x["aspects"]["source"]["teacher"] == "local" and "no LLM" in x["aspects"]["source"]["note"]
    horror = client.get("/users/u0/explanations/i30", params={"sentence": False}).json()
    assert {"profile": "disliked_genres", "aspect": "genres", "value": "Horror", "for": False} in horror[
        "aspects"
    ]["profile_matches"]
    # the history items sharing the director: counted by hand from the block layout
    shared = {(s["aspect"], s["value"]): s["history_items"] for s in x["aspects"]["shared_with_history"]}
    history = client.get("/users/u0").json()["history"]
    assert shared[("director", "Director 2")] == sum(int(h["item_id"][1:]) % 4 == 2 for h in history)
    assert x["sentence"] is None


def test_explanation_without_an_llm_says_so(client: TestClient) -> None:
    x = client.get("/users/u0/explanations/i2").json()
    assert x["sentence"]["text"] is None and "no LLM" in x["sentence"]["note"]


def test_ad_hoc_explanation_matches_profile_text(client: TestClient) -> None:
    x = client.post(
        "/explanations", json={"items": ["i0", "i1"], "item": "i3", "profile": "I love a Comedy"}
    ).json()
    assert {"profile": "text", "aspect": "genres", "value": "Comedy", "for": True} in x["aspects"][
        "profile_matches"
    ]
    assert x["graph"]["history_items"] == 2


BAD = [
    ("get", "/users/nobody/recommendations", None, 404, "path.user_id", "unknown user 'nobody'"),
    ("get", "/users/u0/recommendations?k=0", None, 422, "query.k", "between 1 and 36"),
    ("get", "/users/u0/recommendations?k=-3", None, 422, "query.k", "got -3"),
    ("get", "/users/u0/recommendations?k=37", None, 422, "query.k", "got 37"),
    ("get", "/users/u0/recommendations?k=ten", None, 422, "query.k", "integer"),
    ("get", "/users/u0/recommendations?genres=Western", None, 422, "query.genres", "unknown genre"),
    ("get", "/users/u0/recommendations?year_min=2010&year_max=2000", None, 422, "query.year_min", "after"),
    ("get", "/items/nope/similar", None, 404, "path.item_id", "unknown item 'nope'"),
    ("get", "/users/u0/explanations/nope", None, 404, "path.item_id", "unknown item"),
    ("get", "/no/such/path", None, 404, "GET /no/such/path", "Not Found"),
    ("post", "/recommendations", b'{"items": ["i1",', 422, "body", "malformed JSON"),
    ("post", "/recommendations", b'{"items": []}', 422, "body.items", "empty"),
    (
        "post",
        "/recommendations",
        b'{"items": ["i1", "x9", "i2", "y"]}',
        422,
        "body.items",
        "body.items[3]='y'",
    ),
    ("post", "/recommendations", b'{"items": "i1"}', 422, "body.items", "list"),
    ("post", "/recommendations", b'{"items": ["i1"], "k": 0}', 422, "body.k", "between 1 and 36"),
    ("post", "/recommendations", b'{"items": ["i1"], "fold_in": "magic"}', 422, "body.fold_in", "magic"),
    ("post", "/recommendations", b'{"k": 3}', 422, "body.items", "Field required"),
    (
        "post",
        "/recommendations",
        b'{"items": ["i1"], "kk": 3}',
        422,
        "body.kk",
        "Extra inputs are not permitted",
    ),
    (
        "post",
        "/recommendations",
        b'{"items": ["i1"], "genres": ["Noir"]}',
        422,
        "body.genres",
        "unknown genre",
    ),
    ("post", "/explanations", b'{"items": ["i1"], "item": "zz"}', 404, "body.item", "unknown item"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "where", "says"), BAD)
def test_bad_input_is_a_json_error_saying_what_and_where(
    client: TestClient, method: str, path: str, body: bytes | None, status: int, where: str, says: str
) -> None:
    headers = {"content-type": "application/json"}
    response = client.request(method.upper(), path, content=body, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["status"] == status and error["where"] == where and says in error["message"]
    assert client.get("/users/u0/recommendations", params={"k": 2}).status_code == 200  # still serving


def test_oversized_bodies_are_refused_whether_declared_or_streamed(client: TestClient) -> None:
    big = b'{"items": [' + b",".join(b'"i1"' for _ in range(20000)) + b"]}"
    response = client.post("/recommendations", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over the limit of 65536" in response.json()["error"]["message"]

    def chunks():  # no Content-Length: the limit counts what arrives
        yield big[:40000]
        yield big[40000:]

    streamed = client.post("/recommendations", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "at least" in streamed.json()["error"]["message"]
    assert client.post("/recommendations", json={"items": ["i1"], "k": 2}).status_code == 200


def test_metrics_count_requests_per_endpoint_and_status(client: TestClient) -> None:
    for _ in range(3):
        client.get("/users/u1/recommendations", params={"k": 2})
    client.get("/users/ghost/recommendations")
    text = client.get("/metrics").text
    route = 'endpoint="/users/{user_id}/recommendations"'
    assert f'llmrec_requests_total{{{route},method="GET",status="200"}} 3.0' in text
    assert f'llmrec_requests_total{{{route},method="GET",status="404"}} 1.0' in text
    assert f"llmrec_request_seconds_count{{{route}}} 4.0" in text
    assert 'llmrec_request_seconds_bucket{endpoint="/users/{user_id}/recommendations",le="0.025"}' in text


def test_health_readiness_meta_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["model"] == "lightgcn"
    meta = client.get("/meta").json()
    assert (meta["n_users"], meta["n_items"], meta["genres"]) == (36, 36, ["Comedy", "Drama", "Horror"])
    assert meta["years"] == [1990, 2025] and meta["llm"] is False
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/users/{user_id}/recommendations", "/recommendations", "/items/{item_id}/similar"} <= set(paths)


def test_a_model_without_vectors_serves_lists_and_co_interaction_neighbours(pop_root: Path) -> None:
    from llmrec.serve import load_served
    from llmrec.serve.app import create_app

    with TestClient(create_app(load_served(pop_root))) as client:
        served = client.get("/users/u7/recommendations", params={"k": 6}).json()
        assert _ids(served) == [e["item_id"] for e in recommend(pop_root, "u7", 6)]
        similar = client.get("/items/i4/similar", params={"k": 3}).json()
        refused = client.post("/recommendations", json={"items": ["i1"]})
    run = llmrec.load(pop_root)
    seen = (run.split.train.user_items + run.split.valid.user_items).toarray() > 0
    ids = [str(i) for i in run.split.train.item_ids]
    col = seen[:, ids.index("i4")]
    cos = (seen.T.astype(float) @ col) / np.sqrt(seen.sum(axis=0) * col.sum()).clip(1e-12)
    cos[ids.index("i4")] = -np.inf
    assert [it["score"] for it in similar["items"]] == pytest.approx(np.sort(cos)[::-1][:3], abs=1e-6)
    assert refused.status_code == 422 and "pop has no item vectors" in refused.json()["error"]["message"]


def test_served_list_equals_the_recommend_command(
    client: TestClient, run_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmrec.cli import main

    assert main(["recommend", str(run_root / "lightgcn"), "--user", "u20", "-k", "8", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    served = client.get("/users/u20/recommendations", params={"k": 8}).json()["items"]
    assert [(it["rank"], it["item_id"], it["title"]) for it in served] == [
        (it["rank"], it["item_id"], it["title"]) for it in printed
    ]
    assert [it["score"] for it in served] == [it["score"] for it in printed]  # the same floats, exactly


def test_concurrent_lists_are_scored_in_batches_and_equal_single_ones(run_root: Path) -> None:
    import asyncio

    import httpx

    from llmrec.serve import load_served
    from llmrec.serve.app import create_app

    app = create_app(load_served(run_root))
    users = [f"u{i}" for i in range(0, 36, 2)]

    async def fetch_all() -> list[dict]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as c:
            answers = await asyncio.gather(*(c.get(f"/users/{u}/recommendations?k=6") for u in users))
        return [a.json() for a in answers]

    together = asyncio.run(fetch_all())
    batcher = app.app.app.state.holder.batcher  # Metrics(BodyLimit(FastAPI))
    assert batcher.requests == len(users) and batcher.batches < len(users)
    for user, answer in zip(users, together, strict=True):
        alone = recommend(run_root / "lightgcn", user, 6)
        assert _ids(answer) == [e["item_id"] for e in alone]
        assert [it["score"] for it in answer["items"]] == pytest.approx([e["score"] for e in alone], abs=1e-6)


def test_reload_is_off_without_a_token_and_refuses_a_wrong_one(client: TestClient, run_root: Path) -> None:
    from llmrec.serve import load_served
    from llmrec.serve.app import create_app

    body = {"run_dir": str(run_root / "lightgcn")}
    with TestClient(create_app(load_served(run_root))) as no_token:
        off = no_token.post("/admin/reload", json=body, headers={"authorization": "Bearer anything"})
    assert off.status_code == 403 and "LLMREC_ADMIN_TOKEN" in off.json()["error"]["message"]
    wrong = client.post("/admin/reload", json=body, headers={"authorization": "Bearer s3cre"})
    assert wrong.status_code == 401 and "s3cre" not in wrong.text
    right = client.post("/admin/reload", json=body, headers={"authorization": "Bearer s3cret"})
    assert right.status_code == 200 and right.json()["chosen_because"] == "the folder's own model"
    assert "s3cret" not in right.text
