"""The Attention tab: who attends to whom, per layer and head; BertViz's views; a logit lens."""

from __future__ import annotations

import functools
import html
import math
from pathlib import Path

import bertviz
import gradio as gr
import numpy as np
import plotly.colors
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from .. import attention, models
from ..attention import Forward
from .common import (
    SHORT_WORK,
    Slider,
    gradio_progress,
    model_dropdown,
    payload,
    user_errors,
)

DEFAULT_TEXT = "The quick brown fox jumps over the lazy dog. The quick brown fox"
EXPLAINER = """Each layer's attention mixes information between positions: the row of **query** token *i* says
how much of each **key** token *j* it reads (the weights of a row sum to 1). These are the model's own weights
(eager attention, `output_attentions=True`), from one forward pass per text: switching layer or head re-reads it.
**Head −1** is the mean over the layer's heads. The repeated phrase in the default text shows *induction heads*
(the second "quick brown fox" attends to the token after the first one), *previous-token heads* (the diagonal just
below the main one) and the *attention sink* (many heads park their weight on the first token). In SmolLM2 try
layer 17, head 4 (induction), layer 16, head 0 (previous token) and the *All layers × heads* tab."""
CAUSAL_EXPLAINER = """**Causal vs bidirectional.** A causal (GPT-style) model predicts the next token, so position *i*
may only read positions ≤ *i*: its attention matrices are **lower-triangular** (everything above the diagonal is
exactly 0, masked before the softmax). A masked (BERT-style) model fills in blanks, so every position reads the
whole text, left *and* right: its matrices are **full**. Compare the triangle on the left with the square on the right."""
GQA_NOTE = """**Grouped-query attention:** {model} has {heads} query heads but only {kv} key/value heads: query heads
{groups} each share one set of keys and values, so heads in a group look at the same keys through different queries.
`num_heads` counts the query heads, which is what a head's attention matrix belongs to."""
NO_MASKED = """*No masked (BERT-style) model is available here: offline only the bundled causal model is.
Run once with a network (bert-base-uncased is then cached) and its full, bidirectional attention appears here
beside the causal triangle.*"""
LENS_EXPLAINER = """**Logit lens:** read every layer's hidden state through the model's final norm and LM head, as if
the model stopped there. Rows are layers (embeddings at the top, the last layer — the model's real prediction — at the
bottom), columns are positions; each cell is that layer's most likely **next** token, coloured by its probability.
Hover a cell for the top-k; a cell is underlined when it predicts the actual next token of the text."""

BERTVIZ_MAX_VALUES = 400_000  # weights sent to the browser per BertViz view (~2.5 MB of JSON)
BERTVIZ_MAX_HEIGHT = 820  # px; taller views scroll inside their frame
BERTVIZ_CDN_REQUIRE = '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js"></script>'
VENDOR = Path(__file__).with_name("vendor")

TILE, GAP, LEFT, TOP = 40, 2, 30, 16  # the all-heads mosaic's geometry, in pixels
VIRIDIS = np.array(
    [plotly.colors.unlabel_rgb(c) for c in plotly.colors.sample_colorscale("Viridis", 256)], dtype=np.uint8
)


# ---------------------------------------------------------------- labels


def token_label(token: str) -> str:
    """A token as a label: newlines and tabs made visible, a token of spaces shown as ␣, never empty."""
    token = token.replace("\n", "↵").replace("\t", "⇥")
    return (token.replace(" ", "␣") if not token.strip() else token) or "∅"


def axis_labels(tokens: list[str]) -> list[str]:
    """Unique labels (plotly merges equal category labels), escaped (plotly reads tags in labels)."""
    return [html.escape(f"{token_label(t)} ·{i}", quote=False) for i, t in enumerate(tokens)]


def head_title(run: Forward, head: int) -> str:
    if head == -1:
        return f"mean of the {run.num_heads} heads"
    if run.num_key_value_heads < run.num_heads:
        return f"head {head} (key/value group {attention.kv_group(run, head)})"
    return f"head {head}"


