"""Class polls (predict, then reveal): "Ask the class" in a tab, the student page, the poll API.

- `ask_the_class(freeze, inputs)`, one call in a tab's build(): freezes a question from the tab's
  current inputs, shows its code and link, a live tally (a timer polls it) and a Reveal button that
  closes the poll and draws the tally beside the model's own numbers;
- `student_page()`, one call in app.py: when the page's URL has `?poll=<CODE>`, it shows only the
  question and its answer buttons (the tabs are hidden), one vote per browser (a random voter id kept
  in the browser's storage), then "vote counted" only;
- the API: `/poll_create`, `/poll_vote` (API voters pass their own voter id) and `/poll_results`.
Every text a user typed is escaped before it is shown as HTML.
"""

from __future__ import annotations

import html
import inspect
import secrets
from collections.abc import Callable

import gradio as gr
import plotly.graph_objects as go
from gradio.context import Context

from .. import i18n, icl, models
from .. import poll as compute
from ..checks import ExplorerError
from ..poll import STORE, Question, Tally
from ..poll.store import is_voter_id
from .common import SHORT_WORK, payload, t, tr, user_errors

POLL_WORK = dict(concurrency_id="poll", concurrency_limit=None)  # votes and tallies: a dict look-up each
TICK_SECONDS = 2.0
CLASS, MODEL = "#f59e0b", "#3b82f6"


# ---------------------------------------------------------------- the API


@user_errors
def poll_create(
    question: str = "Which token comes next after 'The capital of France is'?",
    options: str = "Paris\nLyon\nthe\na",
    probabilities: str = "",
) -> dict:
    """Open a poll: a question, its options one per line, optionally the model's probability of each
    (revealed with the tally). Returns the code students vote with and the key that reads the tally."""
    opened = STORE.open(compute.custom(question, options, probabilities))
    return _opened(opened)


@user_errors
def poll_vote(code: str = "", option: int = 0, voter: str = "") -> dict:
    """Vote for option number `option` (0-based) of poll `code`; `voter` is the voter's own id (8 to 64
    letters, digits, '-' or '_', e.g. a random UUID): one vote per voter id."""
    counted = STORE.vote(code, option, voter)
    return {"code": STORE.ballot(code).code, "option": counted, "counted": True}


@user_errors
def poll_results(code: str = "", key: str = "", reveal: bool = False) -> dict:
    """The tally of poll `code` (with the key /poll_create returned); `reveal=true` closes the poll and
    adds the model's own probabilities."""
    return payload(STORE.tally(code, key, bool(reveal)))


def _opened(poll: compute.Poll) -> dict:
    return {
        "code": poll.code,
        "key": poll.key,
        "link": f"?poll={poll.code}",
        "question": poll.question.text,
        "options": list(poll.question.options),
        "expires_in": compute.EXPIRY_SECONDS,
    }


# ---------------------------------------------------------------- the questions each tab asks


def next_token_question(prompt: str, model: str, use_chat_template: bool) -> Question:
    """Generation: which token comes next after the prompt?"""
    return compute.next_token(models.get(model, "causal"), prompt, bool(use_chat_template))


def icl_question(task, shots, query, model, seed, use_chat_template, template, verbalizers, instruction, examples):
    """ICL: which label will the model pick for the query?"""
    chosen = icl.resolve_task(task, template, verbalizers, instruction, examples)
    return compute.icl_label(models.get(model, "causal"), chosen, query, shots, seed, bool(use_chat_template))


def next_merge_question(corpus: str, step: int, end_of_word: str) -> Question:
    """Tokenisation: which pair does the toy BPE merge next?"""
    return compute.next_merge(corpus, step, end_of_word)


# ---------------------------------------------------------------- the lecturer's panel


