"""Permalinks and projector mode in the page.

Each view calls `copy_button(tab, api_name)` where its "Copy link" button belongs; `wire(page, tabs)`
(app.py, once every tab is built) reads that endpoint's inputs and parameter names from its event, so a
link's parameters are the API's (docs/API.md) without a second list to keep in step. Opening a link:

1. `demo.load` reads the page's query (explorer/permalinks.py checks it), selects the tab, fills the
   inputs and shows a note for whatever it ignored (the page language's default texts leave alone
   the inputs a link sets: `set_by_link`, asked by common.localized_defaults);
2. on a tab where changing an input resets others (picking an in-context-learning task resets that
   task's fields), once those changes have settled it fills the inputs again, so the link's values
   are what stays (other tabs go on at once);
3. the browser clicks the tab's main button: the action runs exactly as if the user had clicked it
   (meanwhile the browser evaluates plotly's script, which draws the result: `PLOTLY_CHUNK`).

The same happens on a tab's lecture page (app.py: the tab alone at `/<tab>`, whose link names no tab:
the page is the tab; Copy link writes these links, and "All tabs" opens the same link on the home page).
These steps skip Gradio's queue, where the page's other load events wait, and wait for nothing a
tab does not need (bench/permalinks.py times a link from navigation to its result on screen).

Projector mode (its toggle is in `page_controls`) is drawn in the browser: views/projector.py.
"""

from __future__ import annotations

import inspect
import json
import re
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
from gradio.context import Context, LocalContext

from .. import checks, permalinks
from ..permalinks import Parameter
from . import export, projector
from .common import t, tr, user_errors

# Each app's linked tabs, in the order their buttons were placed (tests build several apps).
_LINKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class Linked:
    """A tab whose inputs a link can set: its main endpoint, its Copy link button and where the link shows."""

    tab: str
    api_name: str
    copy: gr.Button
    shown: gr.Textbox
    page: str  # the page it is on: "" (the home page, every tab) or the tab's own lecture page
    parameters: list[Parameter] = field(default_factory=list)  # filled by wire(), from the endpoint
    inputs: list = field(default_factory=list)  # the components, in the parameters' order


@dataclass
class Page:
    """The page-wide controls: projector mode and the notes of an opened link."""

    projector: gr.Checkbox
    notes: gr.Markdown


def page_controls() -> Page:
    with gr.Row():
        projector_mode = projector.toggle()
        notes = gr.Markdown(visible=False)
        export.page_labels()  # the download buttons' labels, in the page's language
    return Page(projector_mode, notes)


def all_tabs_button(tab: str) -> None:
    """On a lecture page: a button that opens the same link on the home page, among every tab."""
    button = gr.Button(tr("links.all_tabs"), size="sm", variant="secondary", scale=0, min_width=240)
    button.click(None, js=ALL_TABS_JS.replace("TAB", json.dumps(tab)))


def copy_button(tab: str, api_name: str) -> None:
    """A "Copy link" button here: it writes the link to `tab` with the current inputs of its main
    endpoint `api_name` (the one whose parameters the link names)."""
    copy = gr.Button(tr("links.copy"), size="sm", variant="secondary")
    shown = gr.Textbox(label=tr("links.link"), visible=False, buttons=["copy"], interactive=False)
    demo = Context.root_block
    _LINKED.setdefault(demo, []).append(Linked(tab, api_name, copy, shown, demo.current_page))