# ---------------------------------------------------------------- figures


def heatmap_figure(run: Forward, layer: int, head: int, title: str | None = None, height: int = 560) -> go.Figure:
    labels = axis_labels(run.tokens)
    figure = go.Figure(
        go.Heatmap(
            z=attention.weights(run, layer, head).numpy(),
            x=labels,
            y=labels,
            colorscale="Viridis",
            zmin=0,
            hovertemplate="query %{y}<br>key %{x}<br>weight %{z:.5f}<extra></extra>",
            colorbar_title="weight",
        )
    )
    kind = "causal: lower-triangular" if run.causal else "bidirectional: full"
    figure.update_layout(
        title=title or f"{run.model} — layer {layer}, {head_title(run, head)} ({kind})",
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
    )
    figure.update_yaxes(autorange="reversed", title="query (reading) token")
    figure.update_xaxes(title="key (read) token", tickangle=-60)
    return figure


def grid(count: int, cols: int, titles: list[str], gap: float = 0.02) -> tuple[list[str], dict]:
    """Axis ids and a layout placing `count` panels in a grid with a title above each. By hand rather
    than plotly's make_subplots, which takes ~100 ms for 9 panels: too slow for switching heads."""
    rows = math.ceil(count / cols)
    ids, layout, annotations = [], {}, []
    for index in range(count):
        row, col = divmod(index, cols)
        suffix = str(index + 1) if index else ""
        x = [col / cols + gap, (col + 1) / cols - gap]
        y = [1 - (row + 1) / rows + gap, 1 - row / rows - 2.5 * gap]
        layout[f"xaxis{suffix}"] = dict(domain=x, anchor=f"y{suffix}")
        layout[f"yaxis{suffix}"] = dict(domain=y, anchor=f"x{suffix}", autorange="reversed")
        annotations.append(
            dict(
                text=titles[index],
                x=sum(x) / 2,
                y=y[1],
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font_size=12,
            )
        )
        ids.append(suffix)
    layout["annotations"] = annotations
    return ids, layout


def heads_figure(run: Forward, layer: int, head: int) -> go.Figure:
    """All heads of one layer side by side, sharing one colour scale."""
    cols = math.ceil(math.sqrt(run.num_heads))
    titles = [("▶ " if h == head else "") + head_title(run, h) for h in range(run.num_heads)]
    ids, layout = grid(run.num_heads, cols, titles)
    labels = axis_labels(run.tokens)
    traces = [
        dict(
            type="heatmap",
            z=run.attentions[layer, h].numpy(),
            x=labels,
            y=labels,
            coloraxis="coloraxis",
            xaxis=f"x{suffix}",
            yaxis=f"y{suffix}",
            hovertemplate=f"head {h}<br>query %{{y}}<br>key %{{x}}<br>weight %{{z:.4f}}<extra></extra>",
        )
        for h, suffix in enumerate(ids)
    ]
    for key in layout:
        if key.startswith(("xaxis", "yaxis")):
            layout[key]["showticklabels"] = False
    rows = math.ceil(run.num_heads / cols)
    return go.Figure(
        data=traces,
        layout=dict(
            layout,
            title=f"Layer {layer}: every head",
            coloraxis=dict(colorscale="Viridis", cmin=0),
            height=230 * rows + 60,
            margin=dict(l=10, r=10, t=60, b=10),
            font_size=11,
        ),
    )


