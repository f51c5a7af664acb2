"""Benchmark of in-context-learning scoring on the bundled model.

1. One 4-label query (topic) at 8 shots: the naive way (a full forward of prompt + verbalizer
   for each label) against ours (the prompt once, every verbalizer from its KV cache), side by
   side in one run, with single-token and multi-token verbalizers. Target: >= 3x.
2. The default sweep: 5 shot counts x 3 draws x 40 items on sentiment. Target: < 2 minutes.
3. A generation sweep (antonyms, 0 and 4 shots x 40 items): greedy answers after the demonstrations' cache.
4. Chinese (issue 14): sentiment_zh (好评 / 差评) and topic_zh (4 labels), each label word scored over
   all its tokens: accuracy vs shots 0, 1, 2, 4, 8 x 2 draws x 40 items, with and without calibration,
   against the majority baseline, on Gemma-3-270M and SmolLM2 by default.

    .venv/bin/python bench/icl.py [--threads N] [--queries 6] [--skip-sweep]
    .venv/bin/python bench/icl.py --chinese-only [--chinese-models NAME ...]

Timings on a shared machine are noisy: the ratio is measured with both methods interleaved, and the
sweeps report this process's CPU seconds beside the wall time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explorer import icl, models  # noqa: E402

MULTI_TOKEN = (
    "sports: athletics and games, business: economy and finance, science: research, world: international affairs"
)


@torch.inference_mode()
def naive_logprobs(lm, prompt: icl.Prompt) -> list[float]:
    """One full forward of prompt + verbalizer per label: the way we must not do it."""
    n_prompt = len(icl.encode(lm.tokenizer, prompt.text, prompt.chat))
    scores = []
    for continuation in prompt.continuations:
        ids = icl.encode(lm.tokenizer, prompt.text + continuation, prompt.chat)
        logprobs = torch.log_softmax(lm.model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        scores.append(float(sum(logprobs[i - 1, ids[i]] for i in range(n_prompt, len(ids)))))
    return scores


def cached_logprobs(lm, prompt: icl.Prompt) -> list[float]:
    scores = icl.score_continuations(lm, prompt)
    return [s.logprob for s in scores]


def compare_scoring(lm, verbalizers: str, queries: int, shots: int = 8) -> dict:
    task = icl.resolve_task("topic", verbalizers=verbalizers)
    timings = {"naive": [], "cached": []}
    worst = 0.0
    prompts = []
    for i, item in enumerate(task.items[:queries]):
        demos = icl.draw_demonstrations([x for x in task.items if x != item], shots, seed=i)
        prompt = icl.build_prompt(task, demos, item.text, lm.tokenizer)
        prompts.append(prompt)
        results = {}
        for name, method in (("naive", naive_logprobs), ("cached", cached_logprobs)):
            started = time.perf_counter()
            results[name] = method(lm, prompt)
            timings[name].append(time.perf_counter() - started)
        worst = max(worst, max(abs(a - b) for a, b in zip(results["naive"], results["cached"])))
    tokens = statistics.fmean(len(icl.encode(lm.tokenizer, p.text, False)) for p in prompts)
    naive, cached = statistics.median(timings["naive"]), statistics.median(timings["cached"])
    return dict(naive=naive, cached=cached, speedup=naive / cached, max_diff=worst, prompt_tokens=tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--queries", type=int, default=6, help="queries timed per verbalizer set")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--chinese-only", action="store_true", help="only the Chinese sentiment sweep")
    parser.add_argument(
        "--chinese-models", nargs="+", default=[models.GEMMA_NAME, models.BUNDLED_NAME], help="the Chinese sweep's"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.chinese_only:
        chinese_sweeps(args.chinese_models)
        return
    lm = models.get()
    print(f"model {lm.name}, torch threads {torch.get_num_threads()}")
    lm.model(input_ids=torch.tensor([[1, 2, 3]]))  # warm-up

    print("\n4-label task (topic), 8 shots: median seconds per query, both methods interleaved")
    print(f"{'verbalizers':<14}{'prompt tok':>11}{'naive s':>10}{'cached s':>10}{'speedup':>9}{'max |diff|':>12}")
    for name, words in (("single-token", ""), ("multi-token", MULTI_TOKEN)):
        row = compare_scoring(lm, words, args.queries)
        print(
            f"{name:<14}{row['prompt_tokens']:>11.0f}{row['naive']:>10.3f}{row['cached']:>10.3f}"
            f"{row['speedup']:>8.1f}x{row['max_diff']:>12.1e}"
        )

    if args.skip_sweep:
        return
    print("\nDefault sweep: sentiment, shots 0,1,2,4,8 x 3 draws x 40 items (0 shots drawn once), with calibration")
    started, cpu = time.perf_counter(), time.process_time()
    result = icl.sweep(lm, icl.resolve_task("sentiment"), icl.DEFAULT_SHOTS, repeats=3, max_items=40)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{'shots':>5}{'acc mean':>10}{'acc std':>9}{'calib mean':>12}{'calib std':>11}")
    for p in result.points:
        print(
            f"{p.shots:>5}{p.accuracy_mean:>10.3f}{p.accuracy_std:>9.3f}{p.calibrated_mean:>12.3f}{p.calibrated_std:>11.3f}"
        )
    print(f"majority baseline {result.majority_baseline:.2f}, random {result.random_baseline:.2f}")
    print(f"sweep wall time {total:.1f} s (target < 120 s), CPU {cpu:.1f} s")

    print("\nGeneration sweep: antonyms, shots 0, 4 x 1 draw x 40 items, greedy answers")
    started, cpu = time.perf_counter(), time.process_time()
    result = icl.sweep(lm, icl.resolve_task("antonyms"), "0, 4", repeats=1, max_items=40)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    accuracies = ", ".join(f"{p.shots} shots {p.accuracy_mean:.3f}" for p in result.points)
    print(f"accuracy {accuracies}; wall time {total:.1f} s, CPU {cpu:.1f} s")
    chinese_sweeps(args.chinese_models)


CHINESE_TASKS = ("sentiment_zh", "topic_zh")
CHINESE_SHOTS = "0, 1, 2, 4, 8"


def chinese_sweeps(names: list[str]) -> None:
    """Chinese ICL: accuracy vs shots, plain and calibrated, for every Chinese task on every model."""
    for name in names:
        lm = models.get(name, "causal")
        for task in CHINESE_TASKS:
            chinese_sweep(lm, task)


def chinese_sweep(lm, task: str) -> None:
    """One Chinese task's accuracy vs shots against the majority baseline."""
    resolved = icl.resolve_task(task)
    print(f"\n{task} ({'/'.join(resolved.verbalizers)}) on {lm.name}: shots {CHINESE_SHOTS} x 2 draws x 40 items")
    started, cpu = time.perf_counter(), time.process_time()
    result = icl.sweep(lm, resolved, CHINESE_SHOTS, repeats=2, max_items=40)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{'shots':>5}{'acc mean':>10}{'acc std':>9}{'calib mean':>12}{'calib std':>11}")
    for p in result.points:
        print(
            f"{p.shots:>5}{p.accuracy_mean:>10.3f}{p.accuracy_std:>9.3f}{p.calibrated_mean:>12.3f}{p.calibrated_std:>11.3f}"
        )
    print(f"majority baseline {result.majority_baseline:.2f}; wall time {total:.1f} s, CPU {cpu:.1f} s")


if __name__ == "__main__":
    main()
