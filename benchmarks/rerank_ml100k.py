"""Llama4Rec's direct recommendation on MovieLens-100K under the paper's protocol, and its overhead.

Data: ML-100K with every rating as an interaction (943 users, 1,682 items), split leave-one-out by
time (`split.method = "loo"`: each user's last item is test, the one before it valid). For each base
model (BPR-MF, LightGCN; trained here with `llmrec.train.fit`, selected on validation NDCG@20, the
weights cached under --work so a rerun skips training):

1. the base model's lists (train masked for validation, train + valid for test);
2. (a) the no-LLM reranker (MiniLM text vectors, labelled "local"), and (b) a fake LLM behind the
   loopback OpenAI-compatible server, in its own process, every answer after --latency-ms, whose
   answers are seeded random permutations of the candidates with a few prose and partial answers
   to exercise the repair path: it measures the plumbing's overhead, not an LLM's accuracy;
3. alpha1, alpha2 chosen on validation over {0.1, ..., 0.9}^2, test evaluated once;
4. test HR/NDCG@3/5/10 and Recall/NDCG@20 of base vs reranked, overall and by activity group.

Timings: the no-LLM reranker over all users (target <= 20 s) and all 943 users through the loopback
server (target <= 30 s of overhead beyond the server's own time, requests x latency / concurrency).

Usage: python benchmarks/rerank_ml100k.py [--models bpr-mf lightgcn] [--json RESULT.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import multiprocessing as mp
import os
import platform
import re
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llmrec.config import DataConfig, EvalConfig, SplitConfig, TrainConfig
from llmrec.data import load_dataset, split
from llmrec.data.dataset import Split
from llmrec.encode import SentenceEncoder, VectorStore, encode_texts
from llmrec.evaluate import evaluate, model_scorer
from llmrec.graph import build_graph
from llmrec.llm import LLMConfig, StageStats, open_llm
from llmrec.llm.testing import FakeOpenAIServer
from llmrec.models import MODELS, build_model
from llmrec.rerank import (
    Llama4RecConfig,
    RerankResult,
    choose_alpha,
    conventional_top,
    item_texts,
    pair_augmentation,
    report,
    rerank_users,
)
from llmrec.rerank.adapter import model_values
from llmrec.train import fit

PAPER = {  # Llama4Rec, arXiv 2401.13870, ML-100K direct recommendation (HR@5, NDCG@5)
    "bpr-mf": {"hit@5": 0.0690, "ndcg@5": 0.0420},
    "lightgcn": {"hit@5": 0.0744, "ndcg@5": 0.0447},
    "llama4rec": {"hit@5": [0.0919, 0.0967], "ndcg@5": [0.0588, 0.0608]},
}
TRAIN = TrainConfig(epochs=300, lr=0.005, reg=1e-4, eval_every=5, patience=6, metric="ndcg@20")
EVAL = EvalConfig(ks=(5, 10, 20))
SHOWN = ("hit@3", "ndcg@3", "hit@5", "ndcg@5", "hit@10", "ndcg@10", "recall@20", "ndcg@20")


def fake_answer(messages: list[dict[str, str]]) -> str:
    """The fake LLM: a seeded permutation of the candidate ids; 5% prose, 3% partial (repaired next turn)."""
    prompt = messages[1]["content"]
    digest = hashlib.sha256(prompt.encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    first_turn = len(messages) == 2
    if prompt.startswith("Which of two"):
        return "I like both." if first_turn and rng.random() < 0.05 else ("A" if rng.random() < 0.5 else "B")
    ids = re.findall(r"^\[([A-Z]+)\] ", prompt, flags=re.MULTILINE)
    order = rng.permutation(ids).tolist()
    draw = rng.random()
    if first_turn and draw < 0.05:
        return "The user would probably enjoy the second movie most, as it matches their taste."
    if first_turn and draw < 0.08:
        return " > ".join(order[: len(order) // 2])
    return " > ".join(order)


def serve(latency_s: float, conn: Connection) -> None:
    """Server process: send the port, serve until told to stop, then send the request count."""
    with FakeOpenAIServer(answer=fake_answer, delay_s=latency_s) as server:
        conn.send(server.port)
        conn.recv()
        conn.send(server.requests)


def train_model(
    name: str, data: Split, train_cfg: TrainConfig, work: Path, seed: int
) -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    """Train (or load the cached weights of) one base model; returns it, its graph and how it was fitted."""
    torch.manual_seed(seed)
    model = build_model(name, data.train.n_users, data.train.n_items, 64, 3, train_cfg.reg)
    graph = build_graph(data.train) if MODELS[name].capabilities.graph else None
    key = hashlib.sha256(
        json.dumps([name, repr(train_cfg), repr(EVAL), seed, data.train.nnz]).encode()
    ).hexdigest()
    path, info_path = work / f"{name}-{key[:12]}.pt", work / f"{name}-{key[:12]}.json"
    if path.exists() and info_path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model, graph, {**json.loads(info_path.read_text()), "cached": True}
    result = fit(model, data.train, data.valid, graph, train_cfg, EVAL, seed, show_progress=False)
    info = {"best_epoch": result.best_epoch, "stopped_by": result.stopped_by,
            "train_seconds": round(result.train_seconds, 1), "best_valid": result.best_valid}  # fmt: skip
    torch.save(model.state_dict(), path)
    info_path.write_text(json.dumps(info))
    return model, graph, {**info, "cached": False}


def shown(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics the report prints, rounded."""
    return {k: round(metrics[k], 4) for k in SHOWN}


