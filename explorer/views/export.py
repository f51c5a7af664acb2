"""Downloads of every result: each plot as PNG and SVG, each table as CSV, each JSON payload as a file.

Everything is made in the browser from what the page already shows, without a request to the server:
plotly draws a figure's PNG or SVG (`Plotly.downloadImage`, from the plotly.js that Gradio loads for
gr.Plot and leaves on `window`), a table's CSV is written from its rows, a payload's file from the value
its gr.JSON holds. `equip(tab)`, the last line of a view's build(), adds the buttons to every plot, table
and JSON panel of its tab: plots and JSON panels get them in their own toolbars (beside plotly's camera
and gr.JSON's copy button), a table gets a small button under it.
"""

from __future__ import annotations

import json

import gradio as gr
from gradio.blocks import Block, BlockContext
from gradio.context import get_render_context

from .. import i18n
from .common import t, tr

# Saves `text` as a file called `name` (the browser's download).
SAVE = """const save = (data, type, name) => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([data], {type}));
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
};"""

# The plot drawn inside the component with this elem_id, saved by plotly as an image.
PLOT = """() => {
  const plot = document.querySelector(`#${id} .js-plotly-plot`);
  if (plot && window.Plotly) window.Plotly.downloadImage(plot, {format: ${format}, filename: ${name}});
}"""

# A table's rows as CSV (RFC 4180 quoting; a byte-order mark so that spreadsheets read Chinese as UTF-8).
# The headers are the table's own: the server writes them in the page's language (views/common.table).
TABLE = """(table) => {
  ${save}
  const cell = value => {
    const text = value === null || value === undefined ? "" : String(value);
    return /[",\\n\\r]/.test(text) ? '"' + text.replaceAll('"', '""') + '"' : text;
  };
  const rows = [table.headers || [], ...(table.data || [])].map(row => row.map(cell).join(","));
  save("\\ufeff" + rows.join("\\r\\n") + "\\r\\n", "text/csv;charset=utf-8", ${name});
}"""

# A JSON panel's value as an indented .json file.
PAYLOAD = """(value) => {
  ${save}
  if (value !== null && value !== undefined) save(JSON.stringify(value, null, 2), "application/json", ${name});
}"""


def _fill(template: str, **values: str) -> str:
    """The JavaScript `template` with ${key} replaced (values already JavaScript)."""
    for key, value in values.items():
        template = template.replace("${" + key + "}", value)
    return template


def _descendants(block: Block):
    for child in getattr(block, "children", []):
        yield child
        if isinstance(child, BlockContext):
            yield from _descendants(child)


def _name(tab: str, component: gr.components.Component, kind: str) -> str:
    """The download's file name: the tab, then the component's label key (e.g. "generation-step_plot")."""
    label = component.label
    label = getattr(label, "key", label if isinstance(label, str) else None) or kind
    return f"{tab}-{label.rsplit('.', 1)[-1].strip('/')}"


def _id(component: gr.components.Component) -> str:
    component.elem_id = component.elem_id or f"export-{component._id}"
    return component.elem_id


def _toolbar_button(component, label_key: str) -> gr.Button:
    """A small button in `component`'s own toolbar. Gradio 6 does not translate a toolbar button's
    label (it would show the key), so it is built in English and `page_labels` rewrites it."""
    button = gr.Button(t(label_key), size="sm", render=False)
    component.buttons = [*(component.buttons or []), button]
    return button


# Writes the download buttons' labels and tooltips in the page's language: the one the language
# marker shows (views/common.language_marker; Gradio rewrites it when the language is switched), now
# and whenever the page draws more (a tab is drawn when first shown). A toolbar button (Gradio's
# `custom-button`) is found by its English label, a table's button by its class; each is marked with
# its key once found. A table's button has a Gradio-translated label already: it gets the tooltip.
LABELS_JS = """
const labels = ${labels}, keys = ${keys};
const apply = () => {
  const code = document.getElementById("plm-language")?.textContent.trim();
  const words = labels[code] || labels.en;
  for (const button of document.querySelectorAll("button.custom-button, button.plm-export-csv")) {
    const key = button.dataset.plmExport || keys[button.getAttribute("aria-label")]
      || (button.classList.contains("plm-export-csv") ? "export.csv" : null);
    if (!key) continue;
    button.dataset.plmExport = key;
    const [label, tip] = [words[key], words[key + "_tip"]];
    if (button.title !== tip) button.title = tip;
    if (!button.classList.contains("plm-export-csv") && button.getAttribute("aria-label") !== label) {
      button.setAttribute("aria-label", label);
      const shown = button.querySelector(".custom-button-label");
      if (shown) shown.textContent = label;
    }
  }
};
let queued = false;
new MutationObserver(() => {
  if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; apply(); }); }
}).observe(document.body, {subtree: true, childList: true, characterData: true});
apply();
"""
KEYS = ("export.png", "export.svg", "export.csv", "export.json")


def page_labels() -> gr.HTML:
    """The hidden element whose script translates the download buttons (once per page)."""
    labels = {
        language: {key: words[key] for key in (*KEYS, *(k + "_tip" for k in KEYS))}
        for language, words in ((language, i18n.labels(language)) for language in i18n.languages())
    }
    keys = {i18n.labels(i18n.DEFAULT)[key]: key for key in KEYS}
    script = _fill(LABELS_JS, labels=json.dumps(labels, ensure_ascii=False), keys=json.dumps(keys, ensure_ascii=False))
    return gr.HTML("", js_on_load=script, visible="hidden", elem_id="plm-export-labels")


def _plot(tab: str, plot: gr.Plot) -> None:
    name = json.dumps(_name(tab, plot, "plot"))
    for image in ("png", "svg"):
        script = _fill(PLOT, id=_id(plot), format=json.dumps(image), name=name)
        _toolbar_button(plot, f"export.{image}").click(None, js=script, api_visibility="private")


def _table(tab: str, table: gr.Dataframe) -> None:
    """A "CSV" button right under the table: rendered into the tab being built, then moved there."""
    button = gr.Button(tr("export.csv"), size="sm", elem_classes=["plm-export-csv"])
    button.parent.children.remove(button)
    siblings = table.parent.children
    siblings.insert(siblings.index(table) + 1, button)
    button.parent = table.parent
    name = json.dumps(_name(tab, table, "table") + ".csv")  # headers: the value's, in the page's language
    script = _fill(TABLE, save=SAVE, name=name)
    button.click(None, table, js=script, api_visibility="private")


def _payload(tab: str, panel: gr.JSON) -> None:
    script = _fill(PAYLOAD, save=SAVE, name=json.dumps(_name(tab, panel, "result") + ".json"))
    _toolbar_button(panel, "export.json").click(None, panel, js=script, api_visibility="private")


def equip(tab: str) -> None:
    """Give every plot, table and JSON panel of the tab being built its download buttons."""
    kinds = ((gr.Plot, _plot), (gr.Dataframe, _table), (gr.JSON, _payload))
    for block in list(_descendants(get_render_context())):
        for kind, add in kinds:
            if isinstance(block, kind):
                add(tab, block)