def card_html(opened: dict) -> str:
    """The code, the link students open and the question with its options (all escaped)."""
    options = "".join(f"<li>{html.escape(option)}</li>" for option in opened["options"])
    return (
        f"<div class='poll-card'><div>{html.escape(t('poll.card.code'))}</div>"
        f"<div class='poll-code' style='font-size:3em;font-weight:bold;letter-spacing:0.15em'>{opened['code']}</div>"
        f"<div>{html.escape(t('poll.card.link'))} <a class='poll-link' href='{opened['link']}' target='_blank'>"
        f"{opened['link']}</a></div>"
        f"<p><b>{html.escape(opened['question'])}</b></p><ol>{options}</ol>"
        f"<div>{html.escape(t('poll.card.expires', hours=compute.EXPIRY_SECONDS // 3600))}</div></div>"
    )


def tally_html(tally: Tally) -> str:
    """The live tally: a bar per option with its votes."""
    most = max(tally.votes + [1])
    rows = "".join(
        f"<div style='margin:4px 0'><span>{html.escape(option)}</span> "
        f"<span style='display:inline-block;background:{CLASS};height:1em;width:{12 * n / most:.1f}em'></span> "
        f"<b class='poll-count'>{n}</b></div>"
        for option, n in zip(tally.options, tally.votes)
    )
    state = t("poll.tally.open") if tally.open else t("poll.tally.closed")
    total = t("poll.tally.total", n=tally.total)
    return f"<div class='poll-tally'><b class='poll-total'>{html.escape(total)}</b> · {html.escape(state)}{rows}</div>"


def reveal_figure(tally: Tally) -> go.Figure:
    """The class's share of votes beside the model's own number for each option."""
    share = [n / tally.total if tally.total else 0.0 for n in tally.votes]
    figure = go.Figure()
    figure.add_bar(x=tally.options, y=share, name=t("poll.series.class", n=tally.total), marker_color=CLASS)
    if tally.model_probs:
        figure.add_bar(x=tally.options, y=tally.model_probs, name=tally.measure, marker_color=MODEL)
    pick = tally.options[tally.model_answer] if tally.model_answer is not None else "–"
    figure.update_layout(
        barmode="group",
        title=t("poll.reveal_title", pick=pick),
        yaxis_range=[0, 1],
        yaxis_title=t("poll.share_axis"),
        legend_orientation="h",
        height=360,
    )
    return figure


def ask_the_class(freeze: Callable[..., Question], inputs: list) -> None:
    """The "Ask the class" panel of a tab: `freeze(*inputs)` builds the question from the tab's inputs."""
    with gr.Accordion(tr("poll.panel"), open=False):
        gr.Markdown(tr("poll.panel_info"))
        opened = gr.State(None)  # the poll's /poll_create payload (code and key): this page's poll
        with gr.Row():
            ask = gr.Button(tr("poll.ask"))
            reveal = gr.Button(tr("poll.reveal"))
        with gr.Row():
            card = gr.HTML()
            tally = gr.HTML()
        figure = gr.Plot(label=tr("poll.reveal_plot"))
        timer = gr.Timer(TICK_SECONDS, active=False)

    def open_poll(*values):
        poll = _opened(STORE.open(freeze(*values)))
        return poll, card_html(poll), tally_html(STORE.tally(poll["code"], poll["key"])), gr.Timer(active=True)

    open_poll.__signature__ = inspect.signature(freeze)  # the tab's inputs, for `user_errors`

    @user_errors
    def live(poll):
        if not poll:
            return gr.skip(), gr.Timer(active=False)
        try:
            current = STORE.tally(poll["code"], poll["key"])
        except ExplorerError as error:  # expired: say so and stop polling
            return html.escape(str(error)), gr.Timer(active=False)
        return tally_html(current), gr.Timer(active=current.open)

    @user_errors
    def show(poll):
        if not poll:
            raise gr.Error(t("poll.nothing_to_reveal"))
        final = STORE.tally(poll["code"], poll["key"], reveal=True)
        return tally_html(final), reveal_figure(final), gr.Timer(active=False)

    ask.click(
        user_errors(open_poll), inputs, [opened, card, tally, timer], api_visibility="private", **SHORT_WORK
    ).then(None, js="() => document.querySelectorAll('a.poll-link').forEach(a => { a.textContent = a.href; })")
    timer.tick(live, opened, [tally, timer], api_visibility="private", show_progress="hidden", **POLL_WORK)
    reveal.click(show, opened, [tally, figure, timer], api_visibility="private", **POLL_WORK)


