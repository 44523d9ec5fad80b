"""The method registry: one recipe per method (its config table, stages, model and evaluation).

Adding a method is its recipe module (a `Method` value; docs/methods.md works one through), its
model file if it has one, and one line in `_BUILT_IN`. `register` adds one at run time, e.g. a plug-in
of your own or a test's toy method.
"""

from __future__ import annotations

from llmrec.errors import ConfigError
from llmrec.methods.baselines import BASELINES
from llmrec.methods.er2alm import ER2ALM
from llmrec.methods.graph_transformer import GRAPH_TRANSFORMER
from llmrec.methods.llama4rec import LLAMA4REC
from llmrec.methods.llama4rec_rating import LLAMA4REC_RATING
from llmrec.methods.llama4rec_seq import LLAMA4REC_SEQ
from llmrec.methods.llmrec import LLMREC
from llmrec.methods.rating import RATING_BASELINES
from llmrec.methods.sasrec import SASREC
from llmrec.stages import Method

_BUILT_IN: tuple[Method, ...] = (
    *BASELINES,
    SASREC,
    LLMREC,
    LLAMA4REC,
    LLAMA4REC_SEQ,
    ER2ALM,
    GRAPH_TRANSFORMER,
    *RATING_BASELINES,
    LLAMA4REC_RATING,
)
METHODS: dict[str, Method] = {m.name: m for m in _BUILT_IN}


def register(method: Method, replace: bool = False) -> Method:
    """Add `method` to the registry (a second method of the same name is an error unless `replace`)."""
    if method.name in METHODS and not replace:
        raise ConfigError(f"a method named {method.name!r} is already registered")
    if not method.stages:
        raise ConfigError(f"method {method.name!r} has no stages")
    names = [s.name for s in method.stages]
    if len(set(names)) != len(names):
        raise ConfigError(f"method {method.name!r} names a stage twice: {names}")
    METHODS[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method added by `register` (built-in ones stay)."""
    if name in {m.name for m in _BUILT_IN}:
        raise ConfigError(f"{name!r} is a built-in method")
    METHODS.pop(name, None)


def get_method(name: str) -> Method:
    """A registered method, or ConfigError listing them."""
    if name not in METHODS:
        raise ConfigError(
            f"unknown method {name!r}; methods: {sorted(METHODS)} (`llmrec methods` lists them)"
        )
    return METHODS[name]


__all__ = ["METHODS", "get_method", "register", "unregister"]
