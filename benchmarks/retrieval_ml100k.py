"""ER2ALM retrieval on MovieLens-100K: recall of the right document, and what the trust gate lets through.

Pairings (items -> corpus; the retrieval never sees the truth, which only scores it):
- imdb:    ML-100K's 1,682 items -> the IMDb details scrape. Truth: the shared movie id.
- melu:    ML-100K -> MeLU's OMDb metadata for ML-1M (ids differ). Truth: the ML-1M movie whose
           movies.dat title equals the ML-100K title (both GroupLens), or a MeLU document with the same
           normalised title and the same year.
- dev:     ML-latest-small's 9,742 movies -> MeLU. Truth: the same MovieLens id (ids are stable across
           MovieLens releases). The gate's defaults were chosen on this pairing, never on the two above.
- netflix: LLMRec's Netflix titles -> MeLU. No truth: coverage, and 20 accepted pairs for a hand check.

For each encoder (all-MiniLM-L6-v2; all-mpnet-base-v2 when --mpnet-parts names a folder of its PyPI
part wheels or volumes) every retrieval mode is scored, texts are encoded once per encoder (a
temporary vector store), and encoding, indexing and query times and memory are recorded.

Usage: OMP_NUM_THREADS=1 nice -n 15 python benchmarks/retrieval_ml100k.py \\
           [--data-dir DIR] [--mpnet-parts DIR] [--json benchmarks/results/retrieval_ml100k.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmrec.data.loaders import load_ml100k, load_ml_latest_small
from llmrec.data.loaders._common import read_table
from llmrec.encode import SentenceEncoder, VectorStore
from llmrec.retrieval import (
    IMDB_DETAILS,
    MELU,
    Corpus,
    GateConfig,
    Retriever,
    RetrieverConfig,
    faiss_available,
    load_corpus,
    retrieve_items,
)
from llmrec.retrieval.gate import queries_from_meta
from llmrec.retrieval.split_model import join_split_zip
from llmrec.retrieval.text import TitleForms, split_year, title_variants

MODES = {
    "lexical": RetrieverConfig(mode="lexical"),
    "dense": RetrieverConfig(mode="dense"),
    "hybrid-rrf": RetrieverConfig(mode="hybrid", fusion="rrf"),
    "hybrid-sum": RetrieverConfig(mode="hybrid", fusion="sum", lexical_weight=0.5),
}
# mpnet is about five times slower to encode: it is compared on the two ML-100K pairings only
ENCODER_PAIRINGS = {
    "all-MiniLM-L6-v2": ("imdb", "melu", "dev", "netflix"),
    "all-mpnet-base-v2": ("imdb", "melu"),
}
GATE_SWEEP = [
    GateConfig(min_title_similarity=s, scan=n, min_margin=m, exact_year_below=e)
    for s in (0.8, 0.85, 0.9, 0.95, 1.0)
    for n in (1, 3)
    for m in (0.0, 0.05)
    for e in (0.0, 0.95)
]


class TimedEncoder:
    """Wraps an encoder and adds up the texts it encoded and the seconds it took."""

    def __init__(self, inner: SentenceEncoder) -> None:
        self.inner = inner
        self.id = inner.id
        self.texts = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0  # this process' CPU time: steadier than wall time on a shared machine

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        start, cpu = time.perf_counter(), time.process_time()
        out = self.inner.encode(texts)
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu
        self.texts += len(texts)
        return out


def ml_items(folder: Path, loader: Any) -> pd.DataFrame:
    """title / year / genres of a MovieLens dataset, indexed by the raw movie id as a string."""
    ds = loader(folder)
    items = ds.item_meta[["title", "year", "genres"]].copy()
    items.index = pd.Index([str(i) for i in ds.item_ids])
    return items


def netflix_items(path: Path) -> pd.DataFrame:
    """LLMRec Netflix's derived title table (row, title, year), indexed by row."""
    raw = read_table(path, sep="\t", expect=["row", "title", "year"])
    frame = pd.DataFrame(
        {
            "title": raw["title"].fillna(""),
            "year": pd.to_numeric(raw["year"], errors="coerce").astype("Int64"),
        }
    )
    frame.index = pd.Index(raw["row"].astype(str).to_numpy())
    return frame