def patterns_figure(run: Forward) -> go.Figure:
    """Layers × heads: how much each head reads the first, the previous and its own token."""
    patterns = attention.head_patterns(run)
    panels = [
        ("first token (attention sink)", patterns.first_token),
        ("previous token", patterns.previous_token),
        ("itself (diagonal)", patterns.same_token),
    ]
    ids, layout = grid(len(panels), len(panels), [name for name, _ in panels], gap=0.015)
    traces = [
        dict(
            type="heatmap",
            z=values,
            coloraxis="coloraxis",
            xaxis=f"x{suffix}",
            yaxis=f"y{suffix}",
            hovertemplate=f"layer %{{y}}, head %{{x}}<br>mean weight on {name}: %{{z:.3f}}<extra></extra>",
        )
        for (name, values), suffix in zip(panels, ids)
    ]
    for suffix in ids:
        layout[f"xaxis{suffix}"].update(title="head", dtick=1)
    layout["yaxis"]["title"] = "layer"
    return go.Figure(
        data=traces,
        layout=dict(
            layout,
            title="Which heads do what: mean weight on one position, per layer and head",
            coloraxis=dict(colorscale="Viridis", cmin=0, cmax=1, colorbar_title="weight"),
            height=max(320, 14 * run.num_layers + 120),
            margin=dict(l=10, r=10, t=70, b=40),
        ),
    )


