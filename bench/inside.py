"""Inside the Transformer timings on the bundled model: /attention_steps for a fresh 32-token text
(the recorded forward plus the head recomputed by hand; target < 1 s), another head of the same text
(from the cached forward), and the √d_k slider's redraw (random vectors and both figures; target < 200 ms).

    .venv/bin/python bench/inside.py [--repeats 5] [--tokens 32] [--threads 1]

Compute times are the compute functions alone; "handler" adds the figures and the JSON payload as
the view builds them (not Gradio's serialisation or the browser's drawing). The machine is shared:
the median of the repeats is printed, with the CPU time of this process beside the wall time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import models  # noqa: E402
from explorer.inside import scaling, steps  # noqa: E402
from explorer.views import inside as view  # noqa: E402

PASSAGE = (
    "Language models read text as tokens. Each layer mixes information between positions with attention: "
    "a token's query is compared with every earlier token's key, the scores go through a softmax, and the "
    "weighted values are added to the token's representation."
)


def text_of(lm: models.LoadedModel, n_tokens: int, salt: int) -> str:
    """A passage cut to `n_tokens` tokens; `salt` makes each repeat a new text (no cache hit)."""
    ids = lm.tokenizer(f"({salt}) {PASSAGE} {PASSAGE}")["input_ids"][:n_tokens]
    return lm.tokenizer.decode(ids)


def timed(fn, *args) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def report(name: str, samples: list[tuple[float, float]], target: float | None = None) -> None:
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    goal = f" (target < {target * 1000:.0f} ms: {'met' if wall < target else 'MISSED'})" if target else ""
    print(f"{name:<48} {wall * 1000:7.0f} ms wall, {cpu * 1000:7.0f} ms CPU{goal}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1 per request)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    lm = models.get(attn="eager")
    view.attention_steps(text_of(lm, 8, -1), "", 0, 0)  # warm-up: first-call overheads of torch and plotly
    view.redraw_random(64, 0)
    samples: dict[str, list[tuple[float, float]]] = {
        key: [] for key in ("steps", "steps other head", "steps handler", "redraw compute", "redraw handler")
    }
    for repeat in range(args.repeats):
        text = text_of(lm, args.tokens, repeat)
        samples["steps"].append(timed(steps.attention_steps, lm, text, 17, 4))
        samples["steps other head"].append(timed(steps.attention_steps, lm, text, 3, 1))
        samples["steps handler"].append(timed(view.attention_steps, text_of(lm, args.tokens, 100 + repeat), "", 17, 4))
        d = scaling.DIMS[repeat % len(scaling.DIMS)]
        samples["redraw compute"].append(timed(scaling.random_spread, d, repeat))
        samples["redraw handler"].append(timed(view.redraw_random, d, repeat))
    n = len(lm.tokenizer(text_of(lm, args.tokens, 0))["input_ids"])
    print(f"{lm.name}, {n}-token texts, {args.threads} torch thread(s), median of {args.repeats}")
    report("/attention_steps compute, new text", samples["steps"], 1.0)
    report("/attention_steps compute, another head (cached)", samples["steps other head"])
    report("/attention_steps handler (figures + payload)", samples["steps handler"])
    report("√d_k redraw compute (random_spread)", samples["redraw compute"], 0.2)
    report("√d_k redraw handler (compute + 2 figures)", samples["redraw handler"], 0.2)


if __name__ == "__main__":
    main()
