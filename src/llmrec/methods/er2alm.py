"""ER2ALM (Wei et al., "Enhanced Recommendation Systems with Retrieval-Augmented Large Language
Model") as a recipe: retrieve -> supplement -> analyse -> embed -> gate -> train (Algorithm 1).

The stages are `methods.er2alm_inputs` (retrieve, supplement, analyse) and `methods.er2alm_train`
(embed, gate, train) over the building blocks in `llmrec.er2alm`. The teacher is an LLM through the
cached, costed layer, or the labelled no-LLM teacher. docs/er2alm.md lists every choice the paper
leaves open and the knob that sets it.
"""

from __future__ import annotations

from llmrec import config as cfgmod
from llmrec.config import RunConfig
from llmrec.er2alm.config import ER2ALMConfig
from llmrec.factory import model_options
from llmrec.methods.er2alm_inputs import (
    ASPECTS,
    GATE,
    RETRIEVAL,
    USERS,
    VECTORS,
    analyse_stage,
    retrieve_stage,
    supplement_stage,
)
from llmrec.methods.er2alm_train import FEATURE_SPECS, embed_stage, gate_stage, train_stage
from llmrec.stages import BASE, Method, Stage, Variant, trained


def switches(cfg: RunConfig) -> dict[str, bool]:
    """Which parts a config has on, for ablation rows."""
    section = cfgmod.from_dict(ER2ALMConfig, cfg.sections.get("er2alm", {}), "er2alm")
    model = model_options(cfg.model, "er2alm")
    names = (
        "retrieval", "item_info", "profiles", "weights", "edges", "gate", "gate_cosine", "gate_grounding"
    )  # fmt: skip
    return {n: bool(getattr(section, n)) for n in names} | {"pruning": model.prune_ratio > 0}


ALL = ("retrieve", "supplement", "analyse", "embed", "gate", "train")
ER2ALM = Method(
    name="er2alm",
    summary="retrieved item aspects, weighted per-aspect user profiles, a reliability gate, LLM-picked edges",
    paper="Wei et al., ER2ALM (Enhanced Recommendation Systems with Retrieval-Augmented LLM)",
    model="er2alm",
    section=ER2ALMConfig,
    stages=(
        Stage(
            "retrieve",
            "search the item-knowledge corpus by title and year; keep trusted passages",
            retrieve_stage,
            consumes=(BASE,),
            produces=(RETRIEVAL,),
        ),
        Stage(
            "supplement",
            "Eq. 1: aspects of every item from its basic attributes and passage",
            supplement_stage,
            consumes=(RETRIEVAL,),
            produces=(ASPECTS,),
        ),
        Stage(
            "analyse",
            "Eqs. 2-3: per-aspect profiles and weights from training histories; picked edges",
            analyse_stage,
            consumes=(ASPECTS, BASE),
            produces=(USERS,),
        ),
        Stage(
            "embed",
            "Eqs. 4-5: vectors of basic attributes, passages, aspects and profiles",
            embed_stage,
            consumes=(USERS,),
            produces=(VECTORS,),
        ),
        Stage(
            "gate",
            "Sec. 3.4: relation scorer, binary concrete, retain/abandon sets; reliable aspects kept",
            gate_stage,
            consumes=(VECTORS,),
            produces=(GATE,),
        ),
        Stage(
            "train",
            "the graph model over the seeds on weighted profiles, gated aspects and picked edges",
            train_stage,
            consumes=(GATE,),
            produces=(trained("er2alm"),),
        ),
    ),
    variants=(
        Variant("no-retrieval", "without retrieval (no passage)", {"er2alm.retrieval": False}, ALL),
        Variant("no-item-info", "without item information", {"er2alm.item_info": False}),
        Variant("no-profiles", "without user profiles", {"er2alm.profiles": False}),
        Variant("no-weights", "without personalised weights", {"er2alm.weights": False}),
        Variant("no-gate", "without denoising (gate off)", {"er2alm.gate": False}, ("gate", "train")),
        Variant("no-cosine", "without the cosine step", {"er2alm.gate_cosine": False}, ("gate", "train")),
        Variant(
            "no-grounding",
            "gate on vectors only (no word grounding)",
            {"er2alm.gate_grounding": False},
            ("gate", "train"),
        ),
        Variant("no-edges", "without LLM-picked edges", {"er2alm.edges": False}),
    ),
    switches=switches,
)

__all__ = ["ER2ALM", "FEATURE_SPECS"]