def melu_truth(data: Path, items: pd.DataFrame, melu: Corpus) -> tuple[dict[str, set[str]], dict[str, int]]:
    """ML-100K item -> MeLU ids: same GroupLens title in ML-1M's movies.dat, or same normalised title + year.

    "Same normalised title": some form of one title equals some form of the other (`same_title`).
    """
    uitem = read_table(
        data / "ml-100k/u.item",
        sep="|",
        names=["item", "title", *(f"f{i}" for i in range(22))],
        encoding="latin-1",
    )
    raw_title = dict(zip(uitem["item"].astype(str), uitem["title"].fillna("").str.strip(), strict=True))
    movies = read_table(
        data / "ml-1m/movies.dat", sep="::", names=["id", "title", "genres"], encoding="latin-1"
    )
    by_title: dict[str, set[str]] = {}
    for movie_id, title in zip(movies["id"], movies["title"].str.strip(), strict=True):
        by_title.setdefault(title, set()).add(str(movie_id))
    in_melu = set(melu.ids)
    by_year: dict[int | None, list[int]] = {}
    for doc, year in enumerate(melu.years):
        by_year.setdefault(year, []).append(doc)
    forms = [title_variants(t) for t in melu.titles]
    truth: dict[str, set[str]] = {}
    counts = {"bridge": 0, "normalised": 0, "both": 0}
    for item in items.index:
        bridged = by_title.get(raw_title[item], set()) & in_melu
        title, year = split_year(raw_title[item])
        wanted = title_variants(title)
        same_year = by_year.get(year, []) if year is not None else []
        normal = {melu.ids[d] for d in same_year if same_title(wanted, forms[d])}
        counts["bridge"] += bool(bridged and not normal)
        counts["normalised"] += bool(normal and not bridged)
        counts["both"] += bool(normal and bridged)
        if bridged | normal:
            truth[item] = bridged | normal
    return truth, counts


def same_title(a: TitleForms, b: TitleForms) -> bool:
    """A full form of one title equals a full or short form of the other ('Star Wars' = 'Star Wars: ...')."""
    return bool(a.full & (b.full | b.short) or a.short & b.full)


def recall(items: pd.DataFrame, matches: list[list[Any]], truth: dict[str, set[str]]) -> dict[str, float]:
    """recall@1 and recall@5 of the true documents over the items that have one."""
    have = [i for i, item in enumerate(items.index) if item in truth]
    hit1 = sum(bool(matches[i]) and matches[i][0].doc_id in truth[items.index[i]] for i in have)
    hit5 = sum(any(m.doc_id in truth[items.index[i]] for m in matches[i][:5]) for i in have)
    return {"with_truth": len(have), "recall@1": hit1 / len(have), "recall@5": hit5 / len(have)}


def gate_scores(result: Any, truth: dict[str, set[str]] | None) -> dict[str, Any]:
    """Shares of all items given the right document, a wrong one, and none (with truth), plus the audit."""
    n = len(result.items)
    out: dict[str, Any] = {"audit": result.audit, "accepted_share": result.audit["accepted"] / n}
    if truth is None:
        return out
    right = wrong = 0
    wrong_items = []
    for item, d in zip(result.items, result.decisions, strict=True):
        if d.accepted:
            if d.match.doc_id in truth.get(item, set()):
                right += 1
            else:
                wrong += 1
                wrong_items.append((item, d.match.doc_id, d.match.title, d.match.year))
    with_truth = sum(1 for i in result.items if i in truth)
    out |= {
        "right_share_of_items_with_truth": right / with_truth,
        "wrong_share": wrong / n,
        "none_share": 1 - (right + wrong) / n,
        "wrong": wrong,
        "wrong_items": wrong_items[:40],
    }
    return out


