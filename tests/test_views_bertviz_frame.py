"""BertViz's page, rewritten once: self-contained (no CDN, no network), its weights sent once,
user text unable to end its script, and a window of layers when a long text would not fit."""

from __future__ import annotations

import html
import json
import re

import pytest

from explorer import models
from explorer.attention import forward
from explorer.views import bertviz_frame

from builders import tiny_gemma, tiny_llama


def document_of(frame: str) -> str:
    """The page inside the iframe's srcdoc."""
    return html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))


def params_of(document: str) -> dict:
    """BertViz's parameters (tokens, weights) as its script receives them."""
    script = document.split('<script type="text/javascript">')[1]
    literal = re.search(r"const params = (\{.*?\});", script, re.S).group(1)
    return json.loads(literal.replace("<\\/", "</"))


@pytest.mark.parametrize("view", ["head", "model"])
def test_frames_are_self_contained_and_escape_user_text(view):
    run = forward.forward(tiny_llama(attn="eager"), "low </script><b>new</b>")
    document = document_of(bertviz_frame.frame(run, view, 1))
    assert "cdnjs" not in document.split("require.config")[0]  # no script loaded from a CDN
    assert "<script src=" not in document and "d3js.org v5.7.0" in document and "jQuery v2.2.4" in document
    assert "define('d3'" in document and "Content-Security-Policy" in document and "default-src 'none'" in document
    assert document.count('"attn"') == 1  # BertViz's weights once (its template would put them in a comment too)
    script = document.split('<script type="text/javascript">')[1].rsplit("</script>", 1)[0]
    assert "</script" not in script  # the user's '</script>' cannot end BertViz's script early
    assert "</script><b>new</b>" in "".join(params_of(document)["attention"][0]["left_text"])  # shown intact


def test_the_weights_sent_are_the_forwards_rounded_to_two_decimals():
    run = forward.forward(tiny_gemma(attn="eager", window=8), "The capital of France is Paris.")
    sent = params_of(document_of(bertviz_frame.frame(run, "head", 0)))["attention"][0]["attn"]
    assert len(sent) == run.num_layers and len(sent[2]) == run.num_heads
    expected = run.attentions[2, 1].double().round(decimals=2).tolist()
    assert sent[2][1] == expected


def test_short_texts_get_every_layer_and_the_note_says_so():
    run = forward.forward(tiny_llama(attn="eager"), "low lower")
    assert bertviz_frame.layers(run, 1) == [0, 1]
    assert "BertViz (all 2 layers)" in bertviz_frame.note(run, 1)


def test_long_texts_get_a_window_of_layers_around_the_chosen_one():
    bundled_eager = models.get(attn="eager")
    run = forward.forward(bundled_eager, "word " * 120)
    layers = bertviz_frame.layers(run, 29)
    assert layers[-1] == 29 and 1 <= len(layers) < 30
    assert len(layers) * 9 * run.num_tokens**2 <= bertviz_frame.MAX_VALUES
    middle = bertviz_frame.layers(run, 15)
    assert middle[0] <= 15 <= middle[-1] and len(middle) == len(layers)
    assert f"layers {middle[0]}–{middle[-1]} of 30" in bertviz_frame.note(run, 15)
