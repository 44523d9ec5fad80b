"""What a rerank stage opens once and closes with the stage: the items' texts, and either their
sentence vectors (the no-LLM reranker) or the LLM. Shared by the direct and sequential recipes."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

import numpy as np

from llmrec.augment.config import AugmentConfig
from llmrec.encode import SentenceEncoder, VectorStore, encode_texts
from llmrec.errors import ConfigError
from llmrec.llm import Accounting, CachedLLM, LLMConfig, open_llm, resolve_llm_config
from llmrec.rerank.local import LOCAL_RERANKER
from llmrec.rerank.texts import ItemTexts, item_texts


class RerankSide:
    """Item texts, their vectors or the LLM, for one stage; `stack` closes what was opened.

    `records` are the items' metadata rows (None when the run `source` saved none), `ids` the model's
    item order, `owner` the config table named in errors; `short` encodes the short title lines instead of
    the full ones (the sequential teacher compares titles only).
    """

    def __init__(
        self,
        records: list[dict[str, Any]] | None,
        ids: list[int],
        reranker: str,
        llm_cfg: LLMConfig,
        augment: AugmentConfig,
        env: Mapping[str, str],
        stack: ExitStack,
        owner: str,
        source: object,
        short: bool = False,
    ) -> None:
        self.texts: ItemTexts | None = None if records is None else item_texts(records, ids)
        self.vectors: np.ndarray | None = None
        self.accounting = Accounting(llm_cfg.prices)
        self.llm: CachedLLM | None = None
        if reranker == "llm":
            if self.texts is None:
                raise ConfigError(f"{owner}.reranker = 'llm' needs item titles; {source} saved none")
            self.llm = open_llm(resolve_llm_config(llm_cfg, env), env)
            stack.callback(self.llm.close)
        else:
            texts = self.texts
            lines = [str(i) for i in ids] if texts is None else texts.short if short else texts.full
            store = VectorStore(augment.vector_cache)
            stack.callback(store.close)
            encoder = SentenceEncoder(augment.encoder, augment.encode_batch, False)
            self.vectors = encode_texts(lines, encoder, store)

    def teacher(self) -> dict[str, Any]:
        """Who reranked, as recorded in every output."""
        if self.llm is None:
            return dict(LOCAL_RERANKER)
        return {"kind": "llm", "backend": self.llm.kind, "model": self.llm.model}