def evaluate_reranker(
    name: str, valid_res: RerankResult, test_res: RerankResult, data: Split, n_train: np.ndarray,
    cfg: Llama4RecConfig,
) -> dict[str, Any]:  # fmt: skip
    """Alpha chosen on validation, then test once: the merged lists and the reranker's own order."""
    choice = choose_alpha(valid_res.candidates, valid_res.order, valid_res.base_top, data.valid, n_train, cfg)
    merged = report(test_res.lists(n_train, choice.alpha1, choice.alpha2, cfg), data.test, n_train, cfg)
    alone = report(test_res.reranker_lists(cfg), data.test, n_train, cfg)
    return {
        "reranker": name,
        "teacher": test_res.teacher,
        "alpha": {k: v for k, v in choice.to_dict().items() if k != "grid"},
        "alpha_grid": choice.grid,
        "test": shown(merged["all"]),
        "test_groups": [
            {**{k: g[k] for k in ("group", "users", "min_interactions", "max_interactions")}, **shown(g)}
            for g in merged["groups"]
        ],  # fmt: skip
        "test_reranker_alone": shown(alone["all"]),
        "audit_valid": valid_res.audit,
        "audit_test": test_res.audit,
        "sample": test_res.samples[:1],
    }


def timed_llm_rerank(
    url: str, cache: Path, data: Split, base_top: np.ndarray, user_emb: np.ndarray, cfg: Llama4RecConfig,
    texts: Any, concurrency: int,
) -> tuple[RerankResult, float, dict[str, Any]]:  # fmt: skip
    """rerank_users through the loopback server: result, wall seconds and the stage's counters."""
    stats = StageStats("rerank")
    llm = open_llm(
        LLMConfig(base_url=url, model="fake", cache_path=str(cache), concurrency=concurrency), {}, stats
    )
    start = time.perf_counter()
    result = rerank_users(data.train, base_top, user_emb, cfg, texts, llm, stats=stats)
    seconds = time.perf_counter() - start
    llm.close()
    return result, seconds, stats.to_dict()


