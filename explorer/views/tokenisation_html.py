"""The Tokenisation tab's pictures: token boxes side by side, merge tables, the toy BPE's plots.

Every text is written with `t(...)`, in the language of the request being served. Tokens are drawn
as readable segments (`explorer.segments`): tokens that make one character together are one box,
never "�"; a piece of the model's merge list is shown as its characters, or as its bytes where it
holds only part of a character.
"""

from __future__ import annotations

import html
import unicodedata

import plotly.graph_objects as go

from .. import tokenisation
from ..segments import piece_to_bytes
from ..tokenisation import Replay, Tokenization, ToyBpe
from .common import t

COLOURS = ["#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#ddd6fe"]
SEVERAL = ";outline:1px dotted #374151;outline-offset:1px"  # several tokens make these characters together
MAX_WORDS_SHOWN = 300  # the replay of a long text: the first words in the page, all of them in the JSON
MAX_SEGMENTATIONS_SHOWN = 60
NAMED_ALGORITHMS = ("byte-level BPE", "BPE with byte fallback", "BPE")  # the payload's names with a label
NOT_BPE = " (not BPE)"
SUMMARY_COLUMNS = ("tokenizer", "algorithm", "vocabulary", "tokens", "chars_per_token", "relative")
TABLE_COLUMNS = (  # the toy BPE's merge table (labels "tokenisation.col.<column>")
    "step",
    "pair",
    "new_symbol",
    "count",
    "vocab_size",
    "working_vocab_size",
    "removed",
    "tied_with",
)


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


def _box(text: str, title: str, colour: str, several: bool = False) -> str:
    return (
        f'<span title="{html.escape(title)}" style="background:{colour};border-radius:3px;'
        f'padding:1px 2px;margin:1px;white-space:pre-wrap;color:#111{SEVERAL if several else ""}">{text}</span>'
    )


def algorithm_name(algorithm: str) -> str:
    """The algorithm's name in the page's language (the payload keeps the English one)."""
    if algorithm in NAMED_ALGORITHMS:
        return t(f"tokenisation.algorithm.{algorithm}")
    if algorithm.endswith(NOT_BPE):
        return t("tokenisation.algorithm.not_bpe", kind=algorithm.removesuffix(NOT_BPE))
    return algorithm


# ---------------------------------------------------------------- /tokenize


def _token_hover(result: Tokenization, index: int) -> str:
    start, end = result.offsets[index]
    return t(
        "tokenisation.token_hover",
        id=result.ids[index],
        piece=repr(result.pieces[index]),
        bytes=result.piece_bytes[index],
        start=start,
        end=end,
    )


def tokens_html(result: Tokenization) -> str:
    """One box per segment: a token, or the several tokens that make one character together (dotted;
    hover lists each token's id and bytes)."""
    boxes = []
    for i, segment in enumerate(result.segments):
        hovers = [_token_hover(result, index) for index in range(segment.start, segment.end)]
        if segment.spans_several:
            hovers.insert(0, t("tokenisation.segment_hover", n=segment.end - segment.start))
        boxes.append(_box(_shown(segment.text), "\n".join(hovers), COLOURS[i % 2], segment.spans_several))
    header = t(
        "tokenisation.header",
        model=f"<b>{html.escape(result.model)}</b>",
        algorithm=html.escape(algorithm_name(result.algorithm)),
        chars=result.n_chars,
        tokens=result.n_tokens,
        ratio=f"{result.chars_per_token:.2f}" if result.chars_per_token else "–",
    )
    empty = f"<i>{t('tokenisation.no_tokens')}</i>"
    return (
        f'<div style="min-width:260px;flex:1"><div style="font-size:0.9em;margin-bottom:4px">{header}</div>'
        f'<div style="font-family:monospace;line-height:2">{"".join(boxes) or empty}</div></div>'
    )


def summary_table(results: list[Tokenization]) -> str:
    """One row per tokenizer: the same text's cost in tokens, relative to the first tokenizer's."""
    first = results[0].n_tokens
    rows = "".join(
        f"<tr><td><b>{html.escape(r.model)}</b></td><td>{html.escape(algorithm_name(r.algorithm))}</td>"
        f"<td>{r.vocab_size:,}</td><td>{r.n_tokens}</td><td>{r.chars_per_token or '–'}</td>"
        f"<td>{f'{r.n_tokens / first:.2f}×' if first else '–'}</td></tr>"
        for r in results
    )
    header = "".join(f"<th>{t(f'tokenisation.summary.{column}')}</th>" for column in SUMMARY_COLUMNS)
    return f'<table style="font-size:0.9em;margin-bottom:8px"><tr>{header}</tr>{rows}</table>'


def comparison_html(results: list[Tokenization], notes: list[str]) -> str:
    columns = "".join(tokens_html(r) for r in results)
    legend = (
        f'<div style="font-size:0.8em;color:#6b7280;margin-top:6px">{t("tokenisation.legend")}'
        + "".join(f"<br>{html.escape(n)}" for n in notes)
        + "</div>"
    )
    summary = summary_table(results) if len(results) > 1 else ""
    return f'{summary}<div style="display:flex;gap:16px;flex-wrap:wrap">{columns}</div>{legend}'


# ---------------------------------------------------------------- /bpe_replay


