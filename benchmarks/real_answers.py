"""Real models' answers to the probe's questions: export them from the LLM cache as a test fixture, and
count how llmrec's parsers read them.

After `llmrec teacher probe RUN_DIR --llm llamacpp --set 'llm.model="MODEL.gguf"'` the answers sit in
the LLM cache under the stages probe-listwise, probe-pointwise and probe-attributes. This script keeps
the answers of one model (a substring of the model path), writes them as JSONL (kind, template, text,
the first token's alternatives) and prints, per kind, how many parse and why the others do not, with
the parsers `augment` uses: `parse_pair` (listwise, 10 candidates), `parse_attributes` (the director),
`yes_score` (pointwise). Repairs (the second ask after a rejected answer) are counted on their own.

Usage: python benchmarks/real_answers.py runs/llm_cache.sqlite qwen2.5-coder-0.5b \\
           tests/fixtures/real_answers/qwen2.5-coder-0.5b.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from llmrec.augment.outcomes import answer_outcome
from llmrec.cache import Cache

KINDS = {"probe-listwise": "listwise", "probe-pointwise": "pointwise", "probe-attributes": "attributes"}


def export(cache_path: Path, model: str) -> list[dict[str, Any]]:
    """The cached probe answers of `model`, oldest first."""
    rows = []
    with Cache(cache_path, create=False) as cache:
        for row in cache.rows():
            kind = KINDS.get(row["stage"])
            meta = row["meta"] or {}
            if kind is None or model not in str(meta.get("model", "")):
                continue
            rows.append(
                {
                    "kind": kind,
                    "template": meta.get("template", ""),
                    "repair": len(meta.get("messages", [])) > 2,  # the re-ask carries the first answer
                    "text": row["value"]["text"],
                    "first_token_logprobs": row["value"].get("first_token_logprobs", []),
                }
            )
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per kind (first asks and repairs apart): answers by outcome."""
    table: dict[str, Counter[str]] = {}
    for r in rows:
        key = r["kind"] + (" (repair)" if r["repair"] else "")
        table.setdefault(key, Counter())[answer_outcome(r["kind"], r["text"], r["first_token_logprobs"])] += 1
    return {k: dict(v.most_common()) for k, v in sorted(table.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("model", help="a substring of the model name or GGUF path")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    rows = export(args.cache, args.model)
    if not rows:
        raise SystemExit(f"no probe answers of a model matching {args.model!r} in {args.cache}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(json.dumps({"answers": len(rows), "by_kind": summary(rows)}, indent=1))


if __name__ == "__main__":
    main()