def evaluate(
    name: str,
    items: pd.DataFrame,
    retriever: Retriever,
    truth: dict[str, set[str]] | None,
    gate: GateConfig,
    lenient: dict[str, set[str]] | None = None,
) -> dict[str, Any]:
    """Recall (when there is truth), the gate's outcome, and the query time of one pairing.

    `lenient` is a second truth the gate is also scored against (for imdb: ML-100K's duplicate titles).
    """
    start, cpu = time.perf_counter(), time.process_time()
    matches = retriever.search(queries_from_meta(items), k=gate.candidates)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    out: dict[str, Any] = {
        "items": len(items),
        "query_seconds": round(seconds, 3),
        "query_cpu_seconds": round(cpu, 3),
    }
    if truth is not None:
        out |= recall(items, matches, truth)
    result = retrieve_items(items, retriever, gate)
    out |= gate_scores(result, truth)
    if lenient is not None:
        scores = gate_scores(result, lenient)
        out["lenient"] = {k: scores[k] for k in ("right_share_of_items_with_truth", "wrong_share", "wrong")}
    print(
        f"  {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in out.items() if isinstance(v, float)), flush=True
    )
    return out


def build(
    corpus: Corpus, encoder: Any, config: RetrieverConfig, store: VectorStore
) -> tuple[Retriever, dict]:
    """A retriever and its build cost: seconds, seconds spent encoding, Python peak memory, index bytes."""
    encoded_before = encoder.seconds if encoder is not None else 0.0
    tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    retriever = Retriever(corpus, encoder if config.mode != "lexical" else None, config, store)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = 0
    if retriever.bm25 is not None:
        w = retriever.bm25.weights_
        size += w.data.nbytes + w.indices.nbytes + w.indptr.nbytes
    if retriever.dense is not None:
        size += retriever.dense.vectors.nbytes
    encode = (encoder.seconds - encoded_before) if encoder is not None else 0.0
    cost = {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "encode_seconds": round(encode, 3),
            "python_peak_mb": peak / 2**20, "index_mb": size / 2**20}  # fmt: skip
    return retriever, cost


def spot_check(items: pd.DataFrame, retriever: Retriever, gate: GateConfig, n: int = 20) -> list[dict]:
    """n accepted (item, document) pairs drawn at random (seed 0), for a hand check.

    Only titles and ids are kept: the corpora's text may not be redistributed, so read the plots in
    the corpus file (`doc_id`) when checking by hand.
    """
    result = retrieve_items(items, retriever, gate)
    accepted = [i for i, d in enumerate(result.decisions) if d.accepted]
    picks = sorted(random.Random(0).sample(accepted, min(n, len(accepted))))
    rows = []
    for i in picks:
        d = result.decisions[i]
        rows.append({"row": items.index[i], "item": f"{items['title'].iloc[i]} ({items['year'].iloc[i]})",
                     "doc": f"{d.match.title} ({d.match.year})", "doc_id": d.match.doc_id,
                     "similarity": round(d.title_similarity or 0, 3)})  # fmt: skip
    return rows


def load_inputs(data: Path) -> dict[str, Any]:
    """Items, corpora, truths and pairings of the benchmark."""
    ml100k = ml_items(data / "ml-100k", load_ml100k)
    latest = ml_items(data / "ml-latest-small", load_ml_latest_small)
    netflix = netflix_items(data / "llmrec-netflix/DERIVED_item_title_year_roworder.tsv")
    imdb = load_corpus(data / "ml-100k-imdb-details/movielens100k_details.csv", IMDB_DETAILS)
    melu = load_corpus(data / "ml-1m-melu/movies_extrainfos.dat", MELU)
    truth_melu, melu_sources = melu_truth(data, ml100k, melu)
    truths = {
        "imdb": {i: {i} for i in ml100k.index if i in set(imdb.ids)},
        "melu": truth_melu,
        "dev": {i: {i} for i in latest.index if i in set(melu.ids)},
    }
    # ML-100K lists 18 movies twice under two ids and the scrape has both: either document is that movie
    same: dict[tuple[str, object], set[str]] = {}
    for item, key in zip(ml100k.index, zip(ml100k["title"], ml100k["year"], strict=True), strict=True):
        same.setdefault(key, set()).add(item)
    keys = dict(zip(ml100k.index, zip(ml100k["title"], ml100k["year"], strict=True), strict=True))
    twins = {i: same[keys[i]] & set(imdb.ids) for i in truths["imdb"]}
    return {
        "pairings": {
            "imdb": (ml100k, imdb),
            "melu": (ml100k, melu),
            "dev": (latest, melu),
            "netflix": (netflix, melu),
        },
        "truths": truths,
        "twins": twins,
        "stats": {"imdb": asdict(imdb.stats), "melu": asdict(melu.stats)},
        "truth_sizes": {k: len(v) for k, v in truths.items()}
        | {"melu_sources": melu_sources, "imdb_items_with_a_twin": sum(len(v) > 1 for v in twins.values())},
    }


