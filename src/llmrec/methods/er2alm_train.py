"""ER2ALM's last three stages: embed (Eqs. 4-5), gate (Sec. 3.4) and train (Sec. 3.5)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from llmrec import config as cfgmod
from llmrec.encode import VectorStore, encode_texts
from llmrec.er2alm import artefacts as store
from llmrec.er2alm.config import ER2ALMConfig
from llmrec.er2alm.embed import aspect_vectors, pool_items, weighted_profiles
from llmrec.er2alm.grounding import build_grounding
from llmrec.er2alm.reliability import ROUTES, run_gate
from llmrec.er2alm.supplement import basic_text
from llmrec.experiment import train_seeds
from llmrec.features import FeatureSpec, load_augmented
from llmrec.methods import er2alm_inputs as shared
from llmrec.methods.er2alm_inputs import ASPECTS, GATE, RETRIEVAL, USERS, VECTORS
from llmrec.stages import Method, RunContext, trained

FEATURES = "features"
FEATURE_SPECS = (
    FeatureSpec("er2alm.profiles", "user", "profile", "user_profile", "er2alm (weighted profiles)"),
    FeatureSpec("er2alm.basic_text", "item", "basic", "item_basic", "er2alm (basic attributes)"),
    FeatureSpec("er2alm.item_info", "item", "aspects", "item_aspects", "er2alm (gated aspects)"),
)


def embed_stage(ctx: RunContext, method: Method) -> None:
    """Eqs. 4-5: basic-attribute, passage, aspect and profile vectors (through the vector cache)."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    items = shared.items_of(ctx)
    item_ids = ctx.prepared.split.train.item_ids.astype(str)
    users = ctx.values[USERS]
    encoder, vectors = shared.encoder_of(ctx), VectorStore(ctx.cfg.augment.vector_cache)
    try:

        def encode(texts: list[str]) -> np.ndarray:
            return encode_texts(texts, encoder, vectors, dim=basic.shape[1] if basic is not None else None)

        basic = None
        basic = encode([basic_text(m, item_ids[i]) for i, m in enumerate(items)])
        passages = [p or "" for p in ctx.values[RETRIEVAL]["passages"]]
        marker = encode(passages) if any(passages) else np.zeros_like(basic)
        aspect = aspect_vectors(ctx.values[ASPECTS]["values"], section.aspects, encode)
        profile = aspect_vectors(users["profiles"], section.aspects, encode)
    finally:
        vectors.close()
    ctx.values[VECTORS] = {
        "basic": basic,
        "marker": marker,
        "aspect": aspect,
        "profile": profile,
        "encoder": encoder.id,
    }


