"""The Tokenisation tab's handlers: HTML plus the API payload, errors a person can act on, the endpoints."""

from __future__ import annotations

import re
from types import SimpleNamespace

import gradio as gr
import pytest

from explorer import checks, i18n, models
from explorer import tokenisation as T
from explorer.views import tokenisation as view
from explorer.views.tokenisation_html import SEVERAL, segmentation_html, visible

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


# ---------------------------------------------------------------- readable tokens, Chinese pages, the lecture's examples

CHINESE_PAGE = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9"})  # what a Chinese browser sends
CJK = re.compile(r"[\u4e00-\u9fff]")
HARD_TEXTS = [  # mixed scripts, half-/full-width, traditional characters, emoji with ZWJ, only punctuation
    "台湾大学 is 一所 university, 東京は日本の首都, Привет 😀",
    "Ｈｅｌｌｏ，世界！ Hello, 世界! ２０２６年 2026年",
    "臺灣大學是一所大學。",
    "👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈",
    "。，！？……——《》“”",
]


def test_bytes_of_one_character_are_one_box_with_every_token_on_hover(smol):
    html, result = view.tokenize("台湾大学 👩‍💻", models.BUNDLED_NAME, "")
    assert "\ufffd" not in html and "\ufffd" in "".join(result["tokens"])  # the payload keeps each token's own text
    several = [s for s in result["segments"] if s["end"] - s["start"] > 1]
    assert [s["text"] for s in several] == ["台", "湾", "学", " 👩", "‍", "💻"]
    assert html.count(SEVERAL) == len(several) and ">台</span>" in html and ">👩" not in html
    first = several[0]
    hover = re.search(r'title="([^"]*)"[^>]*>台</span>', html).group(1)
    for index in range(first["start"], first["end"]):
        assert f"id {result['ids'][index]} " in hover and result["piece_bytes"][index] in hover


def test_the_replay_shows_byte_pieces_as_bytes_and_whole_characters_as_text(smol):
    html, result = view.bpe_replay("台湾大学", models.BUNDLED_NAME)
    assert result["byte_level"] and "\ufffd" not in html
    assert ">⟨e5 8f⟩</span>" in html and ">⟨e5⟩</span>" in html and ">大</span>" in html  # 台 stays 2 tokens, 大 merges
    assert "&#x27;åı&#x27;" in html  # the stored form, on hover


@pytest.mark.parametrize("text", HARD_TEXTS)
def test_hard_texts_give_readable_tokens_on_both_bundled_tokenizers(smol, text):
    gemma = registered_tokenizer(GEMMA)
    html, result = view.tokenize(text, models.BUNDLED_NAME, [GEMMA])
    assert [c["model"] for c in result["comparisons"]] == [GEMMA] and "\ufffd" not in html
    for payload_, tokenizer in ((result, smol), (result["comparisons"][0], gemma)):
        assert "".join(s["text"] for s in payload_["segments"]) == text == tokenizer.decode(payload_["ids"])
    for model in (models.BUNDLED_NAME, GEMMA):
        html, replayed = view.bpe_replay(text, model)
        assert replayed["matches_tokenizer"] and "\ufffd" not in html


def test_a_chinese_page_gets_chinese_html_plots_and_messages(smol):
    html, _ = view.tokenize("台湾大学", models.BUNDLED_NAME, "", request=CHINESE_PAGE)
    assert "字节级 BPE" in html and "只有一个分词器" in html
    html, _ = view.bpe_replay("台湾大学", models.BUNDLED_NAME, request=CHINESE_PAGE)
    assert "排名" in html and "一致" in html
    table, figure, *_ = view.bpe_train(view.CHINESE_CORPUS, 2, "", request=CHINESE_PAGE)
    assert table[0][1] == "大 + 学" and CJK.search(figure.layout.title.text)
    with pytest.raises(gr.Error, match="只有 1 个不同的词"):
        view.bpe_train("。，！？", 5, request=CHINESE_PAGE)  # all punctuation, one "word"
    with pytest.raises(gr.Error, match="1 distinct word"):
        view.bpe_train("。，！？", 5)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_lecture_examples_fill_their_outputs_in_the_page_s_language(smol, language):
    registered_tokenizer(GEMMA)
    with i18n.speaking(language):
        filled = {name: example() for name, example in view.EXAMPLES.items()}
    assert {len(values) for values in filled.values()} == {1 + view.N_COMPARED + view.N_TRAINED}
    assert all(("。" in values[0]) == (language != "en") for values in filled.values())  # hints in Chinese prose
    lecture, chinese = filled["bpe_lecture"], filled["bpe_chinese"]
    assert lecture[1 + view.N_COMPARED] == T.LECTURE_CORPUS and lecture[-1]["merges"][0]["pair"] == ["e", "s"]
    assert [m["new_symbol"] for m in chinese[-1]["merges"][:2]] == ["大学", "台湾"]
    assert "台湾</span>" in chinese[-3] and "学生</span>" in chinese[-3]  # 台湾学生, not in the corpus: 台湾 + 学生
    hint, text, model, compare_with, html, result, replay, replayed = filled["smollm2_vs_gemma"][:8]
    assert (text, model, compare_with) == ("台湾大学", models.BUNDLED_NAME, [GEMMA])
    assert (result["n_tokens"], result["comparisons"][0]["n_tokens"]) == (8, 2)  # 8 byte tokens vs 2 words
    with i18n.speaking(language):
        assert hint == i18n.t("tokenisation.hint.smollm2_vs_gemma", smol=8, gemma=2)
    assert replayed["matches_tokenizer"] and "⟨e5 8f⟩" in replay
    assert "\u200d" in filled["emoji_zwj"][1] and filled["emoji_zwj"][5]["n_tokens"] > filled["emoji_zwj"][5]["comparisons"][0]["n_tokens"]  # fmt: skip


def test_labels_state_the_limits():
    assert f"{T.MAX_MERGES:,}" in i18n.labels("en")["tokenisation.num_merges"]
    assert f"{T.MAX_MERGES:,}" in i18n.labels("zh-CN")["tokenisation.num_merges"]
    assert view.tokenize.__wrapped__.__defaults__[0] == view.DEFAULT_TEXT


def test_handlers_report_progress_while_loading_a_model(smol, monkeypatch):
    seen, get = [], models.get
    monkeypatch.setattr(view.models, "get", lambda name, **kw: seen.append(kw["progress"]) or get(name))
    view.tokenize("Hello", models.BUNDLED_NAME, "")
    view.bpe_replay("Hello", models.BUNDLED_NAME)
    assert len(seen) == 2 and all(callable(report) for report in seen)  # a gr.Progress is falsy: not dropped
