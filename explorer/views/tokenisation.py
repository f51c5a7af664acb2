"""The Tokenisation tab: the tokens a model sees, its real BPE merges replayed, and a toy BPE trained live."""

from __future__ import annotations

import html

import gradio as gr
import plotly.graph_objects as go

from .. import checks, models, tokenisation
from ..tokenisation import Replay, Tokenization, ToyBpe
from .common import Number, Slider, gradio_progress, model_choices, payload, user_errors

DEFAULT_TEXT = (
    "Tokenisation isn't magic: naïve café, 東京, 👩‍💻 and 1234567 on 2026-11-23.\n"
    "See https://example.com/?q=bpe    def f(x): return x**2"
)
COLOURS = ["#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#ddd6fe"]
DEFAULT_NEW_WORDS = "lowest newer wider"
MAX_WORDS_SHOWN = 300  # the replay of a long text: the first words in the page, all of them in the JSON
MAX_SEGMENTATIONS_SHOWN = 60

EXPLAINER = """A language model never sees characters: it sees **tokens**, pieces of text from a fixed
vocabulary. **Tokenise** shows the pieces (hover one for its id and bytes). **Replay** shows how the
model's tokenizer got there: *byte-pair encoding* (BPE) starts every word from single bytes and
applies the merges it learnt, the earliest-learnt (lowest rank) first, until none applies; the ids
at the end equal the tokenizer's own. **Train** learns a BPE from a small corpus the lecture's way."""

TRAIN_EXPLAINER = """Each word starts as characters plus an end-of-word marker. Then, repeatedly: count every
adjacent pair of symbols (a word counts as often as it occurs), merge the most frequent pair everywhere,
add it to the vocabulary. **Tie-break**: when pairs are equally frequent, the pair seen first wins
(corpus order, then left to right), as `max` over the pair counts does in Sennrich's and minbpe's code.
The `tokenizers` library's `BpeTrainer` breaks ties differently (by token id), so it can pick
another of the tied pairs. Write `word×5` (or `word*5`) for a word occurring 5 times."""


# ---------------------------------------------------------------- rendering


def _shown(text: str, line_breaks: bool = True) -> str:
    """HTML for a piece of text with invisible characters made visible."""
    escaped = html.escape(tokenisation.visible(text))
    return escaped.replace("\t", "→").replace("\n", "↵<br>" if line_breaks else "↵") or "∅"


def _box(text: str, title: str, colour: str) -> str:
    return (
        f'<span title="{html.escape(title)}" style="background:{colour};border-radius:3px;'
        f'padding:1px 2px;margin:1px;white-space:pre-wrap;color:#111">{text}</span>'
    )


def _token_text(token: str, hex_bytes: str) -> str:
    """The token's text, or its bytes where it holds only part of a character (e.g. an emoji split in bytes)."""
    return f"‹{hex_bytes}›" if "\ufffd" in token else _shown(token)


def tokens_html(result: Tokenization) -> str:
    boxes = "".join(
        _box(
            _token_text(token, hex_bytes),
            f"id {token_id} · piece {piece!r} · bytes {hex_bytes} · characters [{start}, {end})",
            COLOURS[i % 2],
        )
        for i, (token, token_id, piece, hex_bytes, (start, end)) in enumerate(
            zip(result.tokens, result.ids, result.pieces, result.piece_bytes, result.offsets)
        )
    )
    ratio = f"{result.chars_per_token:.2f}" if result.chars_per_token else "–"
    header = (
        f"<b>{html.escape(result.model)}</b> · {html.escape(result.algorithm)} · {result.n_chars} characters, "
        f"{result.n_tokens} tokens, {ratio} characters per token"
    )
    return (
        f'<div style="min-width:260px;flex:1"><div style="font-size:0.9em;margin-bottom:4px">{header}</div>'
        f'<div style="font-family:monospace;line-height:2">{boxes or "<i>no tokens</i>"}</div></div>'
    )


def comparison_html(results: list[Tokenization], notes: list[str]) -> str:
    columns = "".join(tokens_html(r) for r in results)
    legend = (
        '<div style="font-size:0.8em;color:#6b7280;margin-top:6px">Alternating colours mark token boundaries; '
        "hover a token for its id, its piece (Ġ = a space, Ċ = a newline in byte-level BPE) and its bytes. "
        "‹F0 9F› = a token holding only some bytes of a character."
        + "".join(f"<br>{html.escape(n)}" for n in notes)
        + "</div>"
    )
    return f'<div style="display:flex;gap:16px;flex-wrap:wrap">{columns}</div>{legend}'