def score_encoder(name: str, raw: SentenceEncoder, inputs: dict[str, Any], store: VectorStore) -> dict:
    """Every retrieval mode on this encoder's pairings, with build and query costs and encoding speed."""
    print(name, flush=True)
    encoder = TimedEncoder(raw)
    encoder.encode(["warm-up"])  # loading the model is not encoding time
    encoder.texts, encoder.seconds, encoder.cpu_seconds = 0, 0.0, 0.0
    gate = GateConfig()
    per_mode: dict[str, Any] = {}
    for mode, config in MODES.items():
        print(f" {mode}", flush=True)
        per_mode[mode] = {}
        for pairing in ENCODER_PAIRINGS[name]:
            items, corpus = inputs["pairings"][pairing]
            retriever, cost = build(corpus, encoder, config, store)
            truth, lenient = inputs["truths"].get(pairing), inputs["twins"] if pairing == "imdb" else None
            per_mode[mode][pairing] = evaluate(pairing, items, retriever, truth, gate, lenient) | {
                "build": cost
            }
    return {
        "modes": per_mode,
        "encoded_texts": encoder.texts,
        "encode_seconds": round(encoder.seconds, 2),
        "encode_cpu_seconds": round(encoder.cpu_seconds, 2),
        "texts_per_cpu_second": encoder.texts / max(encoder.cpu_seconds, 1e-9),
    }


def sweep_gate(retriever: Retriever, items: pd.DataFrame, truth: dict[str, set[str]]) -> list[dict]:
    """The gate's knobs on the development pairing: right, wrong and none shares for each setting."""
    rows = []
    for g in GATE_SWEEP:
        scores = gate_scores(retrieve_items(items, retriever, g), truth)
        scores.pop("wrong_items")
        rows.append(asdict(g) | scores)
    return rows


def main() -> None:
    """Load everything, score every encoder and mode, sweep the gate on dev, write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("LLMREC_DATA_DIR", "../shared/data"))
    )
    parser.add_argument("--mpnet-parts", type=Path, help="folder holding the all-mpnet-base-v2 part wheels")
    parser.add_argument("--model-cache", type=Path, default=Path.home() / ".cache/llmrec/models")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # the machine is shared; numbers are per core
    start = time.perf_counter()
    inputs = load_inputs(args.data_dir)
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": 1,
            "load_average_at_start": os.getloadavg(),
            "faiss": faiss_available(),
        },  # fmt: skip
        "corpora": inputs["stats"],
        "truth": inputs["truth_sizes"],
        "load_seconds": round(time.perf_counter() - start, 2),
        "default_retriever": asdict(RetrieverConfig()),
        "default_gate": asdict(GateConfig()),
        "encoders": {},
    }
    encoders = {"all-MiniLM-L6-v2": SentenceEncoder("all-MiniLM-L6-v2")}
    if args.mpnet_parts:
        model_dir = join_split_zip([args.mpnet_parts], args.model_cache)
        encoders["all-mpnet-base-v2"] = SentenceEncoder(str(model_dir))
    with tempfile.TemporaryDirectory() as tmp:
        stores = {name: VectorStore(Path(tmp) / f"{name}.sqlite") for name in encoders}
        for name, encoder in encoders.items():
            report["encoders"][name] = score_encoder(name, encoder, inputs, stores[name])
        # the gate's knobs are chosen here, on the development pairing only (default retrieval, MiniLM)
        minilm = encoders["all-MiniLM-L6-v2"]
        items, melu = inputs["pairings"]["dev"]
        retriever = Retriever(melu, minilm, RetrieverConfig(), stores["all-MiniLM-L6-v2"])
        report["gate_sweep_dev"] = sweep_gate(retriever, items, inputs["truths"]["dev"])
        report["netflix_spot_check"] = spot_check(inputs["pairings"]["netflix"][0], retriever, GateConfig())
        for store in stores.values():
            store.close()
    report["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report["load_average_at_end"] = os.getloadavg()
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print(json.dumps({k: report[k] for k in ("truth", "max_rss_mb", "total_seconds")}, default=str))


if __name__ == "__main__":
    main()