def gate_stage(ctx: RunContext, method: Method) -> None:
    """Sec. 3.4: score every generated aspect against the trusted markers; keep the reliable ones."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    vec, values = ctx.values[VECTORS], ctx.values[ASPECTS]["values"]
    table = [[row.get(a) for a in section.aspects] for row in values]
    present = np.array([[bool(v) for v in row] for row in table], dtype=bool).reshape(
        len(table), len(section.aspects)
    )
    knobs = {k: v for k, v in asdict(section).items() if k.startswith("gate")}
    key = cfgmod.fingerprint(
        {
            "aspects": ctx.values[ASPECTS]["key"],
            "retrieval": ctx.values[RETRIEVAL]["key"],
            "encoder": vec["encoder"],
            "gate": knobs,
        }
    )

    def build() -> dict[str, Any]:
        if not section.gate:
            n = int(present.sum())
            return {
                "kept": present.tolist(),
                "scores": None,
                "routes": None,
                "report": {"gate": "off", "aspects_present": n, "kept": n},
            }
        with_passage = section.gate_markers == "basic+passage"
        marker = vec["marker"] if with_passage else np.zeros_like(vec["marker"])
        grounding = None
        if section.gate_grounding:
            item_ids = ctx.prepared.split.train.item_ids.astype(str)
            basics = [basic_text(m, item_ids[i]) for i, m in enumerate(shared.items_of(ctx))]
            passages = ctx.values[RETRIEVAL]["passages"] if with_passage else [None] * len(table)
            grounding = build_grounding(table, basics, passages)
        result = run_gate(section.reliability(), vec["basic"], marker, vec["aspect"], present, grounding)
        routes = [[ROUTES[r] for r in row] for row in result.routes]
        frame = store.gate_frame(
            ctx.prepared.split.train.item_ids.astype(str).tolist(),
            section.aspects,
            table,
            result.scores,
            routes,
            result.kept,
        )
        store.write_table(shared.stage_folder(ctx) / "gate.tsv", frame)
        per_aspect = {
            a: {"present": int(present[:, k].sum()), "kept": int(result.kept[:, k].sum())}
            for k, a in enumerate(section.aspects)
        }
        return {
            "kept": result.kept.tolist(),
            "scores": np.nan_to_num(result.scores, nan=-1).round(4).tolist(),
            "routes": routes,
            "report": {**result.report, "per_aspect": per_aspect},
        }

    ctx.values[GATE] = store.load_or_build(shared.stage_folder(ctx) / "gate.json", key, build)


def train_stage(ctx: RunContext, method: Method) -> None:
    """Sec. 3.5: the graph model on weighted profiles, gated aspects and picked triples, over the seeds."""
    section: ER2ALMConfig = method.config(ctx.cfg)
    split = ctx.prepared.split
    folder = shared.stage_folder(ctx) / FEATURES
    key = _write_features(ctx, section, folder)
    wanted = [s for s in FEATURE_SPECS if getattr(section, s.switch.split(".")[1])]
    inputs = load_augmented(folder, split, wanted, section.edges, 0, "er2alm.edges")
    run = train_seeds(
        ctx.method_cfg(method.name),
        ctx.prepared,
        ctx.model_dir(method.name),
        name=method.name,
        inputs=inputs,
        method_key={"er2alm": asdict(section), "features": key},
        show_progress=ctx.show_progress,
    )
    ctx.trained[method.name] = ctx.values[trained(method.name)] = run
    ctx.notes["teacher"] = shared.teacher_of(ctx, section)
    ctx.notes["er2alm"] = _audit(ctx, section)


def _write_features(ctx: RunContext, section: ER2ALMConfig, folder: Path) -> str:
    """The feature folder the model reads (reused when its inputs are unchanged); returns its key."""
    vec, users, gate = ctx.values[VECTORS], ctx.values[USERS], ctx.values[GATE]
    switches = {
        k: getattr(section, k)
        for k in ("item_info", "basic_text", "profiles", "weights", "edges", "item_pooling")
    }
    key = cfgmod.fingerprint({"users": users["key"], "gate": gate["key"], "switches": switches, "version": 1})
    if store.features_ready(folder, key):
        return key
    kept = np.array(gate["kept"], dtype=bool).reshape(vec["aspect"].shape[:2])
    items, pooling = pool_items(vec["aspect"], kept, vec["basic"], section.item_pooling)
    weights = (
        np.array(users["weights"])
        if section.weights
        else np.ones((len(users["weights"]), len(section.aspects)))
    )
    has = np.array([[bool(p and p.get(a)) for a in section.aspects] for p in users["profiles"]], dtype=bool)
    matrices = {
        "item_basic": vec["basic"],
        "item_aspects": items,
        "user_profile": weighted_profiles(vec["profile"], weights, has),
    }
    edges = users["edges"]
    triples = None
    if section.edges:
        triples = (np.array(edges["user"]), np.array(edges["pos"]), np.array(edges["neg"]))
    base = ctx.base()
    audit = {
        "base": {"run_dir": str(base.out), "model": base.name},
        "encoder": vec["encoder"],
        "teacher": shared.teacher_of(ctx, section),
        "pooling": pooling,
        "switches": switches,
    }
    split = ctx.prepared.split
    store.write_features(
        folder,
        key,
        matrices,
        triples,
        split.train.user_ids,
        split.train.item_ids,
        shared.teacher_of(ctx, section),
        audit,
    )
    return key


def _audit(ctx: RunContext, section: ER2ALMConfig) -> dict[str, Any]:
    """What summary.json records of the run: retrieval, supplement, analysis, gate and LLM use."""
    aspects, users, gate = ctx.values[ASPECTS], ctx.values[USERS], ctx.values[GATE]
    return {
        "teacher": shared.teacher_of(ctx, section),
        "retrieval": ctx.values[RETRIEVAL]["audit"],
        "supplement": {**aspects["report"], "coverage": aspects["coverage"]},
        "analysis": users["report"],
        "edges": users["edges"]["report"],
        "gate": gate["report"],
        "llm_usage": {"aspects": aspects.get("llm_usage"), "users": users.get("llm_usage")},
    }
