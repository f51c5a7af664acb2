"""The Tokenisation tab's pictures: token boxes side by side, merge tables, the toy BPE's plots."""

from __future__ import annotations

import html
import unicodedata

import plotly.graph_objects as go

from .. import tokenisation
from ..tokenisation import Replay, Tokenization, ToyBpe

COLOURS = ["#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#ddd6fe"]
MAX_WORDS_SHOWN = 300  # the replay of a long text: the first words in the page, all of them in the JSON
MAX_SEGMENTATIONS_SHOWN = 60


def visible(text: str) -> str:
    """Make invisible characters visible for display: ⟨U+200D⟩ for zero-width and control characters."""
    return "".join(
        c if c in "\n\t " or unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") else f"⟨U+{ord(c):04X}⟩"
        for c in text
    )


def _shown(text: str, line_breaks: bool = True) -> str:
    """HTML for a piece of text with invisible characters made visible."""
    escaped = html.escape(visible(text))
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


def summary_table(results: list[Tokenization]) -> str:
    """One row per tokenizer: the same text's cost in tokens, relative to the first tokenizer's."""
    first = results[0].n_tokens
    rows = "".join(
        f"<tr><td><b>{html.escape(r.model)}</b></td><td>{html.escape(r.algorithm)}</td><td>{r.vocab_size:,}</td>"
        f"<td>{r.n_tokens}</td><td>{r.chars_per_token or '–'}</td>"
        f"<td>{f'{r.n_tokens / first:.2f}×' if first else '–'}</td></tr>"
        for r in results
    )
    header = "".join(
        f"<th>{h}</th>"
        for h in ("tokenizer", "algorithm", "vocabulary", "tokens", "characters per token", "tokens vs the first")
    )
    return f'<table style="font-size:0.9em;margin-bottom:8px"><tr>{header}</tr>{rows}</table>'


def comparison_html(results: list[Tokenization], notes: list[str]) -> str:
    columns = "".join(tokens_html(r) for r in results)
    legend = (
        '<div style="font-size:0.8em;color:#6b7280;margin-top:6px">Alternating colours mark token boundaries; '
        "hover a token for its id, its piece and its bytes (byte-level BPE: Ġ = a space, Ċ = a newline; "
        "SentencePiece-style BPE: ▁ = a space, &lt;0xE5&gt; = one byte of a character outside the vocabulary). "
        "‹F0 9F› = a token holding only some bytes of a character."
        + "".join(f"<br>{html.escape(n)}" for n in notes)
        + "</div>"
    )
    summary = summary_table(results) if len(results) > 1 else ""
    return f'{summary}<div style="display:flex;gap:16px;flex-wrap:wrap">{columns}</div>{legend}'


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
        cont = "… " if word.continues else ""
        title = (
            f"{cont}{_shown(word.word, False)} → {_pieces_html(word.final)} <small>({len(word.steps)} merges)</small>"
        )
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
    one_long_word = (
        " A word starting with … continues the one before: the tokenizer's pre-tokenizer left a long stretch "
        "as one word (Gemma's splits a text only at its added tokens: newlines, tabs, special tokens). No merge "
        "crosses a token boundary, so such a word is shown cut at its tokens (before each space, or every "
        "few tokens), and each part's merges are exactly BPE on that part alone."
        if any(w.continues for w in result.words)
        else ""
    )
    legend = (
        '<div style="font-size:0.8em;color:#6b7280">Open a word to see its merges. Pieces are shown as the merge '
        "list stores them: byte-level BPE writes each byte as one character (Ġ = a space, Ċ = a newline, "
        "Ã¯ = the two bytes of ï); SentencePiece-style BPE writes a space as ▁ and a character outside its "
        f"vocabulary as byte tokens such as &lt;0xE5&gt;. Red = the piece the step just made.{one_long_word}</div>"
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
