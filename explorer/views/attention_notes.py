"""The Attention tab's notes beside the heatmaps: how query heads share key/value heads, and what the
chosen layer may read (everything, or a sliding window)."""

from __future__ import annotations

from ..attention import patterns
from ..attention.forward import MAX_TOKENS, Forward
from .common import t


def gqa_note(run: Forward) -> str:
    """How the query heads share key/value heads."""
    if run.num_key_value_heads >= run.num_heads:
        return t("attention.note.mha", model=run.model, heads=run.num_heads)
    if run.num_key_value_heads == 1:
        return t("attention.note.mqa", model=run.model, heads=run.num_heads)
    size = run.num_heads // run.num_key_value_heads
    groups = ", ".join(f"{g * size}–{g * size + size - 1}" for g in range(run.num_key_value_heads))
    return t("attention.note.gqa", model=run.model, heads=run.num_heads, kv=run.num_key_value_heads, groups=groups)


def layer_note(run: Forward, layer: int) -> str:
    """What the chosen layer may read: everything (a global layer) or a sliding window, and whether
    this text is long enough for the window to show (empty for models without sliding windows)."""
    size = patterns.window(run, layer)
    local = [i for i in range(run.num_layers) if patterns.window(run, i) is not None]
    if not local:
        return ""
    full = [str(i) for i in range(run.num_layers) if i not in local]
    mix = t(
        "attention.note.mix_one" if len(full) == 1 else "attention.note.mix_many",
        model=run.model,
        layers=run.num_layers,
        local=len(local),
        window=run.sliding_window,
        count=len(full),
        full=", ".join(full),
    )
    if size is None:
        return t("attention.note.global", layer=layer, mix=mix)
    if patterns.is_banded(run, layer):
        return t("attention.note.banded", layer=layer, window=size, n=run.num_tokens, mix=mix)
    longer = (
        t("attention.note.longer_text", window=size)
        if size < MAX_TOKENS
        else t("attention.note.never_longer", limit=MAX_TOKENS)
    )
    return t(
        "attention.note.unbanded_shorter" if run.num_tokens < size else "attention.note.unbanded_equal",
        layer=layer,
        window=size,
        n=run.num_tokens,
        longer=longer,
        mix=mix,
    )