# ---------------------------------------------------------------- the student page


def _message(text: str) -> str:
    return f"<div class='poll-message' style='font-size:1.3em;padding:1em 0'>{html.escape(text)}</div>"


def _ballot_update(question: str | None, options: list[str], note: str) -> list:
    """The student column's contents: the question, one button per option (the rest hidden), a note."""
    heading = f"<h2 class='poll-question'>{html.escape(question)}</h2>" if question else ""
    buttons = [
        gr.Button(value=options[i], visible=True) if i < len(options) else gr.Button(visible=False)
        for i in range(compute.MAX_OPTIONS)
    ]
    return [heading, *buttons, _message(note) if note else ""]


def student_page() -> None:
    """The page a `?poll=<CODE>` link opens, and the poll API. Call once, last, inside the app's Blocks."""
    Context.root_block.fill_expected_parents()  # puts the tabs in their gr.Tabs now (else done on exit), to hide it
    # What the lecturer's page shows (title, tabs, panels): hidden for a student. States have nothing to hide.
    others = [b for b in Context.root_block.children if not isinstance(b, (gr.State, gr.BrowserState, gr.Timer))]
    with gr.Column(visible=False, elem_id="poll-student") as page:
        gr.Markdown(tr("poll.student.title"))
        question = gr.HTML()
        buttons = [gr.Button(visible=False, size="lg") for _ in range(compute.MAX_OPTIONS)]
        note = gr.HTML()
    code = gr.State("")
    voter = gr.BrowserState(None, storage_key="plm-explorer-poll-voter")

    def load(voter_id, request: gr.Request):
        asked = request.query_params.get("poll") if request else None
        if asked is None:
            return [gr.skip()] * (len(others) + 5 + compute.MAX_OPTIONS)
        with i18n.speaking(i18n.negotiate(request.headers.get("accept-language"))):
            if not is_voter_id(voter_id):
                voter_id = secrets.token_urlsafe(12)  # this browser's voter id, from now on
            hide = [gr.update(visible=False) for _ in others]
            try:
                ballot = STORE.ballot(asked)
                if STORE.has_voted(ballot.code, voter_id):
                    contents = _ballot_update(ballot.question, [], t("poll.student.already"))
                elif not ballot.open:
                    contents = _ballot_update(ballot.question, [], t("poll.student.closed"))
                else:
                    contents = _ballot_update(ballot.question, ballot.options, "")
                return [*hide, gr.Column(visible=True), ballot.code, voter_id, *contents]
            except ExplorerError as error:
                return [*hide, gr.Column(visible=True), "", voter_id, *_ballot_update(None, [], str(error))]

    Context.root_block.load(
        load, voter, [*others, page, code, voter, question, *buttons, note], api_visibility="private", **POLL_WORK
    )

    def voting(option: int):
        @user_errors
        def vote(poll_code, voter_id):
            try:
                STORE.vote(poll_code, option, voter_id)
                text = t("poll.student.voted")
            except ExplorerError as error:
                text = str(error)
            return [gr.Button(visible=False)] * compute.MAX_OPTIONS + [_message(text)]

        return vote

    for index, button in enumerate(buttons):
        button.click(voting(index), [code, voter], [*buttons, note], api_visibility="private", **POLL_WORK)

    gr.api(poll_create, api_name="poll_create", **POLL_WORK)
    gr.api(poll_vote, api_name="poll_vote", **POLL_WORK)
    gr.api(poll_results, api_name="poll_results", **POLL_WORK)
