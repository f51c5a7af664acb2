"""The Tokenisation tab: the tokens a model sees (two tokenizers side by side), its real BPE merges
replayed, and a toy BPE trained live. Pictures are drawn in `tokenisation_html`."""

from __future__ import annotations

import gradio as gr

from .. import checks, models, tokenisation
from .common import Number, Slider, gradio_progress, model_choices, payload, user_errors
from .tokenisation_html import (
    TABLE_HEADERS,
    comparison_html,
    merges_table,
    replay_html,
    segmentation_html,
    vocab_figure,
)

DEFAULT_TEXT = (
    "Tokenisation isn't magic: naïve café, 東京, 👩‍💻 and 1234567 on 2026-11-23.\n"
    "See https://example.com/?q=bpe    def f(x): return x**2"
)
DEFAULT_NEW_WORDS = "lowest newer wider"

EXPLAINER = """A language model never sees characters: it sees **tokens**, pieces of text from a fixed
vocabulary. **Tokenise** shows the pieces (hover one for its id and bytes), beside another model's: the bundled
SmolLM2 (49,152 tokens, byte-level BPE, trained mostly on English) and Gemma 3 (262,144 tokens, multilingual,
BPE with byte fallback) cut the same text differently, and the table says what each pays in tokens.
**Replay** shows how the model's tokenizer got there: *byte-pair encoding* (BPE) starts every word from single
bytes (SmolLM2) or characters (Gemma; a character outside its vocabulary becomes its bytes, <0xE5>-style) and
applies the merges it learnt, the earliest-learnt (lowest rank) first, until none applies; the ids at the end
equal the tokenizer's own. **Train** learns a BPE from a small corpus the lecture's way."""

TRAIN_EXPLAINER = """Each word starts as characters plus an end-of-word marker. Then, repeatedly: count every
adjacent pair of symbols (a word counts as often as it occurs), merge the most frequent pair everywhere,
add it to the vocabulary. **Tie-break**: when pairs are equally frequent, the pair seen first wins
(corpus order, then left to right), as `max` over the pair counts does in Sennrich's and minbpe's code.
The `tokenizers` library's `BpeTrainer` breaks ties differently (by token id), so it can pick
another of the tied pairs. Write `word×5` (or `word*5`) for a word occurring 5 times."""


# ---------------------------------------------------------------- handlers


def _names(compare_with) -> list[str]:
    """Model names from a multiselect (list) or a script's comma-separated string."""
    if not compare_with:
        return []
    if isinstance(compare_with, str):
        compare_with = compare_with.split(",")
    return [name.strip() for name in compare_with if isinstance(name, str) and name.strip()]


@user_errors
def tokenize(
    text: str = DEFAULT_TEXT, model: str = "", compare_with: list[str] | str | None = None, progress=gr.Progress()
):
    """The text as the model's tokens; `compare_with` adds other models' tokenizers side by side."""
    lm = models.get(model, progress=gradio_progress(progress))
    tokenizers, notes = [(lm.name, lm.tokenizer)], []
    for name in _names(compare_with):
        try:
            other = models.get(name, progress=gradio_progress(progress))
        except Exception as error:  # noqa: BLE001 - an unavailable comparison must not hide the main result
            notes.append(f"{name}: {error}")
            continue
        tokenizers.append((other.name, other.tokenizer))
    main, *comparisons = tokenisation.compare(text, tokenizers)
    if not comparisons and not notes:
        notes.append(
            "Only one tokenizer: pick another under 'Compare with' (the other bundled model; gpt2 and "
            "bert-base-uncased (WordPiece, not BPE) appear there when they are cached or the hub is reachable)."
        )
    result = payload(main) | {"comparisons": payload(comparisons)}
    return comparison_html([main, *comparisons], notes), result


@user_errors
def bpe_replay(text: str = DEFAULT_TEXT, model: str = "", progress=gr.Progress()):
    """Re-encode the text with the model's own merges, one merge per step."""
    lm = models.get(model, progress=gradio_progress(progress))
    result = tokenisation.replay(lm.tokenizer, text, lm.name)
    return replay_html(result), payload(result)


@user_errors
def bpe_train(
    corpus: str = tokenisation.LECTURE_CORPUS,
    num_merges: int = 10,
    end_of_word: str = tokenisation.END_OF_WORD,
    progress=gr.Progress(),
):
    """Train a toy BPE on `corpus` for `num_merges` merges, the lecture's way."""
    result = tokenisation.train_bpe(corpus, num_merges, end_of_word, progress=gradio_progress(progress))
    last = len(result.merges)
    slider = Slider(minimum=0, maximum=max(last, 1), value=last, step=1, interactive=True)
    return (
        gr.Dataframe(value=merges_table(result), headers=TABLE_HEADERS),
        vocab_figure(result),
        slider,
        segmentation_html(result, last),
        result,
        payload(result),
    )


# ---------------------------------------------------------------- layout


def other_bundled(default: str | None) -> list[str]:
    """The other bundled model(s), the default of 'Compare with': SmolLM2 vs Gemma is one click."""
    return [i.name for i in models.list_models() if i.source == "bundled" and i.available and i.name != default]


def build() -> None:
    gr.Markdown(EXPLAINER)
    default = models.default_model("causal")
    with gr.Row():
        text = gr.Textbox(DEFAULT_TEXT, label="Text", lines=4, max_length=checks.MAX_TEXT_CHARS)
        with gr.Column():
            model = gr.Dropdown(
                choices=model_choices(None),
                value=default,
                label="Model (its tokenizer)",
                allow_custom_value=True,
            )
            compare_with = gr.Dropdown(
                choices=model_choices(None),
                value=other_bundled(default),
                multiselect=True,
                allow_custom_value=True,
                label="Compare with",
                info="Other models' tokenizers side by side (the other bundled model by default; hub models "
                "when cached or reachable).",
            )
    with gr.Row():
        tokenize_button = gr.Button("Tokenise", variant="primary")
        replay_button = gr.Button("Replay the model's merges")
    tokens = gr.HTML()
    replay = gr.HTML()
    with gr.Accordion("JSON (what the API returns)", open=False):
        tokens_json = gr.JSON(label="/tokenize")
        replay_json = gr.JSON(label="/bpe_replay")

    gr.Markdown("### Train a toy BPE\n" + TRAIN_EXPLAINER)
    lecture = tokenisation.train_bpe()  # shown at once: the lecture's example needs no model and takes a millisecond
    state = gr.State(lecture)
    with gr.Row():
        corpus = gr.Textbox(tokenisation.LECTURE_CORPUS, label="Corpus", lines=3)
        with gr.Column():
            num_merges = Number(10, precision=0, label=f"Merges (1 to {tokenisation.MAX_MERGES:,})")
            end_of_word = gr.Textbox(tokenisation.END_OF_WORD, label="End-of-word marker (empty = none)")
            train_button = gr.Button("Train", variant="primary")
    with gr.Row():
        vocab_plot = gr.Plot(vocab_figure(lecture), label="Vocabulary size vs merges")
        with gr.Column():
            last = len(lecture.merges)
            step = Slider(0, last, last, step=1, label="Show the words after this many merges")
            new_words = gr.Textbox(DEFAULT_NEW_WORDS, label="New words to segment with the learnt merges")
            segmentation = gr.HTML(segmentation_html(lecture, last, DEFAULT_NEW_WORDS))
    table = gr.Dataframe(merges_table(lecture), headers=TABLE_HEADERS, label="Merges, in the order learnt", wrap=True)
    with gr.Accordion("JSON (what the API returns)", open=False):
        train_json = gr.JSON(label="/bpe_train")

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