def wire(page: Page, tabs: gr.Tabs | None) -> None:
    """Connect the Copy link buttons and the opening of a link (call once per page, last): on the home
    page (`tabs`: its tabs), or on a tab's lecture page (`tabs` None: the page is the tab)."""
    demo = Context.root_block
    lecture = demo.current_page  # "" on the home page, else the tab key
    linked = [entry for entry in _LINKED.get(demo, []) if entry.page == lecture]
    for entry in linked:
        _read_endpoint(demo, entry)
        _wire_copy(entry, page.projector)
    schemas = {entry.tab: entry.parameters for entry in linked}
    refilled = [entry for entry in linked if _reset_by_changes(demo, entry)]

    def fill(entries: list[Linked], opened: permalinks.Opened) -> list:
        """The link's values for the inputs of `entries` (gr.skip() where it sets none)."""
        return [
            opened.values[parameter.name] if entry.tab == opened.tab and parameter.name in opened.values else gr.skip()
            for entry in entries
            for parameter in entry.parameters
        ]

    @user_errors
    def open_link():
        """The link's tab, projector mode, notes and input values."""
        opened = permalinks.read(_query(lecture), schemas)
        notes = gr.Markdown(_notes(opened.notes), visible=True) if opened.notes else gr.skip()
        tab = [gr.Tabs(selected=opened.tab) if opened.tab else gr.skip()] if tabs else []
        return [*tab, True if opened.projector else gr.skip(), notes, *fill(linked, opened)]

    @user_errors
    def fill_again():
        return fill(refilled, permalinks.read(_query(lecture), schemas))

    # Not queued: the page's other load events (default texts in its language, the poll's check) wait
    # in the queue; a link's own steps go straight to the server.
    quick = dict(queue=False, api_visibility="private", show_progress="hidden")
    outputs = [*([tabs] if tabs else []), page.projector, page.notes, *(c for entry in linked for c in entry.inputs)]
    opening = demo.load(open_link, None, outputs, **quick)
    if refilled:
        settle = SETTLE_JS.replace("TABS", json.dumps([entry.tab for entry in refilled])).replace(
            "PAGE", json.dumps(lecture)
        )
        refill_inputs = [component for entry in refilled for component in entry.inputs]
        opening = opening.then(fill_again, None, refill_inputs, js=settle, **quick)
    run = RUN_JS.replace("PAGE", json.dumps(lecture)).replace("PLOTLY", json.dumps(PLOTLY_CHUNK))
    opening.then(None, None, None, js=run)


def _query(lecture: str) -> dict[str, str]:
    """The page's query, naming its tab on a lecture page (whose link names none: the page is the tab)."""
    return {**page_query(), "tab": lecture} if lecture else page_query()


def _reset_by_changes(demo: gr.Blocks, entry: Linked) -> bool:
    """Whether changing one of the tab's linked inputs sets others of them (as picking an ICL task
    resets that task's fields): then a link's values are filled again once those changes have run."""
    inputs = {component._id for component in entry.inputs}
    return any(
        any(block in inputs and event == "change" for block, event in fn.targets)
        and any(output._id in inputs for output in fn.outputs)
        for fn in demo.fns.values()
    )


def set_by_link(component) -> bool:
    """Whether the page being served was opened from a link that sets this input (then the page's
    language does not replace it with its own default text)."""
    for entry in _LINKED.get(LocalContext.blocks.get(None), []):
        for parameter, linked in zip(entry.parameters, entry.inputs):
            if linked is component:
                query = _query(entry.page)
                return entry.tab == query.get("tab") and parameter.name in query
    return False


def page_query() -> dict[str, str]:
    """The query parameters of the page that sent the request being served (Gradio sends the page's
    own with every event)."""
    request = LocalContext.request.get(None)
    return dict(getattr(request, "query_params", None) or {})


def _read_endpoint(demo: gr.Blocks, entry: Linked) -> None:
    """The endpoint's parameter names (its function's signature) and input components, in order;
    its trigger (the tab's main button) gets the id the browser clicks when a link opens."""
    own_name = re.compile(re.escape(entry.api_name) + r"(_\d+)?")  # a lecture page's copy is named `<name>_1`
    event = next(fn for fn in demo.fns.values() if fn.page == entry.page and own_name.fullmatch(fn.api_name or ""))
    names = [
        name
        for name, p in inspect.signature(event.fn).parameters.items()
        if name != "request" and not isinstance(p.default, gr.Progress)
    ]
    for name, component in zip(names, event.inputs):
        parameter = _parameter(name, component)
        if parameter:
            entry.parameters.append(parameter)
            entry.inputs.append(component)
    button = demo.blocks[event.targets[0][0]]
    button.elem_id = button.elem_id or f"plm-run-{entry.tab}"


def _parameter(name: str, component) -> Parameter | None:
    """What values the component takes, as a link parameter (None: a link cannot set it)."""
    if isinstance(component, gr.Checkbox):
        return Parameter(name, "boolean")
    if isinstance(component, gr.Slider):
        whole = all(float(x).is_integer() for x in (component.minimum, component.step))
        return Parameter(name, "integer" if whole else "number", component.minimum, component.maximum)
    if isinstance(component, gr.Number):
        kind = "integer" if component.precision == 0 else "number"
        return Parameter(name, kind, component.minimum, component.maximum)
    if isinstance(component, gr.Textbox):
        return Parameter(name, "text", max_chars=component.max_length or checks.MAX_TEXT_CHARS)
    if isinstance(component, (gr.Dropdown, gr.Radio, gr.CheckboxGroup)):
        choices = tuple(str(value) for _, value in component.choices)
        several = isinstance(component, gr.CheckboxGroup) or getattr(component, "multiselect", False)
        return Parameter(name, "choices" if several else "choice", choices=choices)
    return None