def _pieces_html(pieces: list[str], highlight: str | None = None) -> str:
    return "".join(
        _box(_shown(p, False), p, "#fca5a5" if p == highlight else COLOURS[i % 2]) for i, p in enumerate(pieces)
    )


def replay_html(result: Replay) -> str:
    verdict = (
        "✓ the replayed ids equal the tokenizer's own"
        if result.matches_tokenizer
        else "✗ the replayed ids differ from the tokenizer's own"
    )
    summary = (
        f"<b>{html.escape(result.model)}</b> · {html.escape(result.algorithm)} · {len(result.words)} words, "
        f"{len(result.ids)} tokens, {result.n_merges} merge steps (out of {result.merges_in_model:,} merges the "
        f"tokenizer knows) · {verdict}"
    )
    words = []
    for word in result.words[:MAX_WORDS_SHOWN]:
        title = f"{_shown(word.word, False)} → {_pieces_html(word.final)} <small>({len(word.steps)} merges)</small>"
        if word.kind == "added":
            body = "an added (special) token: cut out of the text before BPE, never merged"
        elif word.kind == "whole-word":
            body = "the whole word is in the vocabulary: this tokenizer (ignore_merges) takes it as one token"
        else:
            rows = [f"<tr><td>start</td><td></td><td>{_pieces_html(word.start)}</td></tr>"]
            rows += [
                f"<tr><td>rank {s.rank:,}</td><td>{_shown(s.pair[0])} + {_shown(s.pair[1])}</td>"
                f"<td>{_pieces_html(s.pieces, s.pair[0] + s.pair[1])}</td></tr>"
                for s in word.steps
            ]
            body = f'<table style="font-size:0.9em">{"".join(rows)}</table>'
        words.append(f"<details><summary style='font-family:monospace'>{title}</summary>{body}</details>")
    more = len(result.words) - MAX_WORDS_SHOWN
    tail = f"<div><i>… {more} more words in the JSON.</i></div>" if more > 0 else ""
    legend = (
        '<div style="font-size:0.8em;color:#6b7280">Open a word to see its merges. Pieces are shown as the merge '
        "list stores them: byte-level BPE writes each byte as one character (Ġ = a space, Ċ = a newline, "
        "Ã¯ = the two bytes of ï). Red = the piece the step just made.</div>"
    )
    return f"<div>{summary}</div>{legend}<div style='margin-top:6px'>{''.join(words)}{tail}</div>"


def merges_table(result: ToyBpe) -> list[list]:
    return [
        [
            step + 1,
            f"{m.pair[0]} + {m.pair[1]}",
            m.new_symbol,
            m.count,
            m.vocab_size,
            m.working_vocab_size,
            " ".join(m.removed),
            "; ".join(" + ".join(p) for p in m.tied_with),
        ]
        for step, m in enumerate(result.merges)
    ]


TABLE_HEADERS = [
    "step",
    "pair merged",
    "new symbol",
    "count",
    "vocabulary (alphabet + merges)",
    "working vocabulary",
    "left the working vocabulary",
    "tied pairs (lost the tie-break)",
]


def vocab_figure(result: ToyBpe) -> go.Figure:
    steps = list(range(len(result.merges) + 1))
    figure = go.Figure()
    figure.add_scatter(
        x=steps,
        y=[len(result.alphabet)] + [m.vocab_size for m in result.merges],
        name="alphabet + merges",
        mode="lines+markers",
    )
    figure.add_scatter(
        x=steps,
        y=[len(result.alphabet)] + [m.working_vocab_size for m in result.merges],
        name="symbols still in use (working vocabulary)",
        mode="lines+markers",
    )
    figure.update_layout(
        title="Vocabulary size vs merges",
        xaxis_title="merges",
        yaxis_title="symbols",
        height=340,
        margin=dict(l=40, r=10, t=50, b=40),
        legend=dict(orientation="h", y=-0.3),
    )
    return figure


