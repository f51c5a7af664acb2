"""Token focus timings (compute and drawing, no Gradio handler): a focus on a new text (its forward
with attention weights and hidden states, then one position's trajectory and attention row), a focus
on another position of the same text (the cached forward re-read: what clicking another generated
token costs), and drawing the panel's two figures.

    .venv/bin/python bench/focus.py [--models SmolLM2-135M-Instruct Gemma-3-270M] [--tokens 64] [--repeats 3]

The machine is shared: besides wall time the table gives CPU seconds (the wall time idle cores would take).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from attention import text_of, timed  # noqa: E402  (bench/attention.py: the same passage and clock)

from explorer import models  # noqa: E402
from explorer.attention import focus  # noqa: E402
from explorer.views import focus_figures  # noqa: E402


def drawn(result: focus.TokenFocus) -> tuple:
    return (
        focus_figures.trajectory_figure(result),
        focus_figures.attention_figure(result),
        focus_figures.summary_html(result),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["SmolLM2-135M-Instruct", "Gemma-3-270M"])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1 per request)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{'model':24} {'what':28} {'wall ms':>9} {'cpu ms':>9}")
    for name in args.models:
        loaded = models.get(name, "causal", attn="eager")
        drawn(focus.token_focus(loaded, text_of(loaded, 8, -1)))  # warm-up: first-call overheads
        samples: dict[str, list[tuple[float, float]]] = {"focus, new text (cold)": [], "focus, cached forward": []}
        samples["draw the figures"] = []
        for repeat in range(args.repeats):
            text = text_of(loaded, args.tokens, repeat)
            wall, cpu, result = timed(focus.token_focus, loaded, text, -1)
            samples["focus, new text (cold)"].append((wall, cpu))
            wall, cpu, _ = timed(focus.token_focus, loaded, text, result.position // 2)
            samples["focus, cached forward"].append((wall, cpu))
            wall, cpu, _ = timed(drawn, result)
            samples["draw the figures"].append((wall, cpu))
        for what, values in samples.items():
            wall = statistics.median(v[0] for v in values) * 1000
            cpu = statistics.median(v[1] for v in values) * 1000
            print(f"{loaded.name:24} {what:28} {wall:9.0f} {cpu:9.0f}")
        print(f"{loaded.name:24} {'tokens read':28} {len(result.token_ids):9}")


if __name__ == "__main__":
    main()
