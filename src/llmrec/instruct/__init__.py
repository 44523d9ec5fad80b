"""Instruction tuning of the LLM that `llmrec.rerank` and `llmrec.augment` ask (Llama4Rec's tuning step).

`export`: chat-format examples of llmrec's own prompts, answered from training interactions only.
`tune`: a LoRA adapter (peft) for any local Hugging Face causal LM from such a JSONL file; torch,
transformers and peft are imported when it runs. docs/llama4rec.md, "Instruction tuning".
"""
