"""ER2ALM's reliability gate measured on injected corruption, MovieLens-100K.

The items of the ML-100K run (ratings >= 4: 1,447 items) retrieve their IMDb documents (default
retrieval and trust gate); the no-LLM teacher reads their aspects off the documents; then 20% of the
present aspects are replaced by (a) the same aspect of another random item, (b) plausible-looking
nonsense (invented names, genres, countries, impossible eras, text in another language). For each
kind the gate runs on the corrupted table (trained on it, cross-fitted, without labels) and we count
the share of corrupted aspects removed and of genuine aspects kept; on the clean table, the share kept.

Usage: OMP_NUM_THREADS=1 nice -n 10 python benchmarks/er2alm_gate_ml100k.py --data-dir ../shared/data \\
           [--set epochs=60 --set folds=4 ...] [--grounding] [--json benchmarks/results/NAME.json]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.config import DataConfig
from llmrec.data.prepare import load_dataset
from llmrec.encode import SentenceEncoder, VectorStore, encode_texts
from llmrec.er2alm.corrupt import corruption_study
from llmrec.er2alm.embed import aspect_vectors
from llmrec.er2alm.grounding import Grounding, build_grounding
from llmrec.er2alm.prompts import DEFAULT_ASPECTS
from llmrec.er2alm.reliability import ReliabilityConfig
from llmrec.er2alm.supplement import basic_text, documents_of, local_supplement
from llmrec.retrieval import IMDB_DETAILS, GateConfig, Retriever, load_corpus, retrieve_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("LLMREC_DATA_DIR", "../shared/data"))
    parser.add_argument("--vector-cache", default="runs/vector_cache.sqlite")
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], help="a ReliabilityConfig knob, e.g. folds=4")
    parser.add_argument("--json", default="")
    parser.add_argument(
        "--grounding", action="store_true", help="the gate also reads word grounding (er2alm/grounding.py)"
    )
    args = parser.parse_args()
    knobs = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in args.set)}
    cfg = ReliabilityConfig(**knobs)
    start, cpu = time.perf_counter(), time.process_time()
    data = Path(args.data_dir)
    dataset = load_dataset(DataConfig(dataset="ml-100k"), [data])
    meta = dataset.item_meta.reindex(range(dataset.n_items))
    corpus = load_corpus(data / "ml-100k-imdb-details" / "movielens100k_details.csv", IMDB_DETAILS)
    encoder, store = SentenceEncoder(), VectorStore(args.vector_cache)
    retrieval = retrieve_items(
        meta[["title", "year", "genres"]], Retriever(corpus, encoder, store=store), GateConfig()
    )
    items = [
        {"title": str(r["title"]), "genres": str(r["genres"] or ""),
         **({"year": str(int(r["year"]))} if r["year"] == r["year"] and r["year"] is not None else {})}
        for r in meta[["title", "year", "genres"]].to_dict("records")
    ]  # fmt: skip
    aspects = local_supplement(items, documents_of(retrieval.decisions, corpus.fields), DEFAULT_ASPECTS)
    basics = [basic_text(m, str(i)) for i, m in enumerate(items)]
    basic = encode_texts(basics, encoder, store)
    marker = encode_texts([p or "" for p in retrieval.passages], encoder, store, dim=basic.shape[1])

    def embed(table: list[list[str | None]]) -> np.ndarray:
        rows = [dict(zip(DEFAULT_ASPECTS, row, strict=True)) for row in table]
        return aspect_vectors(
            rows, DEFAULT_ASPECTS, lambda t: encode_texts(t, encoder, store, dim=basic.shape[1])
        )

    prepared = time.perf_counter() - start

    def ground(table: list[list[str | None]]) -> Grounding:
        return build_grounding(table, basics, retrieval.passages)

    result = corruption_study(
        aspects.table(), DEFAULT_ASPECTS, basic, marker, embed, cfg, args.rate, args.seed,
        ground if args.grounding else None,
    )  # fmt: skip
    store.close()
    out: dict[str, Any] = {
        "items": len(items),
        "retrieval": retrieval.audit,
        "coverage": aspects.coverage(),
        **result,
        "seconds": {"prepare_wall": round(prepared, 1), "total_wall": round(time.perf_counter() - start, 1),
                    "cpu": round(time.process_time() - cpu, 1)},
        "machine": {"cpus": os.cpu_count(), "load": os.getloadavg(), "python": platform.python_version()},
    }  # fmt: skip
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
