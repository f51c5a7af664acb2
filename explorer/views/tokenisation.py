"""The Tokenisation tab: the tokens a model sees (two tokenizers side by side), its real BPE merges
replayed, and a toy BPE trained live. Pictures are drawn in `tokenisation_html`."""

from __future__ import annotations

import gradio as gr

from .. import checks, i18n, models, tokenisation
from .common import (
    Number,
    Slider,
    examples_menu,
    gradio_progress,
    localized_defaults,
    model_choices,
    payload,
    t,
    tr,
    user_errors,
)
from .tokenisation_html import (
    TABLE_COLUMNS,
    comparison_html,
    merges_table,
    replay_html,
    segmentation_html,
    vocab_figure,
)

DEFAULT_TEXT = i18n.labels(i18n.DEFAULT)["tokenisation.default_text"]  # what an API call without text gets
DEFAULT_NEW_WORDS = "lowest newer wider"  # words of the lecture's corpus's kind, not in it
# A Chinese corpus for the toy BPE: phrases sharing characters, each phrase one "word" (Chinese has no
# spaces); 大学 merges first, and 台湾大学 ties with 学生.
CHINESE_CORPUS = "台湾大学×5 大学×6 大学生×4 学生×3 台湾×2 中学生×2"
CHINESE_NEW_WORDS = "台湾学生 中学 大学生活"
EMOJI_TEXT = "👩‍💻 👨‍👩‍👧‍👦"  # two emoji joined with zero-width joiners (ZWJ, U+200D)


# ---------------------------------------------------------------- handlers


def _names(compare_with) -> list[str]:
    """Model names from a multiselect (list) or a script's comma-separated string."""
    if not compare_with:
        return []
    if isinstance(compare_with, str):
        compare_with = compare_with.split(",")
    return [name.strip() for name in compare_with if isinstance(name, str) and name.strip()]


def _reporter(progress: gr.Progress | None):
    """The compute modules' progress callback for a handler's gr.Progress (none for the examples menu)."""
    return None if progress is None else gradio_progress(progress)


def _comparison(text: str, model: str, compare_with, progress=None) -> tuple[list, list[str]]:
    """The text through the model's tokenizer, then through each other model's; notes for the page."""
    report = _reporter(progress)
    lm = models.get(model, progress=report)
    tokenizers, notes = [(lm.name, lm.tokenizer)], []
    for name in _names(compare_with):
        try:
            other = models.get(name, progress=report)
        except Exception as error:  # noqa: BLE001 - an unavailable comparison must not hide the main result
            notes.append(f"{name}: {error}")
            continue
        tokenizers.append((other.name, other.tokenizer))
    results = tokenisation.compare(text, tokenizers)
    if len(results) == 1 and not notes:
        notes.append(t("tokenisation.only_one"))
    return results, notes


@user_errors
def tokenize(
    text: str = DEFAULT_TEXT, model: str = "", compare_with: list[str] | str | None = None, progress=gr.Progress()
):
    """The text as the model's tokens; `compare_with` adds other models' tokenizers side by side."""
    results, notes = _comparison(text, model, compare_with, progress)
    main, *comparisons = results
    return comparison_html(results, notes), payload(main) | {"comparisons": payload(comparisons)}


def _replay(text: str, model: str, progress=None) -> tuple[str, dict]:
    lm = models.get(model, progress=_reporter(progress))
    result = tokenisation.replay(lm.tokenizer, text, lm.name)
    return replay_html(result), payload(result)


@user_errors
def bpe_replay(text: str = DEFAULT_TEXT, model: str = "", progress=gr.Progress()):
    """Re-encode the text with the model's own merges, one merge per step."""
    return _replay(text, model, progress)


def _trained(corpus: str, num_merges: int, end_of_word: str, new_words: str = "", progress=None) -> tuple:
    """The toy BPE's outputs: merge table, vocabulary plot, slider, segmentations, state, payload."""
    result = tokenisation.train_bpe(corpus, num_merges, end_of_word, progress=_reporter(progress))
    last = len(result.merges)
    slider = Slider(minimum=0, maximum=max(last, 1), value=last, step=1, interactive=True)
    segmented = segmentation_html(result, last, new_words)
    return merges_table(result), vocab_figure(result), slider, segmented, result, payload(result)


@user_errors
def bpe_train(
    corpus: str = tokenisation.LECTURE_CORPUS,
    num_merges: int = 10,
    end_of_word: str = tokenisation.END_OF_WORD,
    progress=gr.Progress(),
):
    """Train a toy BPE on `corpus` for `num_merges` merges, the lecture's way."""
    return _trained(corpus, num_merges, end_of_word, progress=progress)


# ---------------------------------------------------------------- the lecture's examples

N_COMPARED, N_TRAINED = 7, 10  # the menu's outputs: a hint, the comparison's 7, the training's 10


def _outputs(hint: str, compared: tuple = (), trained: tuple = ()) -> tuple:
    """What the examples menu fills: the hint, then the comparison's and the training's outputs
    (text, model, compare with, tokens, JSON, replay, JSON; corpus, merges, marker, new words, table,
    plot, slider, segmentations, state, JSON), left alone where an example does not give them."""
    return (hint, *(compared or [gr.skip()] * N_COMPARED), *(trained or [gr.skip()] * N_TRAINED))


def _train_example(name: str, corpus: str, num_merges: int, end_of_word: str, new_words: str) -> tuple:
    trained = _trained(corpus, num_merges, end_of_word, new_words)
    return _outputs(t(f"tokenisation.hint.{name}"), trained=(corpus, num_merges, end_of_word, new_words, *trained))


