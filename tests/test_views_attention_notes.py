"""The notes beside the heatmaps explain key/value sharing and sliding windows."""

from __future__ import annotations

from explorer.attention import forward, patterns
from explorer.views import attention_notes as notes

from builders import SAMPLE_TEXT


def test_notes_explain_one_key_value_head_and_sliding_windows(gemma, llama):
    run = forward.forward(gemma, SAMPLE_TEXT)
    assert "4 query heads per layer but a single key/value head" in notes.gqa_note(run)
    assert "query heads\n0–1, 2–3 each share" in notes.gqa_note(forward.forward(llama, SAMPLE_TEXT))
    assert notes.layer_note(forward.forward(llama, SAMPLE_TEXT), 0) == ""
    banded = notes.layer_note(run, 1)
    assert "Layer 1 is a sliding-window layer (window 8)" in banded and "a band along the diagonal" in banded
    assert "2 read a sliding window of 8 tokens and 1 is global (layer 2)" in banded
    assert "Layer 2 is a global layer" in notes.layer_note(run, 2)
    short = forward.forward(gemma, "The capital")
    assert not patterns.is_banded(short, 0)
    assert f"this text of {short.num_tokens} tokens is shorter than the window, so it looks like a global layer" in (
        notes.layer_note(short, 0)
    )
