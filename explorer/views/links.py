"""Permalinks and projector mode in the page.

Each view calls `copy_button(tab, api_name)` where its "Copy link" button belongs; `wire(page, tabs)`
(app.py, once every tab is built) reads that endpoint's inputs and parameter names from its event, so a
link's parameters are the API's (docs/API.md) without a second list to keep in step. Opening a link:

1. `demo.load` reads the page's query (explorer/permalinks.py checks it), selects the tab, fills the
   inputs and shows a note for whatever it ignored (the page language's default texts leave alone
   the inputs a link sets: `set_by_link`, asked by common.localized_defaults);
2. once the changes that fill set off have settled (picking an in-context-learning task resets that
   task's fields), it fills the inputs again, so the link's values are what stays;
3. the browser clicks the tab's main button: the action runs exactly as if the user had clicked it.

Projector mode is drawn in the browser (why: it restyles the plots already on screen without
recomputing them, and no handler needs to know about it): large type and high contrast through the
theme's CSS variables, Gradio's dark theme (the class `dark`), and every plotly figure relaid out with
large fonts on a dark background, again whenever a new figure is drawn.
"""

from __future__ import annotations

import inspect
import json
import weakref
from dataclasses import dataclass, field

import gradio as gr
from gradio.context import Context, LocalContext

from .. import checks, permalinks
from ..permalinks import Parameter
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
    parameters: list[Parameter] = field(default_factory=list)  # filled by wire(), from the endpoint
    inputs: list = field(default_factory=list)  # the components, in the parameters' order


@dataclass
class Page:
    """The page-wide controls: projector mode and the notes of an opened link."""

    projector: gr.Checkbox
    notes: gr.Markdown


def page_controls() -> Page:
    with gr.Row():
        projector = gr.Checkbox(False, label=tr("links.projector"), container=False, scale=0, min_width=420)
        notes = gr.Markdown(visible=False)
    return Page(projector, notes)


def copy_button(tab: str, api_name: str) -> None:
    """A "Copy link" button here: it writes the link to `tab` with the current inputs of its main
    endpoint `api_name` (the one whose parameters the link names)."""
    copy = gr.Button(tr("links.copy"), size="sm", variant="secondary")
    shown = gr.Textbox(label=tr("links.link"), visible=False, buttons=["copy"], interactive=False)
    _LINKED.setdefault(Context.root_block, []).append(Linked(tab, api_name, copy, shown))


def wire(page: Page, tabs: gr.Tabs) -> None:
    """Connect the Copy link buttons, projector mode and the opening of a link (call once, last)."""
    demo = Context.root_block
    linked = _LINKED.get(demo, [])
    for entry in linked:
        _read_endpoint(demo, entry)
        _wire_copy(entry, page.projector)
    schemas = {entry.tab: entry.parameters for entry in linked}
    every_input = [component for entry in linked for component in entry.inputs]

    def fill(with_tab: bool):
        """The link's tab, projector mode, notes and input values (gr.skip() where it sets none)."""
        opened = permalinks.read(page_query(), schemas)
        values = {}
        for entry in linked:
            for parameter, component in zip(entry.parameters, entry.inputs):
                if entry.tab == opened.tab and parameter.name in opened.values:
                    values[component] = opened.values[parameter.name]
        filled = [values.get(component, gr.skip()) for component in every_input]
        if not with_tab:
            return filled
        tab = gr.Tabs(selected=opened.tab) if opened.tab else gr.skip()
        notes = gr.Markdown(_notes(opened.notes), visible=True) if opened.notes else gr.skip()
        return [tab, True if opened.projector else gr.skip(), notes, *filled]

    @user_errors
    def open_link():
        return fill(with_tab=True)

    @user_errors
    def fill_again():
        return fill(with_tab=False)

    outputs = [tabs, page.projector, page.notes, *every_input]
    demo.load(open_link, None, outputs, api_visibility="private", show_progress="hidden").then(
        fill_again, None, every_input, js=SETTLE_JS, api_visibility="private", show_progress="hidden"
    ).then(None, None, None, js=RUN_JS)
    page.projector.change(None, page.projector, None, js=PROJECTOR_JS)


def set_by_link(component) -> bool:
    """Whether the page being served was opened from a link that sets this input (then the page's
    language does not replace it with its own default text)."""
    query = page_query()
    for entry in _LINKED.get(LocalContext.blocks.get(None), []) if query.get("tab") else []:
        for parameter, linked in zip(entry.parameters, entry.inputs):
            if linked is component:
                return entry.tab == query["tab"] and parameter.name in query
    return False


def page_query() -> dict[str, str]:
    """The query parameters of the page that sent the request being served (Gradio sends the page's
    own with every event)."""
    request = LocalContext.request.get(None)
    return dict(getattr(request, "query_params", None) or {})