def readable_piece(data: bytes) -> str:
    """A piece's bytes as characters, or as hex ⟨e5 8f⟩ where they hold only part of a character."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "⟨" + data.hex(" ") + "⟩"


def _model_pieces_html(pieces: list[str], byte_level: bool, highlight: str | None = None) -> str:
    """A model's pieces, each shown readably; hover gives the piece as the merge list stores it."""
    boxes = []
    for i, piece in enumerate(pieces):
        data = piece_to_bytes(piece, byte_level)
        title = t("tokenisation.piece_hover", piece=repr(piece), bytes=data.hex(" ").upper())
        colour = "#fca5a5" if piece == highlight else COLOURS[i % 2]
        boxes.append(_box(_shown(readable_piece(data), False), title, colour))
    return "".join(boxes)


def replay_html(result: Replay) -> str:
    def pieces(items: list[str], highlight: str | None = None) -> str:
        return _model_pieces_html(items, result.byte_level, highlight)

    def readable(piece: str) -> str:
        return _shown(readable_piece(piece_to_bytes(piece, result.byte_level)))

    verdict = t("tokenisation.replay_matches" if result.matches_tokenizer else "tokenisation.replay_differs")
    summary = t(
        "tokenisation.replay_summary",
        model=f"<b>{html.escape(result.model)}</b>",
        algorithm=html.escape(algorithm_name(result.algorithm)),
        words=len(result.words),
        tokens=len(result.ids),
        merges=result.n_merges,
        known=result.merges_in_model,
        verdict=verdict,
    )
    words = []
    for word in result.words[:MAX_WORDS_SHOWN]:
        cont = "… " if word.continues else ""
        count = t("tokenisation.n_merges", n=len(word.steps))
        title = f"{cont}{_shown(word.word, False)} → {pieces(word.final)} <small>{count}</small>"
        if word.kind == "added":
            body = t("tokenisation.added_token")
        elif word.kind == "whole-word":
            body = t("tokenisation.whole_word")
        else:
            rows = [f"<tr><td>{t('tokenisation.start')}</td><td></td><td>{pieces(word.start)}</td></tr>"]
            rows += [
                f"<tr><td>{t('tokenisation.rank', rank=s.rank)}</td><td>{readable(s.pair[0])} + {readable(s.pair[1])}"
                f"</td><td>{pieces(s.pieces, s.pair[0] + s.pair[1])}</td></tr>"
                for s in word.steps
            ]
            body = f'<table style="font-size:0.9em">{"".join(rows)}</table>'
        words.append(f"<details><summary style='font-family:monospace'>{title}</summary>{body}</details>")
    more = len(result.words) - MAX_WORDS_SHOWN
    tail = f"<div><i>{t('tokenisation.more_words_json', n=more)}</i></div>" if more > 0 else ""
    one_long_word = t("tokenisation.one_long_word") if any(w.continues for w in result.words) else ""
    legend = f'<div style="font-size:0.8em;color:#6b7280">{t("tokenisation.replay_legend")}{one_long_word}</div>'
    return f"<div>{summary}</div>{legend}<div style='margin-top:6px'>{''.join(words)}{tail}</div>"


# ---------------------------------------------------------------- /bpe_train (the toy BPE's symbols are characters)


def _symbols_html(symbols: list[str], highlight: str | None = None) -> str:
    return "".join(
        _box(_shown(s, False), s, "#fca5a5" if s == highlight else COLOURS[i % 2]) for i, s in enumerate(symbols)
    )


def merges_table(result: ToyBpe) -> list[list]:
    """One row per merge, in TABLE_COLUMNS' order."""
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


def vocab_figure(result: ToyBpe) -> go.Figure:
    steps = list(range(len(result.merges) + 1))
    figure = go.Figure()
    figure.add_scatter(
        x=steps,
        y=[len(result.alphabet)] + [m.vocab_size for m in result.merges],
        name=t("tokenisation.alphabet_and_merges"),
        mode="lines+markers",
    )
    figure.add_scatter(
        x=steps,
        y=[len(result.alphabet)] + [m.working_vocab_size for m in result.merges],
        name=t("tokenisation.working_vocabulary"),
        mode="lines+markers",
    )
    figure.update_layout(
        title=t("tokenisation.vocab_title"),
        xaxis_title=t("tokenisation.merges_axis"),
        yaxis_title=t("tokenisation.symbols_axis"),
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
            rows.append(f"<tr><td>{_shown(word)} ×{count}</td><td>{_symbols_html(pieces, newest)}</td></tr>")
    header = (
        t("tokenisation.after_merge" if step == 1 else "tokenisation.after_merges", step=step)
        + (t("tokenisation.last_merge", left=_shown(learnt[-1].pair[0]), right=_shown(learnt[-1].pair[1])) if learnt else "")
        + t("tokenisation.in_use", n=len(in_use), symbols=" ".join(_shown(s) for s in sorted(in_use)))
    )  # fmt: skip
    hidden = len(result.word_counts) - MAX_SEGMENTATIONS_SHOWN
    tail = f"<div><i>{t('tokenisation.more_words', n=hidden)}</i></div>" if hidden > 0 else ""
    unseen = [w for w in (new_words or "").split()[:MAX_SEGMENTATIONS_SHOWN] if w not in result.word_counts]
    if unseen:
        tail += f"<div>{t('tokenisation.unseen_words')}</div>" + "".join(
            f"<div style='font-family:monospace'>{_shown(w)} "
            f"{_symbols_html(tokenisation.segment(w, learnt, result.end_of_word), newest)}</div>"
            for w in unseen
        )
    return f'<div>{header}</div><table style="font-family:monospace">{"".join(rows)}</table>{tail}'
