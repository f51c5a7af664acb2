"""The Generation tab's drawings: the text coloured by probability (readable segments), the stages
of a step's distribution as grouped bars, and the entropy per step."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from ..generation import GenerationResult
from .common import t

STAGE_COLOURS = ["#9ca3af", "#f59e0b", "#ef4444", "#8b5cf6", "#10b981"]


def _span_html(text: str, title: str, prob: float | None, forced: bool = False, several: bool = False) -> str:
    style = "color:#6b7280" if prob is None else f"background:hsl({120 * prob:.0f},75%,82%);color:#111"
    if forced:
        style += ";text-decoration:underline;font-weight:600"
    if several:  # several tokens make these characters together
        style += ";outline:1px dotted #374151;outline-offset:1px"
    shown = html.escape(text).replace("\n", "↵<br>") or "∅"
    return f'<span style="{style};border-radius:3px;white-space:pre-wrap" title="{html.escape(title)}">{shown}</span>'


def _segment_html(result: GenerationResult, segment) -> str:
    """One readable segment: its text, coloured by its least likely token; hover lists every token."""
    steps = result.steps[segment.start : segment.end]
    title = "\n".join(
        t("generation.token_hover", step=i, piece=repr(s.piece), id=s.token_id, prob=s.prob, raw=s.raw_prob)
        + (t("generation.branch_hover") if s.forced else "")
        for i, s in enumerate(steps, start=segment.start)
    )
    prob = min(s.prob for s in steps)
    return _span_html(segment.text, title, prob, any(s.forced for s in steps), segment.spans_several)


def text_html(result: GenerationResult) -> str:
    """The prompt in grey, then the generated text coloured by the probability each token was sampled
    with; tokens that make one character together are drawn as one segment (never as "�")."""
    prompt = _span_html(result.prompt, t("generation.prompt_hover"), None)
    generated = "".join(_segment_html(result, segment) for segment in result.segments)
    legend = (
        '<div style="font-size:0.8em;color:#6b7280;margin-top:6px">'
        + t("generation.legend", n=len(result.steps), speed=result.tokens_per_second, reason=result.finish_reason)
        + "</div>"
    )
    return f'<div style="font-family:monospace;line-height:1.9">{prompt}{generated}</div>{legend}'


def stage_figure(candidates, stages: list[str], title: str, chosen_id: int | None = None) -> go.Figure:
    """Grouped bars: each candidate's probability before and after each control."""
    labels = [f"{c.label!r}" + (" ◀" if c.token_id == chosen_id else "") for c in candidates]
    figure = go.Figure()
    for index, stage in enumerate(stages):
        figure.add_bar(
            name=t(f"generation.stage.{stage}"),
            x=labels,
            y=[c.stage_probs[index] for c in candidates],
            marker_color=STAGE_COLOURS[index % len(STAGE_COLOURS)],
            hovertemplate="%{x}<br>" + t(f"generation.stage.{stage}") + ": %{y:.4f}<extra></extra>",
        )
    figure.update_layout(
        title=title,
        barmode="group",
        yaxis_title=t("generation.probability"),
        yaxis_range=[0, 1],
        height=360,
        margin=dict(l=40, r=10, t=50, b=40),
        legend_orientation="h",
    )
    return figure


def entropy_figure(result: GenerationResult) -> go.Figure:
    steps = list(range(len(result.steps)))
    tokens = [repr(s.label) for s in result.steps]
    figure = go.Figure()
    figure.add_scatter(
        x=steps,
        y=[s.entropy_raw for s in result.steps],
        name=t("generation.stage.raw"),
        text=tokens,
        mode="lines+markers",
    )
    figure.add_scatter(  # dashed: under plain greedy it equals raw, and both must stay visible
        x=steps,
        y=[s.entropy for s in result.steps],
        name=t("generation.after_controls"),
        text=tokens,
        mode="lines+markers",
        line_dash="dash",
    )
    figure.update_layout(
        title=t("generation.entropy_title"),
        xaxis_title=t("generation.step_axis"),
        yaxis_title=t("generation.entropy_axis"),
        height=280,
        margin=dict(l=40, r=10, t=50, b=40),
        legend_orientation="h",
    )
    return figure


def step_figure(result: GenerationResult | None, step: int) -> go.Figure | None:
    if not result or not result.steps:
        return None
    step = max(0, min(int(step), len(result.steps) - 1))
    chosen = result.steps[step]
    return stage_figure(
        chosen.top,
        result.stages,
        t("generation.step_title", step=step, token=repr(chosen.label), prob=chosen.prob),
        chosen.token_id,
    )