def _wire_copy(entry: Linked, projector: gr.Checkbox) -> None:
    @user_errors
    def make_link(values: dict):
        written = {p.name: _plain(values[component]) for p, component in zip(entry.parameters, entry.inputs)}
        query = permalinks.checked_link(
            entry.tab, lecture=True, **written, projector=True if values[projector] else None
        )
        return gr.Textbox(value=query, visible=True)

    copy_js = COPY_JS.replace("TAB", json.dumps(entry.tab)).replace("HOME", json.dumps(not entry.page))
    entry.copy.click(make_link, {*entry.inputs, projector}, entry.shown, api_visibility="private").success(
        None, entry.shown, entry.shown, js=copy_js
    )


def _plain(value):
    """A slider's 32.0 is written 32 in a link."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _notes(notes: list[str]) -> str:
    """The notes as Markdown that shows any text literally (a link's names and values are never markup)."""
    escaped = [note.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") for note in notes]
    heading = t("links.notes")
    return "\n".join([f"**{heading}**", *(f"- {note}" for note in escaped)])


# ---------------------------------------------------------------- in the browser

# On a link to one of TABS (those whose inputs reset others when changed): waits until the tab is
# drawn, then for the requests the fill set off to show as pending (at most 1.5 s) and to land (at most
# 2.8 s more). Other links go on at once.
SETTLE_JS = """async (...args) => {
  const tab = PAGE || new URLSearchParams(location.search).get('tab');
  performance.mark('plm-link-filled');  // the link's values are in (bench/permalinks.py reads it)
  if (!TABS.includes(tab)) return args;
  const panel = () => document.getElementById('plm-run-' + tab)?.closest('[role=tabpanel]');
  const pending = () => [...document.querySelectorAll('[data-testid="status-tracker"]')]
    .some(s => !s.classList.contains('hide') && s.offsetParent !== null);
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  for (let i = 0; i < 50 && !panel(); i++) await sleep(100);  // the tab is drawn when selected
  for (let i = 0; i < 15 && !pending(); i++) await sleep(100);  // the changes the fill set off start (a busy page: late)
  for (let i = 0; i < 28 && pending(); i++) await sleep(100);  // ... and land
  return args;
}"""

# Plotly's script among Gradio's frontend files ("" if this Gradio names it otherwise: the first figure
# then loads it, as it would anyway). Megabytes of script that the browser evaluates (~0.5 s) before it
# draws a page's first figure: RUN_JS imports it while a link's action runs on the server, so the result
# is drawn as soon as it is in. The same URL as Gradio's own import, so it is evaluated once.
PLOTLY_CHUNK = next(
    (path.name for path in (Path(gr.__file__).parent / "templates/frontend/assets").glob("PlotlyPlot-*.js")), ""
)

# Clicks the linked tab's main button once the tab has drawn it (the tab is rendered on selection),
# then has the browser evaluate plotly (on a page opened without a link: at once, while the reader reads).
RUN_JS = """async () => {
  const index = document.querySelector('script[src*="/assets/index-"]');
  const plotly = () => { if (PLOTLY && index) import(new URL(PLOTLY, index.src).href).catch(() => {}); };
  const tab = PAGE || new URLSearchParams(location.search).get('tab');
  if (!tab) return plotly();
  for (let i = 0; i < 50; i++) {
    const button = document.getElementById('plm-run-' + tab);
    if (button) {
      performance.mark('plm-link-run');  // the action starts (bench/permalinks.py reads it)
      button.click();
      return plotly();
    }
    await new Promise(r => setTimeout(r, 100));
  }
  plotly();
}"""

# The lecture page's link written by the server (`<tab>?…`) becomes a full address: shown and copied.
# The address bar gets the same link for the page it shows (on the home page: `?tab=<tab>&…`).
COPY_JS = """(link) => {
  if (!link || !link.includes('?')) return link;
  const url = new URL(link, location.href).href;
  const parameters = link.slice(link.indexOf('?') + 1);
  const here = HOME ? location.pathname + '?tab=' + TAB + (parameters ? '&' + parameters : '') : url;
  history.replaceState(null, '', here);
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
  return url;
}"""

# The lecture page's link on the home page: `?tab=<tab>&` and the page's own parameters.
ALL_TABS_JS = """() => {
  const parameters = [...new URLSearchParams(location.search)].filter(([name]) => name !== 'tab');
  location.href = new URL('./?' + new URLSearchParams([['tab', TAB], ...parameters]), location.href).href;
}"""
