"""Prompt sizes of the three augmentations on a trained run, for the costed plan in docs/scale.md.

Runs `llmrec augment` (LLM teacher, LLM encoder) against a loopback fake server that echoes, and
reports each augmentation's first-ask prompt size in estimated tokens (characters / 4, as the augment
budget does). The echoed answers do not parse, so nothing downstream is meaningful: only the prompts.

Usage: python benchmarks/augment_prompt_sizes.py RUN_DIR
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

from llmrec.augment.config import AugmentConfig
from llmrec.inference import augment_run
from llmrec.llm import LLMConfig
from llmrec.llm.testing import FakeOpenAIServer

KINDS = {"Which candidate": "edges", "Give facts": "attributes", "Describe a user": "profiles"}


def main() -> None:
    run = Path(sys.argv[1])
    with FakeOpenAIServer() as fake, tempfile.TemporaryDirectory() as tmp:
        aug = AugmentConfig(teacher="llm", n_candidates=10, encoder="llm", vector_cache=f"{tmp}/v.sqlite")
        llm = LLMConfig(
            base_url=fake.url,
            model="m",
            embedding_model="e",
            cache_path=f"{tmp}/c.sqlite",
            concurrency=16,
            max_retries=1,
            backoff_base_s=0.01,
        )
        augment_run(run, aug, llm, env={}, show_progress=False)
        sizes: dict[str, list[float]] = {}
        for body in fake.bodies:
            messages = body.get("messages")
            if not messages or len(messages) != 2:  # embeddings, or a repair re-ask
                continue
            kind = next((k for marker, k in KINDS.items() if marker in messages[1]["content"]), "other")
            sizes.setdefault(kind, []).append(sum(len(m["content"]) for m in messages) / 4)
    print(
        json.dumps(
            {
                k: {
                    "prompts": len(v),
                    "mean_tokens_est": round(statistics.mean(v)),
                    "max_tokens_est": round(max(v)),
                }
                for k, v in sizes.items()
            }
        )
    )


if __name__ == "__main__":
    main()
