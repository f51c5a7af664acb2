"""The Tokenisation tab's handlers: HTML plus the API payload, errors a person can act on, the endpoints."""

from __future__ import annotations

import gradio as gr
import pytest

from explorer import checks, models
from explorer import tokenisation as T
from explorer.views import tokenisation as view
from explorer.views.tokenisation_html import segmentation_html, visible

from builders import GEMMA, own_ids, registered_tokenizer


@pytest.fixture(scope="module")
def smol(bundled):
    return bundled.tokenizer


def test_view_handlers_return_html_and_the_api_payload(smol):
    html, result = view.tokenize("Hello world", "", ["no-such-model"])
    assert result["ids"] == own_ids(smol, "Hello world") and result["comparisons"] == []
    assert "no-such-model" in html and "Hello" in html
    html, result = view.bpe_replay("Hello world 👩‍💻")
    assert result["ids"] == own_ids(smol, "Hello world 👩‍💻") and "rank" in html
    *_, state, result = view.bpe_train(T.LECTURE_CORPUS, 3)
    assert [m["pair"] for m in result["merges"]] == [["e", "s"], ["es", "t"], ["est", "</w>"]]
    assert result["segmentations"]["newest"] == ["n", "e", "w", "est</w>"]
    assert "n</span>" in segmentation_html(state, 0) and "est&lt;/w&gt;" in segmentation_html(state, 3)
    assert ">est&lt;/w&gt;</span>" in segmentation_html(state, 3, "lowest")  # an unseen word reuses the merges


def test_the_same_model_twice_is_one_column(smol):
    html, result = view.tokenize("Hello", models.BUNDLED_NAME, f"{models.BUNDLED_NAME}, ")
    assert result["comparisons"] == [] and "Only one tokenizer" in html


def test_smollm2_vs_gemma_is_the_default_comparison(smol):
    gemma = registered_tokenizer(GEMMA)
    assert view.other_bundled(models.BUNDLED_NAME) == [GEMMA]
    html, result = view.tokenize("東京は日本の首都です。", "", view.other_bundled(models.BUNDLED_NAME))
    assert [c["model"] for c in result["comparisons"]] == [GEMMA]
    assert result["comparisons"][0]["n_tokens"] < result["n_tokens"] and "tokens vs the first" in html
    html, result = view.bpe_replay("Hello  world, 東京", GEMMA)
    assert result["ids"] == own_ids(gemma, "Hello  world, 東京") and "continues the one before" in html


def test_invisible_characters_are_shown():
    assert visible("a\u200db\x07") == "a⟨U+200D⟩b⟨U+0007⟩"
    assert visible("tab\tnew\nline") == "tab\tnew\nline"


def test_view_turns_bad_input_into_gr_error():
    with pytest.raises(gr.Error, match="num_merges"):
        view.bpe_train(T.LECTURE_CORPUS, 0)
    with pytest.raises(gr.Error, match="20,000"):
        view.bpe_replay("x" * (checks.MAX_TEXT_CHARS + 1))


def test_build_registers_the_three_endpoints():
    with gr.Blocks() as demo:
        view.build()
    public = {f.api_name for f in demo.fns.values() if f.api_visibility == "public"}
    assert public == {"tokenize", "bpe_replay", "bpe_train"}
