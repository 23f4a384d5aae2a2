"""Prompt and LLM: features become a prompt, a provider writes a note, grounding checks its numbers.

`prompts` renders a catalog prompt with a feature row as data; `providers` is the provider
interface, the offline writer and the registry (Bedrock is found lazily by name); `bedrock`
calls Converse; `notes` ties a note to its features and caches it; `grounding` checks every
number in a note against the facts; `tools` offers views to a model as Converse tools.
This stage imports every stage to its left (catalog, render, engines, cache, results), never
`store` or the CLI at run time.
"""
