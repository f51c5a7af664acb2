"""One token, every view, drawn: the token's logit-lens trajectory, the attention row of the position
that predicted it, and the link that opens the Attention tab on the same text."""

from __future__ import annotations

import html

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ..attention.focus import TokenFocus
from .attention_figures import axis_labels, token_label
from .common import t


def layer_names(focus: TokenFocus) -> list[str]:
    return [t("focus.embeddings") if r.layer < 0 else str(r.layer) for r in focus.trajectory]


def _guesses(reading) -> str:
    """A layer's top guesses for a hover: one per line, with their probabilities."""
    return "<br>".join(f"{html.escape(token_label(p.label))}  {p.prob:.3f}" for p in reading.top)


def trajectory_figure(focus: TokenFocus) -> go.Figure:
    """Per layer: the token's probability (with the layer's best guess beside it) and its rank."""
    names, readings = layer_names(focus), focus.trajectory
    hover = [_guesses(r) for r in readings]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.6, 0.4])
    figure.add_scatter(
        x=names,
        y=[r.prob for r in readings],
        name=t("focus.token_prob", token=token_label(focus.token)),
        mode="lines+markers",
        customdata=hover,
        hovertemplate="%{y:.4f}<br>" + t("focus.top_guesses") + "<br>%{customdata}<extra></extra>",
        row=1,
        col=1,
    )
    figure.add_scatter(  # the layer's own best guess, named on its marker
        x=names,
        y=[r.top[0].prob for r in readings],
        name=t("focus.best_guess"),
        mode="lines+markers+text",
        text=[token_label(r.top[0].label) for r in readings],
        textposition="top center",
        line_dash="dot",
        customdata=hover,
        hovertemplate="%{text} %{y:.4f}<br>" + t("focus.top_guesses") + "<br>%{customdata}<extra></extra>",
        row=1,
        col=1,
    )
    figure.add_scatter(
        x=names,
        y=[r.rank for r in readings],
        name=t("focus.rank"),
        mode="lines+markers",
        hovertemplate=t("focus.rank") + " %{y}<extra></extra>",
        row=2,
        col=1,
    )
    figure.update_yaxes(title_text=t("focus.probability"), range=[0, 1.05], row=1, col=1)
    figure.update_yaxes(title_text=t("focus.rank"), type="log", autorange="reversed", row=2, col=1)
    figure.update_xaxes(title_text=t("focus.layer"), type="category", row=2, col=1)
    context = token_label(focus.tokens[focus.position])
    figure.update_layout(
        title=t("focus.trajectory_title", token=token_label(focus.token), position=focus.position, context=context),
        height=460,
        margin=dict(l=50, r=10, t=60, b=40),
        legend_orientation="h",
    )
    return figure


def attention_figure(focus: TokenFocus) -> go.Figure:
    """The position's attention row: layers down, the tokens it may read across; the mean over heads,
    and each head behind the buttons above the plot (drawn in the page: no request per head)."""
    row = torch.tensor(focus.attention)  # (layers, heads, position + 1)
    labels = axis_labels(focus.tokens[: focus.position + 1])
    layers = list(range(focus.num_layers))
    views = [(t("focus.mean_heads", heads=focus.num_heads), row.mean(1))] + [
        (t("focus.head", head=head), row[:, head]) for head in range(focus.num_heads)
    ]
    figure = go.Figure()
    for index, (name, weights) in enumerate(views):
        figure.add_heatmap(
            z=weights.numpy(),
            x=labels,
            y=layers,
            colorscale="Viridis",
            zmin=0,
            name=name,
            visible=index == 0,
            hovertemplate=f"{name}<br>{t('focus.layer')} %{{y}}<br>{t('attention.key')} %{{x}}<br>"
            + f"{t('attention.weight')} %{{z:.4f}}<extra></extra>",
            colorbar_title=t("attention.weight"),
        )
    figure.update_layout(
        title=t("focus.attention_title", position=focus.position, context=token_label(focus.tokens[focus.position])),
        height=max(320, 120 + 14 * focus.num_layers),
        margin=dict(l=50, r=10, t=90, b=10),
        updatemenus=[
            dict(
                type="dropdown",
                x=1,
                y=1.16,
                xanchor="right",
                buttons=[
                    dict(label=name, method="restyle", args=[{"visible": [i == j for j in range(len(views))]}])
                    for i, (name, _) in enumerate(views)
                ],
            )
        ],
    )
    figure.update_yaxes(title=t("focus.layer"), autorange="reversed", dtick=1)
    figure.update_xaxes(title=t("attention.key_axis"), tickangle=-60)
    return figure


def summary_html(focus: TokenFocus) -> str:
    """What the position predicts, where the token first becomes the best guess, and the link."""
    last = focus.trajectory[-1]
    first_best = next((name for name, r in zip(layer_names(focus), focus.trajectory) if r.rank == 1), None)
    line = t(
        "focus.summary",
        context=html.escape(token_label(focus.tokens[focus.position])),
        position=focus.position,
        token=html.escape(token_label(focus.token)),
        id=focus.token_id,
        prob=last.prob,
        rank=last.rank,
    )
    line += " " + (t("focus.first_best", layer=first_best) if first_best else t("focus.never_best"))
    link = html.escape(focus.attention_link, quote=True)
    return (
        f"<div>{line}</div>"
        f'<div style="margin-top:4px"><a href="{link}" target="_blank">{t("focus.open_attention")}</a> '
        f'<span style="color:#6b7280;font-size:0.85em">{t("focus.link_note", n=len(focus.token_ids))}</span></div>'
    )
