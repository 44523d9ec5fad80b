"""Child process for the SIGKILL test: ask N prompts through the cached layer, then exit.

Usage: python sigkill_child.py BASE_URL CACHE_PATH N CONCURRENCY
"""

from __future__ import annotations

import sys

from llmrec.llm import ChatRequest, LLMConfig, open_llm


def main(url: str, cache_path: str, n: int, concurrency: int) -> None:
    cfg = LLMConfig(
        base_url=url, model="chat-m", cache_path=cache_path, concurrency=concurrency, max_retries=0
    )
    llm = open_llm(cfg, {})
    llm.complete_all([ChatRequest.of(f"prompt {i}", template="kill/v1") for i in range(n)])
    llm.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
