"""`/sequence_probs` (teacher forcing) latency: today's code beside an older commit's, on one 64-token text.

    .venv/bin/python bench/sequence_probs.py [--before a408a13] [--models Gemma-3-270M SmolLM2-135M-Instruct]

Both versions run in one process, interleaved, on the same loaded model and one torch thread (as the
app), so the shared machine's load hits them alike: the ratio is the figure to quote. The numbers
must agree (the same ranks and top-5 ids; max |diff| of log-probabilities and top-5 probabilities),
and each version's largest error against a float64 head and softmax is shown (err).
Target (issue 14): < 1 s for a 64-token text on Gemma-3-270M.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from before import at_commit  # noqa: E402

from explorer import lm as lm_ops  # noqa: E402
from explorer import models  # noqa: E402
from explorer.generation.teacher_forcing import sequence_probs  # noqa: E402

TEXT = (
    "台湾大学是台湾第一所综合性大学。The language model gives every token a probability: p(text) = Π p(token | before)."
)
N_TOKENS = 64


def text_of(lm, n: int) -> str:
    """TEXT cut or repeated to exactly n tokens (the document start included)."""
    ids = lm.tokenizer(TEXT * 4, add_special_tokens=False)["input_ids"][
        : n - len(lm_ops.document_start_ids(lm.tokenizer))
    ]
    return lm.tokenizer.decode(ids)


def disagreement(old, new) -> float:
    """The largest difference between two results' numbers (ranks and ids must be equal)."""
    worst = 0.0
    for a, b in zip(old.positions, new.positions, strict=True):
        assert a.rank == b.rank and [g.token_id for g in a.top] == [g.token_id for g in b.top], (a, b)
        worst = max(worst, abs(a.logprob - b.logprob), *(abs(x.prob - y.prob) for x, y in zip(a.top, b.top)))
    return worst


def exact_logprobs(lm, text: str) -> torch.Tensor:
    """Every position's log p(true next token) with the LM head and softmax in float64: the reference
    both versions' float32 numbers are measured against."""
    ids = torch.tensor([lm_ops.encode_document(lm.tokenizer, text)])  # (1, n)
    with torch.inference_mode():
        hidden = lm.model.base_model(input_ids=ids).last_hidden_state[0, :-1].double()  # (n-1, d)
        logits = lm_ops.softcap(lm.model, hidden @ lm.model.get_output_embeddings().weight.double().T)
        return logits.log_softmax(-1).gather(1, ids[0, 1:, None])[:, 0]  # (n-1,)


def error(result, exact: torch.Tensor) -> float:
    return float((torch.tensor([p.logprob for p in result.positions], dtype=torch.float64) - exact).abs().max())


def compare(lm, before, repeats: int) -> None:
    text = text_of(lm, N_TOKENS)
    n = len(lm_ops.encode_document(lm.tokenizer, text))
    old_fn = before.generation.teacher_forcing.sequence_probs
    timings = {"before": [], "after": []}
    old, new = old_fn(lm, text), sequence_probs(lm, text)  # warm both
    for _ in range(repeats):
        for name, fn in (("before", old_fn), ("after", sequence_probs)):
            started = time.perf_counter()
            fn(lm, text)
            timings[name].append(time.perf_counter() - started)
    before_s, after_s = statistics.median(timings["before"]), statistics.median(timings["after"])
    print(
        f"{lm.name:<24}{n:>7}{before_s:>10.2f}{after_s:>9.2f}{before_s / after_s:>8.2f}x{disagreement(old, new):>12.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="a408a13", help="the commit to compare with")
    parser.add_argument("--models", nargs="+", default=[models.GEMMA_NAME, models.BUNDLED_NAME])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("PLM_EXPLORER_THREADS", "1")))
    before = at_commit(args.before, "generation.teacher_forcing")
    print(f"sequence_probs, median of {args.repeats} interleaved calls, before = {args.before}, after = this tree")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine is slower)")
    print(
        f"{'model':<24}{'tokens':>7}{'before s':>10}{'after s':>9}{'ratio':>9}{'max |diff|':>12}{'before err':>12}{'after err':>12}"
    )
    for name in args.models:
        compare(models.get(name, "causal"), before, args.repeats)


if __name__ == "__main__":
    main()
