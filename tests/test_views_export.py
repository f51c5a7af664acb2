"""Every plot, table and JSON panel of the app gets its download buttons, and every tab its "Show the
code" panel (the app as app.py assembles it; the downloads themselves run in tests/test_browser_export.py)."""

from __future__ import annotations

import gradio as gr
import pytest

import app
from explorer import i18n

EN = i18n.labels("en")


@pytest.fixture(scope="module")
def demo():
    return app.build_app()


def blocks(demo, kind):
    """The components of `kind` inside the home page's tabs (the models panel below them is not a tab;
    the lecture pages hold second copies of the tabs)."""

    def walk(block, in_tab=False):
        for child in getattr(block, "children", []):
            if child.page != "":
                continue
            if in_tab and isinstance(child, kind):
                yield child
            yield from walk(child, in_tab or isinstance(child, gr.Tab))

    return list(walk(demo))


def button_labels(component) -> list[str]:
    return [b.value for b in component.buttons or [] if isinstance(b, gr.Button)]


def scripts(demo, button) -> list[str]:
    """The JavaScript run when `button` is clicked (the downloads have no Python function)."""
    return [d.js for d in demo.fns.values() if any(target[0] == button._id for target in d.targets)]


def test_every_plot_downloads_as_png_and_svg(demo):
    plots = blocks(demo, gr.Plot)
    assert len(plots) > 20
    for plot in plots:
        assert button_labels(plot) == [EN["export.png"], EN["export.svg"]], plot.label
        png, svg = (scripts(demo, b)[0] for b in plot.buttons)
        assert f"#{plot.elem_id} .js-plotly-plot" in png and '"png"' in png and '"svg"' in svg


def test_every_table_has_a_csv_button_right_under_it(demo):
    tables = blocks(demo, gr.Dataframe)
    assert tables
    for table in tables:
        siblings = table.parent.children
        button = siblings[siblings.index(table) + 1]
        assert isinstance(button, gr.Button) and "export.csv" in str(button.value)
        (script,) = scripts(demo, button)
        assert "text/csv" in script and ".csv" in script


def test_every_json_panel_downloads_its_payload(demo):
    for panel in blocks(demo, gr.JSON):
        assert "copy" in panel.buttons and EN["export.json"] in button_labels(panel)


def test_every_tab_shows_its_code(demo):
    codes = blocks(demo, gr.Code)
    assert len(codes) == len(app.TABS) + 1  # the Generation tab also has one for teacher forcing
    assert all(code.language == "python" for code in codes)


def test_the_download_buttons_speak_the_page_language(demo):
    """Gradio shows a toolbar button's value as is: the page's script rewrites each label and tooltip
    in the language the page shows, finding the buttons by their English labels."""
    (labels,) = [
        block
        for block in demo.blocks.values()
        if getattr(block, "elem_id", None) == "plm-export-labels" and block.page == ""
    ]
    script = labels.js_on_load
    zh = i18n.labels("zh-CN")
    for key in ("export.png", "export.svg", "export.csv", "export.json"):
        assert zh[key] != EN[key] and zh[key] in script and zh[key + "_tip"] in script and EN[key + "_tip"] in script
        assert f'"{EN[key]}": "{key}"' in script  # an English label is how a toolbar button is found
    assert 'getElementById("plm-language")' in script
    for table in blocks(demo, gr.Dataframe):
        siblings = table.parent.children
        assert "plm-export-csv" in siblings[siblings.index(table) + 1].elem_classes
