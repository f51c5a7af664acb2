"""The In-context learning tab's figures: label probabilities, the answer's summary, accuracy vs shots."""

from __future__ import annotations

import plotly.graph_objects as go

from ..icl import IclResult, SweepResult
from .common import t

RAW, CALIBRATED, BIAS, BASELINE = "#3b82f6", "#10b981", "#9ca3af", "#ef4444"


def label_figure(result: IclResult) -> go.Figure:
    """Bars of each label's probability, before and after calibration, with the content-free bias."""
    figure = go.Figure()
    if not result.labels:
        title = t("icl.generated_title", answer=repr(result.prediction))
        if result.expected:
            title += t("icl.expected_suffix", expected=repr(result.expected))
        figure.update_layout(title=title, height=220, xaxis_visible=False, yaxis_visible=False)
        return figure
    names = [f"{e.label} ({e.verbalizer!r})" for e in result.labels]
    figure.add_bar(
        x=names,
        y=[e.prob for e in result.labels],
        name=t("icl.series.raw"),
        marker_color=RAW,
        customdata=[[e.logprob, " | ".join(e.tokens)] for e in result.labels],
        hovertemplate="%{x}<br>P = %{y:.3f}<br>" + t("icl.label_hover") + "<extra></extra>",
    )
    if result.content_free_probs:
        figure.add_bar(x=names, y=result.content_free_probs, name=t("icl.series.bias"), marker_color=BIAS)
        figure.add_bar(
            x=names,
            y=[e.calibrated_prob for e in result.labels],
            name=t("icl.series.calibrated"),
            marker_color=CALIBRATED,
        )
    title = t("icl.prediction_title", prediction=result.prediction)
    if result.calibrated_prediction:
        title += t("icl.calibrated_suffix", prediction=result.calibrated_prediction)
    figure.update_layout(
        barmode="group",
        yaxis_range=[0, 1],
        yaxis_title=t("icl.probability_axis"),
        height=340,
        title=title,
        legend_orientation="h",
        margin=dict(t=50, b=40),
    )
    return figure


def summary_markdown(result: IclResult) -> str:
    share = result.n_prompt_tokens / result.context_length
    lines = [
        t(
            "icl.summary",
            shots=result.shots,
            n=result.n_prompt_tokens,
            share=share,
            model=result.model,
            context=result.context_length,
            seconds=result.seconds,
        )
    ]
    for entry in result.labels:
        line = t(
            "icl.summary_label",
            label=entry.label,
            word=repr(entry.verbalizer),
            tokens=", ".join(map(repr, entry.tokens)),
            logprob=entry.logprob,
            prob=entry.prob,
        )
        if entry.calibrated_prob is not None:
            line += t("icl.summary_calibrated", prob=entry.calibrated_prob)
        lines.append(line)
    if result.expected is not None:
        lines.append(t("icl.summary_generated", answer=repr(result.prediction), expected=repr(result.expected)))
    return "\n".join(lines)


def sweep_figure(result: SweepResult) -> go.Figure:
    """Accuracy versus shots, mean ± std over draws, with and without calibration, and the baselines."""
    shots = [p.shots for p in result.points]
    figure = go.Figure()
    series = [("accuracy", RAW)]
    if all(p.calibrated_mean is not None for p in result.points):
        series.append(("calibrated", CALIBRATED))
    for name, colour in series:  # the fields `accuracy_mean`, `accuracy_std`, `calibrated_mean`, ...
        figure.add_scatter(
            x=shots,
            y=[getattr(p, f"{name}_mean") for p in result.points],
            name=t(f"icl.series.{name}"),
            mode="lines+markers",
            line_color=colour,
            error_y=dict(type="data", array=[getattr(p, f"{name}_std") for p in result.points], visible=True),
        )
    figure.add_hline(
        y=result.majority_baseline,
        line_dash="dash",
        line_color=BASELINE,
        annotation_text=t("icl.majority", value=result.majority_baseline),
    )
    if result.random_baseline:
        figure.add_hline(
            y=result.random_baseline,
            line_dash="dot",
            line_color=BIAS,
            annotation_text=t("icl.random", value=result.random_baseline),
            annotation_position="bottom right",
        )
    n = result.points[0].n_items if result.points else 0
    figure.update_layout(
        title=t("icl.sweep_title", task=result.task, n=n, seconds=result.seconds)
        + f"<br><sup>{t('experiments.label_mode.shown', mode=t(f'experiments.label_mode.{result.label_mode}'))}</sup>",
        xaxis_title=t("icl.shots_axis"),
        yaxis_title=t("icl.accuracy_axis"),
        yaxis_range=[0, 1.05],
        xaxis_tickvals=shots,
        height=380,
        legend_orientation="h",
    )
    return figure


# ---------------------------------------------------------------- handlers