def main() -> None:
    """Load, split, train (or load) the base models, rerank both ways, time, print and save."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["bpr-mf", "lightgcn"])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("LLMREC_DATA_DIR", "../shared/data"))
    )
    parser.add_argument("--work", type=Path, default=Path("benchmarks/work/rerank_ml100k"))
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--epochs", type=int, default=TRAIN.epochs, help="at most this many (a quick check)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    torch.set_num_threads(1)  # a shared 2-core machine; ML-100K needs no more
    args.work.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    cfg = Llama4RecConfig(seed=args.seed)

    ds = load_dataset(DataConfig(dataset="ml-100k", rating_threshold=None), [args.data_dir], download=False)
    data = split(ds, SplitConfig(method="loo", seed=args.seed))
    n_train = np.diff(data.train.user_items.indptr)
    texts = item_texts(ds.item_meta.to_dict("records"), data.train.item_ids.tolist())
    encode_start = time.perf_counter()
    store = VectorStore(args.work / "vectors.sqlite")
    cached_before = len(store)
    item_vecs = encode_texts(texts.full, SentenceEncoder(), store)
    encode_seconds = time.perf_counter() - encode_start
    torch.set_num_threads(1)  # sentence-transformers may have changed it
    out: dict[str, Any] = {
        "dataset": {
            "name": "ml-100k",
            "rating_threshold": None,
            "split": "loo (last item by time)",
            "users": data.train.n_users,
            "items": data.train.n_items,
            "train": data.train.nnz,
            "valid": data.valid.nnz,
            "test": data.test.nnz,
        },  # fmt: skip
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "train": {"lr": TRAIN.lr, "reg": TRAIN.reg, "select": TRAIN.metric, "patience_evals": TRAIN.patience},
        "encode": {
            "seconds": round(encode_seconds, 1),
            "texts": len(texts.full),
            "vectors_cached_before": cached_before,
        },
        "paper": PAPER,
        "models": {},
    }
    parent, child = mp.Pipe()
    proc = mp.Process(target=serve, args=(args.latency_ms / 1000, child), daemon=True)
    proc.start()
    url = f"http://127.0.0.1:{parent.recv()}/v1"
    for name in args.models:
        train_cfg = dataclasses.replace(TRAIN, epochs=args.epochs)
        model, graph, fitted = train_model(name, data, train_cfg, args.work, args.seed)
        torch.set_num_threads(1)  # fit leaves its own choice behind
        score, user_emb = model_values(model, graph)
        valid_top = conventional_top(score, data.train.user_items, cfg.list_length)
        test_top = conventional_top(
            score, (data.train.user_items + data.valid.user_items).tocsr(), cfg.list_length
        )
        base = report(test_top, data.test, n_train, cfg)
        full = evaluate(model_scorer(model, graph), data.test, [data.train, data.valid], cfg.ks)
        entry: dict[str, Any] = {
            "fit": fitted,
            "base_test": shown(base["all"]),
            "base_test_by_llmrec_evaluate": shown(full),
            "base_test_groups": [
                {**{k: g[k] for k in ("group", "users", "min_interactions", "max_interactions")}, **shown(g)}
                for g in base["groups"]
            ],  # fmt: skip
        }
        # (a) the no-LLM reranker: both phases over every user, then alpha on validation
        start = time.perf_counter()
        local_valid = rerank_users(data.train, valid_top, user_emb, cfg, texts, item_vecs=item_vecs)
        local_test = rerank_users(data.train, test_top, user_emb, cfg, texts, item_vecs=item_vecs)
        local_seconds = time.perf_counter() - start
        entry["local"] = evaluate_reranker("local", local_valid, local_test, data, n_train, cfg)
        entry["local"]["seconds_both_phases"] = round(local_seconds, 2)
        other = dataclasses.replace(cfg, alpha_cutoff="outside")  # the other reading of Eq. 7
        outside = evaluate_reranker("local", local_valid, local_test, data, n_train, other)
        entry["local"]["alpha_cutoff_outside"] = {"alpha": outside["alpha"], "test": outside["test"]}
        # (b) the fake LLM through the loopback server: validation phase cold, test phase cold, then warm
        cache = args.work / f"llm-{name}.sqlite"
        for stale in args.work.glob(f"llm-{name}.sqlite*"):
            stale.unlink()
        phases = {}
        results = {}
        for phase, top in (("valid", valid_top), ("test", test_top), ("valid_rerun", valid_top)):
            result, seconds, counters = timed_llm_rerank(
                url, cache, data, top, user_emb, cfg, texts, args.concurrency
            )
            sent = counters["requests"]
            server_s = sent * args.latency_ms / 1000 / args.concurrency
            phases[phase] = {
                "seconds": round(seconds, 2),
                "requests": sent,
                "server_seconds": round(server_s, 2),
                "overhead_seconds": round(seconds - server_s, 2),
                "cache_hits": counters["cache_hits"],
            }
            results[phase] = result
        entry["fake_llm"] = evaluate_reranker(
            "fake-llm", results["valid"], results["test"], data, n_train, cfg
        )
        entry["fake_llm"]["timing"] = phases
        # pair augmentation, both ways, on the validation-phase candidates
        start = time.perf_counter()
        local_pairs = pair_augmentation(data.train, local_valid.candidates, cfg, item_vecs=item_vecs)
        local_pair_s = time.perf_counter() - start
        stats = StageStats("pairs")
        llm_cfg = LLMConfig(base_url=url, model="fake", cache_path=str(cache), concurrency=args.concurrency)
        llm = open_llm(llm_cfg, {}, stats)
        start = time.perf_counter()
        llm_pairs = pair_augmentation(data.train, local_valid.candidates, cfg, texts, llm, stats=stats)
        llm_pair_s = time.perf_counter() - start
        llm.close()
        entry["pairs"] = {
            "local": {
                "triples": len(local_pairs.users),
                "seconds": round(local_pair_s, 2),
                **local_pairs.audit,
            },
            "fake_llm": {"triples": len(llm_pairs.users), "seconds": round(llm_pair_s, 2), **llm_pairs.audit},
        }
        out["models"][name] = entry
        print(f"{name}: base {entry['base_test']}", f"local {entry['local']['test']}", sep="\n  ")
        print(f"  alpha {entry['local']['alpha']}", f"fake LLM timing {phases}", sep="\n  ")
    parent.send("stop")
    out["server_requests"] = parent.recv()
    proc.join(timeout=5)
    out["machine"] = {
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    print(json.dumps({k: out[k] for k in ("encode", "machine")}, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
