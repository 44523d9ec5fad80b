"""ER2ALM's building blocks (the recipe is `llmrec.methods.er2alm`; docs/er2alm.md).

prompts (Table 1's hard prompts) | parsers (aspects, profiles, weights) | teacher (the no-LLM teacher) |
supplement (Eq. 1) | users (Eqs. 2-3, Prompt_W) | embed (Eqs. 4-5) | reliability (Eqs. 6-12, Algorithm 1) |
corrupt (the gate measured on injected corruption) | config ([er2alm]) | artefacts (what the stages keep).
"""
