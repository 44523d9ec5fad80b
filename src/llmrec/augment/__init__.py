"""LLMRec's three augmentations: implicit-feedback edges, item attributes and user profiles.

Each follows one shape: a pure prompt builder (`prompts`), a batched cached LLM call (`ask`), a pure
strict parser (`parsers`). `teacher` gives the same outputs without an LLM; `stage.run_augmentation`
chains everything and writes the artefacts. Nothing here is imported by `llmrec.config` except the
plain `AugmentConfig`, so this package's `__init__` stays empty of imports.
"""
