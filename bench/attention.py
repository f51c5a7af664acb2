"""Attention tab timings on the bundled model: first view of a 64-token text (target < 2 s),
switching layer/head (target < 150 ms), and the logit lens; optionally a headless-Chromium
screenshot proving BertViz's views draw.

    .venv/bin/python bench/attention.py [--repeats 3] [--tokens 64] [--threads 2] [--screenshot /tmp/bertviz]

Times are the server's side of a request: the handler (forward pass or cache read, every
figure, the mosaic, both BertViz pages) plus serialising its outputs to JSON as Gradio does;
the browser's drawing is not included. The machine is shared: expect noise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import attention, models  # noqa: E402
from explorer.views import attention as view  # noqa: E402

PASSAGE = (
    "Language models read text as tokens. Each layer mixes information between positions with attention: "
    "a token's query is compared with every earlier token's key, the scores go through a softmax, and the "
    "weighted values are added to the token's representation. Some heads look at the previous token, some at "
    "the first one, and some copy what followed an earlier occurrence of the current token. The quick brown fox."
)


def text_of(lm: models.LoadedModel, n_tokens: int, salt: int) -> str:
    """A real passage cut to about `n_tokens` tokens; `salt` makes each run a new text (no cache hit)."""
    ids = lm.tokenizer(f"({salt}) " + " ".join([PASSAGE] * 4))["input_ids"][:n_tokens]
    return lm.tokenizer.decode(ids)


def serialised(outputs) -> int:
    """Bytes Gradio would send: figures as plotly JSON, the rest as JSON (images/components skipped)."""
    size = 0
    for output in outputs:
        if isinstance(output, go.Figure):
            size += len(output.to_json())
        elif isinstance(output, (str, dict, list)):
            size += len(json.dumps(output)) if not isinstance(output, str) else len(output)
    return size


def timed(fn, *args):
    """Wall seconds, CPU seconds of this process (all threads), payload bytes, result.
    On a shared machine wall time depends on the neighbours; CPU seconds / 2 estimates
    the wall time on two idle cores."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    size = serialised(result if isinstance(result, tuple) else (result,))
    return time.perf_counter() - started, time.process_time() - cpu, size, result


def screenshot(folder: Path, shown_run, layer: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("screenshot: no chromium found (apt-get install -y chromium)")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("head", "model"):
        page = folder / f"bertviz-{kind}.html"
        png = folder / f"bertviz-{kind}.png"
        page.write_text(f"<!doctype html><html><body>{view.bertviz_frame(shown_run, kind, layer)}</body></html>")
        subprocess.run(
            [
                chromium,
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--headless",
                "--timeout=8000",
                "--window-size=1100,900",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
        coloured = int(((pixels.max(-1) - pixels.min(-1)) > 40).sum())  # saturated pixels: BertViz's coloured lines
        print(
            f"screenshot {kind} view: {png} ({coloured:,} coloured pixels: {'drawn' if coloured > 2000 else 'BLANK'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads (the app uses 2); 1 gives load-proof numbers on a busy machine, where two "
        "OpenMP threads spin waiting for each other",
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="folder for headless-Chromium screenshots")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    lm = models.get(attn="eager")
    print(f"{lm.name} (eager attention) loaded in {time.perf_counter() - started:.1f} s (not counted below)")
    view.show_attention(text_of(lm, 8, -1), "", 0, -1)  # warm-up: first-call overheads of torch and plotly

    samples: dict[str, list[tuple[float, float]]] = {
        key: [] for key in ("first", "forward", "switch", "lens", "lens cached")
    }
    sizes = {}
    for repeat in range(args.repeats):
        text = text_of(lm, args.tokens, repeat)
        n = len(lm.tokenizer(text)["input_ids"])
        wall, cpu, sizes["first"], outputs = timed(view.show_attention, text, "", 10, -1)
        samples["first"].append((wall, cpu))
        shown = outputs[-2]
        for layer, head in [(11, 0), (12, 4), (29, 8), (0, -1), (20, 2)]:
            wall, cpu, sizes["switch"], _ = timed(view.switch, shown, layer, head)
            samples["switch"].append((wall, cpu))
        wall, cpu, sizes["lens"], _ = timed(view.logit_lens, text, "", 5)
        samples["lens"].append((wall, cpu))
        wall, cpu, _, _ = timed(view.logit_lens, text, "", 5)
        samples["lens cached"].append((wall, cpu))
        wall, cpu, _, _ = timed(attention.forward, lm, text_of(lm, args.tokens, 1000 + repeat))  # forward alone
        samples["forward"].append((wall, cpu))

    rows = [
        ("first", f"first view, {n} tokens (forward + every view)", "< 2 s"),
        ("forward", "  of which: the forward pass alone", ""),
        ("switch", "switch layer/head (cached forward)", "< 0.15 s"),
        ("lens", "logit lens, first (30 layers × 49,152 vocab)", ""),
        ("lens cached", "logit lens, cached", ""),
    ]
    median = statistics.median
    print(f"\n{'step':46} {'wall s':>7} {'cpu s':>7} {'cpu/2':>7} {'target':>9} {'payload':>9}")
    for key, name, target in rows:
        wall, cpu = median(w for w, _ in samples[key]), median(c for _, c in samples[key])
        size = f"{sizes[key] / 1e6:.2f} MB" if key in sizes else ""
        print(f"{name:46} {wall:7.3f} {cpu:7.3f} {cpu / 2:7.3f} {target:>9} {size:>9}")
    print(
        f"(medians of {args.repeats} runs, {len(samples['switch'])} switches; torch threads = {args.threads}; "
        "cpu/2 = the wall time two idle cores would take)"
    )
    print(f"all switch timings: {', '.join(f'{w * 1000:.0f}' for w, _ in samples['switch'])} ms")

    if args.screenshot:
        screenshot(args.screenshot, attention.forward(lm, text_of(lm, 24, 0)), 10)


if __name__ == "__main__":
    main()
