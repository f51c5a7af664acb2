"""Show the code: for each tab, a short runnable Python snippet that reproduces the numbers on screen.

A snippet is pure text, rendered from the tab's current inputs by `snippet(tab, **inputs)`. It uses
`transformers` / `peft` / `torch` directly (never this app), loads the model the way a student would
(`AutoModelForCausalLM.from_pretrained(folder)`), and prints the numbers the tab shows. One module per
tab, each holding its template and a `render(**inputs) -> str`; `common` writes what they share (loading
the model, the document start). tests/test_snippets.py runs every snippet and compares its numbers
with the endpoint's.
"""

from __future__ import annotations

from . import attention, generation, icl, inside, masked_lm, sequence, tokenisation, tuning

RENDERERS = {
    "generation": generation.render,
    "sequence": sequence.render,
    "masked_lm": masked_lm.render,
    "icl": icl.render,
    "attention": attention.render,
    "inside": inside.render,
    "tokenisation": tokenisation.render,
    "tuning": tuning.render,
}


def snippet(tab: str, **inputs) -> str:
    """The runnable snippet of `tab` ("generation", "sequence", "masked_lm", …) for these inputs."""
    return RENDERERS[tab](**inputs)