def mosaic_image(run: Forward) -> Image.Image:
    """Every layer's every head as a small tile (rows = layers, columns = heads), colour = √weight so
    faint patterns show. One image rather than hundreds of plots: it draws instantly and can be clicked."""
    width = LEFT + run.num_heads * (TILE + GAP)
    height = TOP + run.num_layers * (TILE + GAP)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    n = run.attentions.shape[-1]
    resample = Image.Resampling.NEAREST if n <= TILE else Image.Resampling.BOX
    root = run.attentions.sqrt().numpy()
    for layer in range(run.num_layers):
        for head in range(run.num_heads):
            tile = Image.fromarray(root[layer, head], mode="F").resize((TILE, TILE), resample)
            shade = (np.asarray(tile) * 255).clip(0, 255).astype(np.uint8)
            y, x = mosaic_origin(layer, head)
            canvas[y : y + TILE, x : x + TILE] = VIRIDIS[shade]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for head in range(run.num_heads):
        draw.text((mosaic_origin(0, head)[1] + TILE // 2 - 6, 2), f"H{head}", fill=(60, 60, 60))
    for layer in range(run.num_layers):
        draw.text((2, mosaic_origin(layer, 0)[0] + TILE // 2 - 6), f"L{layer}", fill=(60, 60, 60))
    return image


def mosaic_origin(layer: int, head: int) -> tuple[int, int]:
    return TOP + layer * (TILE + GAP), LEFT + head * (TILE + GAP)


def mosaic_cell(x: int, y: int, num_layers: int, num_heads: int) -> tuple[int, int] | None:
    """The (layer, head) whose tile holds pixel (x, y), or None for the margins."""
    layer, head = (y - TOP) // (TILE + GAP), (x - LEFT) // (TILE + GAP)
    if x < LEFT or y < TOP or not (0 <= layer < num_layers and 0 <= head < num_heads):
        return None
    return layer, head


def lens_html(lens: attention.LogitLens) -> str:
    """The layers × positions table, each cell the layer's top next-token guess coloured by probability."""
    next_tokens = lens.tokens[1:] + [None]
    header = "".join(f'<th title="position {i}">{html.escape(token_label(t))}</th>' for i, t in enumerate(lens.tokens))
    rows = [("embeddings", lens.embeddings)] + [(f"layer {row.layer}", row.top) for row in lens.layers]
    body = []
    for name, top in rows:
        cells = []
        for position, predictions in enumerate(top):
            best = predictions[0]
            hover = "\n".join(f"{p.prob:.3f}  {p.token!r}" for p in predictions)
            hit = ";text-decoration:underline;font-weight:600" if best.token == next_tokens[position] else ""
            ink = "#fff" if best.prob > 0.45 else "#111"
            cells.append(
                f'<td title="{html.escape(hover)}" style="background:rgba(37,99,235,{best.prob:.3f});color:{ink}{hit}">'
                f"{html.escape(token_label(best.token))}</td>"
            )
        body.append(f'<tr><th class="name">{name}</th>{"".join(cells)}</tr>')
    style = (
        "<style>.lens{border-collapse:collapse;font-family:monospace;font-size:12px}"
        ".lens td,.lens th{border:1px solid #e5e7eb;padding:2px 4px;white-space:pre}"
        ".lens thead th{position:sticky;top:0;background:#f9fafb}"
        ".lens th.name{position:sticky;left:0;background:#f9fafb;text-align:left}</style>"
    )
    return (
        f'{style}<div style="overflow:auto;max-height:640px"><table class="lens">'
        f'<thead><tr><th class="name">layer \\ input</th>{header}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )


# ---------------------------------------------------------------- BertViz


@functools.cache
def bertviz_libraries() -> str:
    """require.js, d3 and jQuery inlined (BertViz would fetch them from a CDN: the app must work offline),
    with d3 and jQuery registered as the modules BertViz's script asks require.js for."""
    scripts = [(VENDOR / name).read_text(encoding="utf-8") for name in ("d3.min.js", "jquery.min.js", "require.js")]
    register = "define('d3', [], function () { return window.d3; }); define('jquery', [], function () { return window.jQuery; });"
    return "".join(f"<script>{script}</script>" for script in [*scripts, register])


def bertviz_layers(run: Forward, layer: int) -> list[int]:
    """The layers BertViz gets: all when they fit the budget, else a window around `layer`."""
    n = run.attentions.shape[-1]
    fit = max(1, min(run.num_layers, BERTVIZ_MAX_VALUES // (run.num_heads * n * n)))
    start = min(max(0, layer - fit // 2), run.num_layers - fit)
    return list(range(start, start + fit))


def bertviz_frame(run: Forward, view: str, layer: int) -> str:
    """BertViz's own head or model view, as a self-contained page in an iframe (Gradio's HTML
    component does not run scripts; an iframe's srcdoc does). Its Content-Security-Policy allows
    no network at all. Not `sandbox`ed: Chromium then draws the frame in another process, which
    headless screenshots miss for the model view, so the drawing could not be verified."""
    layers = bertviz_layers(run, layer)
    # BertViz sends every weight as JSON and draws it as an opacity: 2 decimals are plenty and keep the
    # page small. Only the included layers are read; the others stay zero-copy views.
    weights = [run.attentions[i][None] for i in range(run.num_layers)]
    for i in layers:
        weights[i] = weights[i].double().round(decimals=2)
    tokens = [token_label(t) for t in run.tokens]
    if view == "head":
        page = bertviz.head_view(weights, tokens, layer=layer, include_layers=layers, html_action="return").data
        height = 22.5 * len(tokens) + 90
    else:
        page = bertviz.model_view(
            weights, tokens, include_layers=layers, display_mode="light", html_action="return"
        ).data
        thumbnail = len(tokens) * 7 * 12 / run.num_heads + 10
        height = max(len(layers) * thumbnail + 38, len(tokens) * 18 + 55) + 50
    document = (
        '<!doctype html><html><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'\">"
        f'{bertviz_libraries()}</head><body style="margin:4px;background:#fff">{_bertviz_script(page)}</body></html>'
    )
    return (
        f'<iframe title="BertViz {view} view" srcdoc="{html.escape(document, quote=True)}" '
        f'style="width:100%;height:{min(BERTVIZ_MAX_HEIGHT, int(height))}px;border:1px solid #e5e7eb;border-radius:6px"></iframe>'
    )


def _bertviz_script(page: str) -> str:
    """BertViz's page without its CDN script tag, its data once, and safe for any token."""
    page = page.replace(BERTVIZ_CDN_REQUIRE, "")
    # BertViz 1.4 substitutes its params for both "PYTHON_PARAMS" in `const params = PYTHON_PARAMS; // HACK:
    # PYTHON_PARAMS is a template marker…`: the comment would carry every weight a second time.
    comment = page.find("; // HACK: ")
    if comment != -1:
        page = page[: comment + 1] + page[page.find("\n", comment) :]
    marker = '<script type="text/javascript">'
    before, found, script = page.partition(marker)
    if not found:
        return page
    # Tokens are user text: a '</script>' in one must not end BertViz's script early.
    body, _, after = script.rpartition("</script>")
    return before + marker + body.replace("</", "<\\/") + "</script>" + after


def bertviz_note(run: Forward, layer: int) -> str:
    layers = bertviz_layers(run, layer)
    shown = (
        f"all {run.num_layers} layers"
        if len(layers) == run.num_layers
        else f"layers {layers[0]}–{layers[-1]} of {run.num_layers} (a long text: press *Show* again at another layer for others)"
    )
    return (
        f"BertViz ({shown}). **Head view:** hover a token to see what it reads; click a head's colour to toggle it. "
        "**Model view:** every layer × head as a thumbnail; click one to enlarge."
    )


# ---------------------------------------------------------------- causal vs bidirectional


def comparison_name(lm: models.LoadedModel) -> str | None:
    """The other kind's default model (masked beside causal, causal beside masked), if available."""
    return models.default_model("masked" if lm.spec.kind == "causal" else "causal")


def comparison(lm: models.LoadedModel, text: str, layer: int, progress) -> tuple[go.Figure | None, str]:
    name = comparison_name(lm)
    if name is None:
        return None, NO_MASKED
    other = models.get(name, attn="eager", progress=progress)
    run = attention.forward(other, text, progress)
    shown = min(layer, run.num_layers - 1)
    title = f"{run.model} — layer {shown}, mean of its {run.num_heads} heads ({'causal' if run.causal else 'bidirectional'})"
    return heatmap_figure(run, shown, -1, title, height=480), f"Beside it: **{run.model}** on the same text."


def gqa_note(run: Forward) -> str:
    if run.num_key_value_heads >= run.num_heads:
        return f"{run.model}: {run.num_heads} heads per layer, each with its own keys and values."
    size = run.num_heads // run.num_key_value_heads
    groups = ", ".join(f"{g * size}–{g * size + size - 1}" for g in range(run.num_key_value_heads))
    return GQA_NOTE.format(model=run.model, heads=run.num_heads, kv=run.num_key_value_heads, groups=groups)


# ---------------------------------------------------------------- handlers


@user_errors
def show_attention(text: str = DEFAULT_TEXT, model: str = "", layer: int = 0, head: int = -1, progress=gr.Progress()):
    """One layer's attention (one head, or the mean for head = -1), and every other view of the same forward."""
    report = gradio_progress(progress)
    lm = models.get(model, attn="eager", progress=report)
    result = attention.attention(lm, text, layer, head, report)
    run = attention.forward(lm, text)
    layer, head = result.layer, result.head
    compare_plot, compare_note = comparison(lm, text, layer, report)
    return (
        heatmap_figure(run, layer, head),
        heads_figure(run, layer, head),
        mosaic_image(run),
        patterns_figure(run),
        gqa_note(run),
        bertviz_note(run, layer),
        bertviz_frame(run, "head", layer),
        bertviz_frame(run, "model", layer),
        heatmap_figure(run, layer, -1, height=480),
        gr.Plot(value=compare_plot, visible=compare_plot is not None),
        compare_note,
        Slider(maximum=run.num_layers - 1, value=layer),
        Slider(maximum=run.num_heads - 1, value=head),
        {"text": text, "model": model, "num_layers": run.num_layers, "num_heads": run.num_heads},
        payload(result),
    )


@user_errors
def switch(shown: dict | None, layer: int = 0, head: int = -1):
    """Another layer or head of the text already shown: re-read from the cached forward."""
    if not shown:
        return gr.skip(), gr.skip(), gr.skip()
    lm = models.get(shown["model"], attn="eager")
    result = attention.attention(lm, shown["text"], layer, head)
    run = attention.forward(lm, shown["text"])
    return heatmap_figure(run, result.layer, result.head), heads_figure(run, result.layer, result.head), payload(result)


def pick_tile(shown: dict | None, event: gr.SelectData):
    """A click on the mosaic selects that layer and head (the sliders' change redraws)."""
    cell = shown and mosaic_cell(*event.index, shown["num_layers"], shown["num_heads"])
    if not cell:
        return gr.skip(), gr.skip()
    return cell


@user_errors
def logit_lens(text: str = DEFAULT_TEXT, model: str = "", top_k: int = 5, progress=gr.Progress()):
    """Each layer's top-k next-token predictions at each position (final norm + LM head on its hidden state)."""
    report = gradio_progress(progress)
    lm = models.get(model, "causal", attn="eager", progress=report)
    lens = attention.logit_lens(lm, text, top_k, report)
    return lens_html(lens), payload(lens)


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(EXPLAINER)
    shown = gr.State(None)
    with gr.Row():
        with gr.Column(scale=2):
            text = gr.Textbox(DEFAULT_TEXT, label="Text", lines=3, info=f"At most {attention.MAX_TOKENS} tokens.")
            model = model_dropdown("causal")
            run = gr.Button("Show attention", variant="primary")
            layer = Slider(0, 29, 0, step=1, label="Layer")
            head = Slider(-1, 8, -1, step=1, label="Head (−1 = mean over the layer's heads)")
            gqa = gr.Markdown()
        with gr.Column(scale=3):
            heatmap = gr.Plot(label="Attention weights")
            with gr.Accordion("JSON (what the API returns)", open=False):
                result_json = gr.JSON()
    with gr.Tab("This layer's heads"):
        heads = gr.Plot(label="Every head of the chosen layer")
    with gr.Tab("All layers × heads"):
        gr.Markdown("Every head of every layer (colour = √weight). **Click a tile** to show that layer and head above.")
        with gr.Row():
            mosaic = gr.Image(label="Layers (rows) × heads (columns)", type="pil", interactive=False, scale=1)
            patterns = gr.Plot(label="Head patterns", scale=2)
    with gr.Tab("BertViz"):
        bertviz_info = gr.Markdown()
        with gr.Tab("Head view"):
            head_view = gr.HTML()
        with gr.Tab("Model view"):
            model_view = gr.HTML()
    with gr.Tab("Causal vs bidirectional"):
        gr.Markdown(CAUSAL_EXPLAINER)
        compare_note = gr.Markdown()
        with gr.Row():
            causal_plot = gr.Plot(label="This model (mean over heads)")
            compare_plot = gr.Plot(label="The other kind of model", visible=False)
    with gr.Tab("Logit lens"):
        gr.Markdown(LENS_EXPLAINER)
        with gr.Row():
            top_k = Slider(1, attention.MAX_TOP_K, 5, step=1, label="Top-k per cell (hover)")
            lens_button = gr.Button("Run the logit lens")
        lens_table = gr.HTML()
        with gr.Accordion("JSON (what the API returns)", open=False):
            lens_json = gr.JSON()

    run.click(
        show_attention,
        [text, model, layer, head],
        [
            heatmap,
            heads,
            mosaic,
            patterns,
            gqa,
            bertviz_info,
            head_view,
            model_view,
            causal_plot,
            compare_plot,
            compare_note,
            layer,
            head,
            shown,
            result_json,
        ],
        api_name="attention",
        **SHORT_WORK,
    )
    for slider in (layer, head):
        slider.change(
            switch,
            [shown, layer, head],
            [heatmap, heads, result_json],
            api_visibility="private",
            trigger_mode="always_last",
            show_progress="hidden",
        )
    mosaic.select(pick_tile, shown, [layer, head], api_visibility="private")
    lens_button.click(
        logit_lens,
        [text, model, top_k],
        [lens_table, lens_json],
        api_name="logit_lens",
        **SHORT_WORK,
    )