def segmentation_html(result: ToyBpe | None, step: int, new_words: str = "") -> str:
    """Every corpus word segmented by the first `step` merges (the state after that step),
    then words not in the corpus, segmented by applying the same merges in the order learnt."""
    if not result:
        return ""
    step = max(0, min(int(step or 0), len(result.merges)))
    learnt = result.merges[:step]
    newest = learnt[-1].new_symbol if learnt else None
    rows = []
    in_use: set[str] = set()
    for word, count in result.word_counts.items():
        pieces = tokenisation.segment(word, learnt, result.end_of_word)
        in_use.update(pieces)
        if len(rows) < MAX_SEGMENTATIONS_SHOWN:
            rows.append(f"<tr><td>{_shown(word)} ×{count}</td><td>{_pieces_html(pieces, newest)}</td></tr>")
    header = (
        f"After {step} merge{'s' if step != 1 else ''}"
        + (f" (last: {_shown(learnt[-1].pair[0])} + {_shown(learnt[-1].pair[1])})" if learnt else "")
        + f": {len(in_use)} symbols in use: {' '.join(_shown(s) for s in sorted(in_use))}"
    )
    hidden = len(result.word_counts) - MAX_SEGMENTATIONS_SHOWN
    tail = f"<div><i>… {hidden} more words.</i></div>" if hidden > 0 else ""
    unseen = [w for w in (new_words or "").split()[:MAX_SEGMENTATIONS_SHOWN] if w not in result.word_counts]
    if unseen:
        tail += "<div>Words not in the corpus, segmented with the same merges:</div>" + "".join(
            f"<div style='font-family:monospace'>{_shown(w)} {_pieces_html(tokenisation.segment(w, learnt, result.end_of_word), newest)}</div>"
            for w in unseen
        )
    return f'<div>{header}</div><table style="font-family:monospace">{"".join(rows)}</table>{tail}'


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
    text = checks.text(text, allow_blank=True)
    lm = models.get(model, progress=gradio_progress(progress))
    main = tokenisation.tokenize(lm.tokenizer, text, lm.name)
    comparisons, notes = [], []
    for name in _names(compare_with):
        try:
            other = models.get(name, progress=gradio_progress(progress))
        except Exception as error:  # noqa: BLE001 - an unavailable comparison must not hide the main result
            notes.append(f"{name}: {error}")
            continue
        if other.name != lm.name:
            comparisons.append(tokenisation.tokenize(other.tokenizer, text, other.name))
    if not comparisons and not notes:
        notes.append(
            "Only one tokenizer compared. Offline only the bundled SmolLM2 exists; gpt2 and bert-base-uncased "
            "(WordPiece, not BPE) appear under 'Compare with' when they are cached or the hub is reachable."
        )
    result = payload(main) | {"comparisons": payload(comparisons)}
    return comparison_html([main, *comparisons], notes), result


@user_errors
def bpe_replay(text: str = DEFAULT_TEXT, model: str = "", progress=gr.Progress()):
    """Re-encode the text with the model's own merges, one merge per step."""
    text = checks.text(text, allow_blank=True)
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
    json = {
        "merges": payload(result.merges),
        "vocab": result.vocab,
        "segmentations": result.segmentations,
        "alphabet": result.alphabet,
        "word_counts": result.word_counts,
        "end_of_word": result.end_of_word,
        "stopped_early": result.stopped_early,
    }
    return (
        gr.Dataframe(value=merges_table(result), headers=TABLE_HEADERS),
        vocab_figure(result),
        slider,
        segmentation_html(result, last),
        result,
        json,
    )


# ---------------------------------------------------------------- layout


def _other_available(default: str | None) -> list[str]:
    return [info.name for info in models.list_models() if info.available and info.name != default]


def build() -> None:
    gr.Markdown(EXPLAINER)
    default = models.default_model("causal")
    with gr.Row():
        text = gr.Textbox(DEFAULT_TEXT, label="Text", lines=4, max_length=tokenisation.MAX_TEXT_CHARS)
        with gr.Column():
            model = gr.Dropdown(
                choices=model_choices(None),
                value=default,
                label="Model (its tokenizer)",
                allow_custom_value=True,
            )
            compare_with = gr.Dropdown(
                choices=model_choices(None),
                value=_other_available(default),
                multiselect=True,
                allow_custom_value=True,
                label="Compare with",
                info="Other models' tokenizers, side by side (those cached or reachable).",
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