def _compare_example(name: str, text: str, replay: bool) -> tuple:
    """`text` through SmolLM2 beside Gemma (and SmolLM2's merges replayed), the hint citing their counts."""
    smol, gemma = models.BUNDLED_NAME, models.GEMMA_NAME
    results, notes = _comparison(text, smol, [gemma])
    counts = {r.model: r.n_tokens for r in results}
    hint = t(f"tokenisation.hint.{name}", smol=counts.get(smol, "–"), gemma=counts.get(gemma, "–"))
    shown = (comparison_html(results, notes), payload(results[0]) | {"comparisons": payload(results[1:])})
    replayed = _replay(text, smol) if replay else ("", None)
    return _outputs(hint, compared=(text, smol, [gemma], *shown, *replayed))


EXAMPLES = {
    "bpe_lecture": lambda: _train_example(
        "bpe_lecture", tokenisation.LECTURE_CORPUS, 10, tokenisation.END_OF_WORD, DEFAULT_NEW_WORDS
    ),
    "bpe_chinese": lambda: _train_example("bpe_chinese", CHINESE_CORPUS, 6, "", CHINESE_NEW_WORDS),
    "smollm2_vs_gemma": lambda: _compare_example("smollm2_vs_gemma", "台湾大学", replay=True),
    "emoji_zwj": lambda: _compare_example("emoji_zwj", EMOJI_TEXT, replay=False),
}


# ---------------------------------------------------------------- layout


def other_bundled(default: str | None) -> list[str]:
    """The other bundled model(s), the default of 'Compare with': SmolLM2 vs Gemma is one click."""
    return [i.name for i in models.list_models() if i.source == "bundled" and i.available and i.name != default]


def build() -> None:
    gr.Markdown(tr("tokenisation.explainer"))
    default = models.default_model("causal")
    with gr.Row():
        text = gr.Textbox(t("tokenisation.default_text"), label=tr("tokenisation.text"), lines=4, max_length=checks.MAX_TEXT_CHARS)  # fmt: skip
        localized_defaults([(text, "tokenisation.default_text")])
        with gr.Column():
            model = gr.Dropdown(
                choices=model_choices(None), value=default, label=tr("tokenisation.model"), allow_custom_value=True
            )
            compare_with = gr.Dropdown(
                choices=model_choices(None),
                value=other_bundled(default),
                multiselect=True,
                allow_custom_value=True,
                label=tr("tokenisation.compare_with"),
                info=tr("tokenisation.compare_with_info"),
            )
    with gr.Row():
        tokenize_button = gr.Button(tr("tokenisation.tokenise"), variant="primary")
        replay_button = gr.Button(tr("tokenisation.replay"))
    menu = gr.Column()  # the examples menu goes here once every output exists
    hint = gr.Markdown()
    tokens = gr.HTML()
    replay = gr.HTML()
    with gr.Accordion(tr("common.json"), open=False):
        tokens_json = gr.JSON(label="/tokenize")
        replay_json = gr.JSON(label="/bpe_replay")

    gr.Markdown(tr("tokenisation_train.explainer"))
    lecture = tokenisation.train_bpe()  # shown at once: the lecture's example needs no model and takes a millisecond
    state = gr.State(lecture)
    with gr.Row():
        corpus = gr.Textbox(tokenisation.LECTURE_CORPUS, label=tr("tokenisation.corpus"), lines=3)
        with gr.Column():
            num_merges = Number(10, precision=0, label=tr("tokenisation.num_merges"))
            end_of_word = gr.Textbox(tokenisation.END_OF_WORD, label=tr("tokenisation.end_of_word"))
            train_button = gr.Button(tr("tokenisation.train"), variant="primary")
    with gr.Row():
        vocab_plot = gr.Plot(vocab_figure(lecture), label=tr("tokenisation.vocab_plot"))
        with gr.Column():
            last = len(lecture.merges)
            step = Slider(0, last, last, step=1, label=tr("tokenisation.step"))
            new_words = gr.Textbox(DEFAULT_NEW_WORDS, label=tr("tokenisation.new_words"))
            segmentation = gr.HTML(segmentation_html(lecture, last, DEFAULT_NEW_WORDS))
    headers = [tr(f"tokenisation.col.{column}") for column in TABLE_COLUMNS]
    table = gr.Dataframe(merges_table(lecture), headers=headers, label=tr("tokenisation.table"), wrap=True)
    with gr.Accordion(tr("common.json"), open=False):
        train_json = gr.JSON(label="/bpe_train")

    compared = [text, model, compare_with, tokens, tokens_json, replay, replay_json]
    trained = [corpus, num_merges, end_of_word, new_words, table, vocab_plot, step, segmentation, state, train_json]
    with menu:
        examples_menu("tokenisation", EXAMPLES, [hint, *compared, *trained])

    tokenize_button.click(tokenize, [text, model, compare_with], [tokens, tokens_json], api_name="tokenize")
    replay_button.click(bpe_replay, [text, model], [replay, replay_json], api_name="bpe_replay")
    train_button.click(
        bpe_train,
        [corpus, num_merges, end_of_word],
        [table, vocab_plot, step, segmentation, state, train_json],
        api_name="bpe_train",
    ).success(segmentation_html, [state, step, new_words], segmentation, api_visibility="private")
    for control in (step, new_words):
        control.change(segmentation_html, [state, step, new_words], segmentation, api_visibility="private")