def _read_endpoint(demo: gr.Blocks, entry: Linked) -> None:
    """The endpoint's parameter names (its function's signature) and input components, in order;
    its trigger (the tab's main button) gets the id the browser clicks when a link opens."""
    event = next(fn for fn in demo.fns.values() if fn.api_name == entry.api_name)
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
        query = permalinks.checked_link(entry.tab, **written, projector=True if values[projector] else None)
        return gr.Textbox(value=query, visible=True)

    entry.copy.click(make_link, {*entry.inputs, projector}, entry.shown, api_visibility="private").success(
        None, entry.shown, entry.shown, js=COPY_JS
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

# Waits until no output shows a pending request (at least 200 ms, at most 3 s): the page's own load
# events, or the changes a fill set off, have then landed.
SETTLE_JS = """async (...args) => {
  if (!new URLSearchParams(location.search).get('tab')) return args;
  const pending = () => [...document.querySelectorAll('[data-testid="status-tracker"]')]
    .some(s => !s.classList.contains('hide') && s.offsetParent !== null);
  await new Promise(r => setTimeout(r, 200));
  for (let i = 0; i < 28 && pending(); i++) await new Promise(r => setTimeout(r, 100));
  return args;
}"""

# Clicks the linked tab's main button once the tab has drawn it (the tab is rendered on selection).
RUN_JS = """async () => {
  const tab = new URLSearchParams(location.search).get('tab');
  if (!tab) return;
  for (let i = 0; i < 50; i++) {
    const button = document.getElementById('plm-run-' + tab);
    if (button) {
      await new Promise(r => setTimeout(r, 50));
      performance.mark('plm-link-run');  // the action starts (bench/permalinks.py reads it)
      button.click();
      return;
    }
    await new Promise(r => setTimeout(r, 100));
  }
}"""

# The query written by the server becomes a full address: shown, put in the address bar, copied.
COPY_JS = """(query) => {
  if (!query || !query.startsWith('?')) return query;
  const url = location.origin + location.pathname + query;
  history.replaceState(null, '', url);
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
  return url;
}"""

CSS = """
:root.projector, :root.projector .dark {
  --text-xxs: 15px; --text-xs: 17px; --text-sm: 19px; --text-md: 22px;
  --text-lg: 26px; --text-xl: 32px; --text-xxl: 38px;
  --body-text-color: #ffffff; --body-text-color-subdued: #e4e4e7;
  --body-background-fill: #000000; --background-fill-primary: #000000; --background-fill-secondary: #111111;
  --block-background-fill: #0a0a0a; --block-label-text-color: #ffffff; --block-title-text-color: #ffffff;
  --block-info-text-color: #e4e4e7; --border-color-primary: #a1a1aa; --input-background-fill: #18181b;
  --table-even-background-fill: #111111; --table-odd-background-fill: #000000;
}
:root.projector .html-container table, :root.projector .prose table { font-size: var(--text-md) !important; }
:root.projector .html-container [style*="color:#6b7280"], :root.projector .html-container [style*="color:#4b5563"],
:root.projector .html-container [style*="color:#374151"] { color: #e4e4e7 !important; }
:root.projector .html-container [style*="background"], :root.projector .html-container [style*="background"] * {
  color: #111111 !important;
}
:root.projector .html-container th { background: #27272a !important; color: #ffffff !important; }
"""

# Projector mode on or off: the page's classes and CSS, the address bar, and every plotly figure
# (now, and each new one: Gradio redraws a figure from the server's layout, which drops the restyle).
PROJECTOR_JS = """(on) => {
  const P = window.__plm || (window.__plm = {});
  if (!P.restyle) {
    const style = document.createElement('style');
    style.textContent = CSS;
    document.head.appendChild(style);
    P.wasDark = document.body.classList.contains('dark');
    const get = (o, path) => path.split('.').reduce((x, k) => (x == null ? undefined : x[k]), o);
    P.restyle = () => {
      if (!window.Plotly) return;
      for (const gd of document.querySelectorAll('.js-plotly-plot')) {
        if (!gd.layout || !gd._fullLayout || gd.offsetParent === null) continue;
        const before = gd.layout._plmBefore;
        if (P.on && !before) {
          const update = {'font.size': 20, 'font.color': '#ffffff', 'paper_bgcolor': '#000000',
                          'plot_bgcolor': '#111111', 'title.font.size': 22, 'legend.font.size': 18};
          for (const axis of Object.keys(gd._fullLayout).filter(k => /^[xy]axis[0-9]*$/.test(k))) {
            update[axis + '.gridcolor'] = '#52525b';
            update[axis + '.zerolinecolor'] = '#a1a1aa';
          }
          (gd.layout.annotations || []).forEach((a, i) => {
            if (a.font && a.font.size) update['annotations[' + i + '].font.size'] = Math.round(a.font.size * 1.6);
          });
          const saved = {};
          for (const key in update) { const v = get(gd.layout, key); saved[key] = v === undefined ? null : v; }
          gd.layout._plmBefore = saved;
          window.Plotly.relayout(gd, update);
        } else if (!P.on && before) {
          delete gd.layout._plmBefore;
          window.Plotly.relayout(gd, before);
        }
      }
    };
    setInterval(P.restyle, 500);
  }
  P.on = !!on;
  document.documentElement.classList.toggle('projector', P.on);
  document.body.classList.toggle('dark', P.on || P.wasDark);
  const url = new URL(location.href);
  if (P.on) url.searchParams.set('projector', '1'); else url.searchParams.delete('projector');
  history.replaceState(null, '', url.toString());
  P.restyle();
}""".replace("CSS", json.dumps(CSS))
