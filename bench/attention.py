"""Attention tab timings on the bundled model: first view of a 64-token text (target < 2 s),
switching layer/head (target < 150 ms), and the logit lens; optionally a headless-Chromium
screenshot proving BertViz's views draw.

    .venv/bin/python bench/attention.py [--repeats 3] [--screenshot /tmp/bertviz]

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
    ids = lm.tokenizer(f"({salt}) {PASSAGE}")["input_ids"][:n_tokens]
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
    started = time.perf_counter()
    result = fn(*args)
    size = serialised(result if isinstance(result, tuple) else (result,))
    return time.perf_counter() - started, size, result


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
            [chromium, "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--no-first-run", "--headless", "--timeout=8000", "--window-size=1100,900", f"--screenshot={png}", page.as_uri()],
            capture_output=True, timeout=120, check=False,
        )
        pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
        coloured = int(((pixels.max(-1) - pixels.min(-1)) > 40).sum())  # saturated pixels: BertViz's coloured lines
        print(f"screenshot {kind} view: {png} ({coloured:,} coloured pixels: {'drawn' if coloured > 2000 else 'BLANK'})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--screenshot", type=Path, default=None, help="folder for headless-Chromium screenshots")
    args = parser.parse_args()
    torch.set_num_threads(2)

    started = time.perf_counter()
    lm = models.get(attn="eager")
    print(f"{lm.name} (eager attention) loaded in {time.perf_counter() - started:.1f} s (not counted below)")
    view.show_attention(text_of(lm, 8, -1), "", 0, -1)  # warm-up: first-call overheads of torch and plotly

    rows = []
    first, forward_only, lens_first, lens_cached, switches = [], [], [], [], []
    for repeat in range(args.repeats):
        text = text_of(lm, args.tokens, repeat)
        n = len(lm.tokenizer(text)["input_ids"])
        seconds, size, outputs = timed(view.show_attention, text, "", 10, -1)
        first.append(seconds)
        shown = outputs[-2]
        for layer, head in [(11, 0), (12, 4), (29, 8), (0, -1), (20, 2)]:
            seconds, switch_size, _ = timed(view.switch, shown, layer, head)
            switches.append(seconds)
        seconds, lens_size, _ = timed(view.logit_lens, text, "", 5)
        lens_first.append(seconds)
        seconds, _, _ = timed(view.logit_lens, text, "", 5)
        lens_cached.append(seconds)
        started = time.perf_counter()
        attention.forward(lm, text + " ")  # a cache miss: the forward pass alone
        forward_only.append(time.perf_counter() - started)

    median = statistics.median
    rows = [
        (f"first view, {n} tokens (forward + every view)", median(first), "< 2 s", size),
        ("  of which: the forward pass alone", median(forward_only), "", None),
        ("switch layer/head (cached forward)", median(switches), "< 0.15 s", switch_size),
        ("logit lens, first (30 layers × vocab 49,152)", median(lens_first), "", lens_size),
        ("logit lens, cached", median(lens_cached), "", None),
    ]
    print(f"\n{'step':48} {'median s':>9} {'target':>9} {'payload':>10}   (repeats={args.repeats}, torch threads=2)")
    for name, seconds, target, size in rows:
        print(f"{name:48} {seconds:9.3f} {target:>9} {'' if size is None else f'{size / 1e6:.2f} MB':>10}")
    print(f"all switch timings: {', '.join(f'{s * 1000:.0f}' for s in switches)} ms")

    if args.screenshot:
        screenshot(args.screenshot, attention.forward(lm, text_of(lm, 24, 0)), 10)


if __name__ == "__main__":
    main()
