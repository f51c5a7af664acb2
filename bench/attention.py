"""Attention tab timings, compute and drawing functions (no Gradio handler): the forward of a new
text, drawing every view from it (figures, the mosaic, both BertViz pages), switching layer or
head (re-reading the cached forward and redrawing two figures), and the logit lens first and cached. Optionally a headless-Chromium
screenshot proving BertViz's views draw.

    .venv/bin/python bench/attention.py [--model NAME] [--repeats 3] [--tokens 64] [--threads 1]
                                        [--screenshot /tmp/bertviz]

Targets: the first view of a 64-token text (forward + drawing) < 2 s, a switch < 150 ms. The
machine is shared: besides wall time the table gives CPU seconds / threads, the wall time idle
cores would take. The browser's drawing and Gradio's serialisation are not included.
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
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer import models  # noqa: E402
from explorer.attention import forward, logit_lens, patterns  # noqa: E402
from explorer.views import attention as view  # noqa: E402
from explorer.views import attention_figures as figures  # noqa: E402
from explorer.views import bertviz_frame  # noqa: E402

PASSAGE = (
    "Language models read text as tokens. Each layer mixes information between positions with attention: "
    "a token's query is compared with every earlier token's key, the scores go through a softmax, and the "
    "weighted values are added to the token's representation. Some heads look at the previous token, some at "
    "the first one, and some copy what followed an earlier occurrence of the current token. The quick brown fox."
)
SWITCHES = [(0.4, 0), (0.4, 1), (1.0, -1), (0.0, -1), (0.7, 2)]  # (fraction of the depth, head)


def text_of(loaded: models.LoadedModel, n_tokens: int, salt: int) -> str:
    """A real passage cut to about `n_tokens` tokens; `salt` makes each run a new text (no cache hit)."""
    ids = loaded.tokenizer(f"({salt}) " + " ".join([PASSAGE] * 4), add_special_tokens=False)["input_ids"]
    return loaded.tokenizer.decode(ids[:n_tokens])


def timed(fn, *args):
    """Wall seconds, CPU seconds of this process (all threads), result."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - started, time.process_time() - cpu, result


def every_view(loaded: models.LoadedModel, text: str, layer: int) -> view.Shown:
    """What the tab draws for a text: the compute result, then every picture of it."""
    return view.draw(patterns.show(loaded, text, layer, -1), text, "")


def switched_view(loaded: models.LoadedModel, text: str, layer: int, head: int) -> tuple:
    """What switching layer or head redraws: the matrix re-read from the cached forward, two figures, the note."""
    result = patterns.attention(loaded, text, layer, head)
    run = forward.forward(loaded, text)
    return (
        figures.heatmap_figure(run, result.layer, result.head),
        figures.heads_figure(run, result.layer, result.head),
        view.heads_note(run, result.layer),
    )


def drawn_bytes(shown: view.Shown) -> int:
    """Roughly what the page receives: figures as plotly JSON, text and payload as JSON (the image skipped)."""
    size = 0
    for value in shown:
        if hasattr(value, "to_json"):
            size += len(value.to_json())
        elif isinstance(value, str):
            size += len(value)
        elif isinstance(value, dict):
            size += len(json.dumps(value))
    return size


def screenshot(folder: Path, run: forward.Forward, layer: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("screenshot: no chromium found (apt-get install -y chromium)")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("head", "model"):
        page, png = folder / f"bertviz-{kind}.html", folder / f"bertviz-{kind}.png"
        page.write_text(f"<!doctype html><html><body>{bertviz_frame.frame(run, kind, layer)}</body></html>")
        options = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
        options += ["--no-first-run", "--headless", "--timeout=8000", "--window-size=1100,900"]
        subprocess.run(
            [chromium, *options, f"--screenshot={png}", page.as_uri()], capture_output=True, timeout=120, check=False
        )
        pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
        coloured = int(((pixels.max(-1) - pixels.min(-1)) > 40).sum())  # saturated pixels: BertViz's coloured lines
        print(
            f"screenshot {kind} view: {png} ({coloured:,} coloured pixels: {'drawn' if coloured > 2000 else 'BLANK'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="", help="a registered model ('' = the default causal model)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1 per request)")
    parser.add_argument("--screenshot", type=Path, default=None, help="folder for headless-Chromium screenshots")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    loaded = models.get(args.model, "causal", attn="eager")
    print(f"{loaded.name} (eager attention) loaded in {time.perf_counter() - started:.1f} s (not counted below)")
    every_view(loaded, text_of(loaded, 8, -1), 0)  # warm-up: first-call overheads of torch and plotly

    samples: dict[str, list[tuple[float, float]]] = {
        key: [] for key in ("forward", "draw", "switch", "lens", "lens cached")
    }
    for repeat in range(args.repeats):
        text = text_of(loaded, args.tokens, repeat)
        wall, cpu, run = timed(forward.forward, loaded, text)
        samples["forward"].append((wall, cpu))
        wall, cpu, shown = timed(every_view, loaded, text, run.num_layers // 3)
        samples["draw"].append((wall, cpu))
        for fraction, head in SWITCHES:
            layer = round(fraction * (run.num_layers - 1))
            wall, cpu, _ = timed(switched_view, loaded, text, layer, min(head, run.num_heads - 1))
            samples["switch"].append((wall, cpu))
        wall, cpu, _ = timed(logit_lens.logit_lens, loaded, text, 5)
        samples["lens"].append((wall, cpu))
        wall, cpu, _ = timed(logit_lens.logit_lens, loaded, text, 5)
        samples["lens cached"].append((wall, cpu))

    vocab = loaded.model.get_output_embeddings().weight.shape[0]
    rows = [
        ("forward", f"forward pass of a new {run.num_tokens}-token text", ""),
        ("draw", "drawing every view from the cached forward", ""),
        ("switch", "switch layer/head (cached forward, two figures)", "< 0.15 s"),
        ("lens", f"logit lens, first ({run.num_layers + 1} states × {vocab:,} vocab)", ""),
        ("lens cached", "logit lens, cached", ""),
    ]
    median = statistics.median
    print(f"\n{'step':52} {'wall s':>7} {'cpu s':>7} {'cpu/thr':>7} {'target':>9}")
    for key, name, target in rows:
        wall, cpu = median(w for w, _ in samples[key]), median(c for _, c in samples[key])
        print(f"{name:52} {wall:7.3f} {cpu:7.3f} {cpu / args.threads:7.3f} {target:>9}")
    first = median(w for w, _ in samples["forward"]) + median(w for w, _ in samples["draw"])
    print(f"{'first view = forward + drawing':52} {first:7.3f} {'':7} {'':7} {'< 2 s':>9}")
    print(f"payload of the first view: {drawn_bytes(shown) / 1e6:.2f} MB (figures, notes, BertViz pages, JSON)")
    print(f"(medians of {args.repeats} runs, {len(samples['switch'])} switches; torch threads = {args.threads})")

    if args.screenshot:
        screenshot(args.screenshot, forward.forward(loaded, text_of(loaded, 24, 0)), run.num_layers // 3)


if __name__ == "__main__":
    main()
