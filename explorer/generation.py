"""Next-token prediction, step by step, with the sampling controls made visible.

The loop is nanoGPT's: one forward per new token (with the KV cache), pick a token, repeat.
The controls are `transformers`' own logits processors, in the order `generate()` applies
them (repetition penalty, then temperature, top-k, top-p), so greedy decoding here equals
`model.generate` and the same seed samples the same tokens. What `generate()` does not
give is the distribution *after each control*: we keep it for every step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from transformers import (
    LogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from . import checks
from .models import LoadedModel

MAX_NEW_TOKENS = 1024
MAX_TEMPERATURE = 10.0
MAX_REPETITION_PENALTY = 10.0


@dataclass(frozen=True)
class SamplingSettings:
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    repetition_penalty: float = 1.0  # 1 = off

    def validated(self) -> SamplingSettings:
        """The same settings, checked: each bad value gives a message naming its range."""
        return SamplingSettings(
            do_sample=bool(self.do_sample),
            temperature=checks.number(self.temperature, "temperature", 0, MAX_TEMPERATURE, low_open=True),
            top_k=checks.number(
                self.top_k, "top_k", 0, 1_000_000, integer=True, allowed="a whole number ≥ 0 (0 = off)"
            ),
            top_p=checks.number(self.top_p, "top_p", 0, 1, low_open=True),
            repetition_penalty=checks.number(
                self.repetition_penalty, "repetition_penalty", 0, MAX_REPETITION_PENALTY, low_open=True
            ),
        )

    def controls(self, sampling: bool | None = None) -> list[tuple[str, LogitsProcessor]]:
        """The logits processors in `generate()`'s order. Greedy decoding only uses the
        repetition penalty: temperature, top-k and top-p change nothing about the argmax."""
        sampling = self.do_sample if sampling is None else sampling
        stages: list[tuple[str, LogitsProcessor]] = []
        if self.repetition_penalty != 1.0:
            stages.append(("repetition penalty", RepetitionPenaltyLogitsProcessor(self.repetition_penalty)))
        if sampling:
            if self.temperature != 1.0:
                stages.append(("temperature", TemperatureLogitsWarper(self.temperature)))
            if self.top_k > 0:
                stages.append(("top-k", TopKLogitsWarper(self.top_k)))
            if self.top_p < 1.0:
                stages.append(("top-p", TopPLogitsWarper(self.top_p)))
        return stages


@dataclass
class Candidate:
    token: str  # the text it decodes to
    token_id: int
    prob: float  # under the distribution actually sampled from (after every control)
    raw_prob: float  # softmax of the model's logits
    piece: str  # the tokenizer's own piece, byte-level markers included (e.g. 'Ġworld')
    stage_probs: list[float]  # after each stage: raw, then one per control applied


@dataclass
class Step:
    token: str
    token_id: int
    prob: float
    raw_prob: float
    piece: str
    entropy_raw: float  # nats, of the raw distribution
    entropy: float  # nats, of the distribution sampled from
    forced: bool  # chosen by the user (a branch), not sampled
    top: list[Candidate]


@dataclass
class GenerationResult:
    model: str
    prompt: str  # the exact text fed to the model (chat template applied if asked)
    prompt_tokens: list[str]
    prompt_token_ids: list[int]
    stages: list[str]  # names of the distributions in every `stage_probs`
    steps: list[Step] = field(default_factory=list)
    text: str = ""  # the generated text, set on the last result of a stream
    finish_reason: str = "length"  # "length" | "eos"
    seconds: float = 0.0
    tokens_per_second: float = 0.0


@dataclass
class NextTokenResult:
    model: str
    prompt: str
    prompt_tokens: list[str]
    stages: list[str]
    candidates: list[Candidate]  # the most likely first, by raw_prob
    entropy_raw: float
    entropy: float


# ---------------------------------------------------------------- preprocess


def encode_prompt(lm: LoadedModel, prompt: str, use_chat_template: bool = False) -> tuple[str, list[int]]:
    """The exact text fed to the model and its token ids."""
    checks.text(prompt, "prompt")
    tokenizer = lm.tokenizer
    if use_chat_template:
        if not getattr(tokenizer, "chat_template", None):
            raise checks.ExplorerError(f"{lm.name} has no chat template; untick 'chat template'.")
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
        return text, tokenizer(text, add_special_tokens=False)["input_ids"]
    return prompt, tokenizer(prompt)["input_ids"]


def _check_fits(lm: LoadedModel, n_prompt: int, n_new: int) -> None:
    if n_prompt + n_new > lm.context_length:
        raise checks.ExplorerError(
            f"The prompt is {n_prompt:,} tokens; with {n_new:,} new tokens that exceeds "
            f"{lm.name}'s context of {lm.context_length:,} tokens. Shorten the prompt or lower max new tokens."
        )


# ---------------------------------------------------------------- the distributions


def _stage_distributions(
    stages: Sequence[tuple[str, LogitsProcessor]], input_ids: torch.Tensor, logits: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Probabilities after each stage (raw first), and the final scores to pick from."""
    scores = logits.float().clone()
    distributions = [scores.softmax(-1)]
    for _, processor in stages:
        scores = processor(input_ids, scores)
        distributions.append(scores.softmax(-1))
    return distributions, scores


def _entropies(distributions: list[torch.Tensor]) -> tuple[float, float]:
    """Entropy (nats) of the raw and of the final distribution, in one pass."""
    raw, final = torch.special.entr(torch.cat([distributions[0], distributions[-1]])).sum(-1).tolist()
    return raw, final


def _candidates(lm: LoadedModel, token_ids: list[int], distributions: list[torch.Tensor]) -> list[Candidate]:
    """Candidates for several ids at once: one gather per stage, one tokenizer call each."""
    probs = torch.stack([d[0, token_ids] for d in distributions]).T.tolist()  # [id][stage]
    texts = lm.tokenizer.batch_decode([[i] for i in token_ids])
    pieces = lm.tokenizer.convert_ids_to_tokens(token_ids)
    return [
        Candidate(token=text, token_id=i, prob=p[-1], raw_prob=p[0], piece=piece, stage_probs=p)
        for i, text, piece, p in zip(token_ids, texts, pieces, probs)
    ]


def _top_ids(distributions: list[torch.Tensor], n: int, by_raw: bool = False) -> list[int]:
    """The n most likely ids by final prob; the tokens the controls filtered out (prob 0) follow by raw prob."""
    raw, final = distributions[0][0], distributions[-1][0]
    n = min(n, raw.numel())
    if by_raw:
        return raw.topk(n).indices.tolist()
    top = final.topk(n)
    kept = top.indices[top.values > 0].tolist()
    if len(kept) == n:
        return kept
    return kept + raw.masked_fill(final > 0, -1.0).topk(n - len(kept)).indices.tolist()


def _step(lm, token_id: int, distributions, forced: bool, top_n: int) -> Step:
    top_ids = _top_ids(distributions, top_n)
    candidates = _candidates(lm, [token_id] + top_ids, distributions)
    chosen = candidates[0]
    entropy_raw, entropy = _entropies(distributions)
    return Step(
        token=chosen.token,
        token_id=token_id,
        prob=chosen.prob,
        raw_prob=chosen.raw_prob,
        piece=chosen.piece,
        entropy_raw=entropy_raw,
        entropy=entropy,
        forced=forced,
        top=candidates[1:],
    )


def _eos_ids(lm: LoadedModel) -> set[int]:
    ids = {lm.tokenizer.eos_token_id}
    configured = getattr(lm.model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return {i for i in ids if i is not None}


# ---------------------------------------------------------------- forward


def stream_generation(
    lm: LoadedModel,
    prompt: str,
    settings: SamplingSettings = SamplingSettings(),
    max_new_tokens: int = 32,
    seed: int = 0,
    *,
    use_chat_template: bool = False,
    forced_ids: Sequence[int] = (),
    top_n: int = 10,
) -> Iterator[GenerationResult]:
    """Generate token by token, yielding the growing result after every step.

    `forced_ids` are tokens the user chose (branching): they are fed in one forward pass,
    their distributions are recorded like any other step, and sampling continues after them
    for up to `max_new_tokens` tokens.
    """
    settings = settings.validated()
    max_new_tokens = checks.number(max_new_tokens, "max_new_tokens", 1, MAX_NEW_TOKENS, integer=True)
    seed = checks.seed(seed)
    text, prompt_ids = encode_prompt(lm, prompt, use_chat_template)
    _check_fits(lm, len(prompt_ids), len(forced_ids) + max_new_tokens)
    stages = settings.controls()
    result = GenerationResult(
        model=lm.name,
        prompt=text,
        prompt_tokens=[lm.tokenizer.decode([i]) for i in prompt_ids],
        prompt_token_ids=list(prompt_ids),
        stages=["raw"] + [name for name, _ in stages],
    )
    generator = torch.Generator().manual_seed(seed)
    eos = _eos_ids(lm)
    ids = torch.tensor([list(prompt_ids) + list(forced_ids)])
    started = time.perf_counter()
    out = _forward(lm, ids, keep=len(forced_ids) + 1)
    for offset, token_id in enumerate(forced_ids):
        context = ids[:, : len(prompt_ids) + offset]
        distributions, _ = _stage_distributions(stages, context, out.logits[:, offset])
        result.steps.append(_step(lm, int(token_id), distributions, forced=True, top_n=top_n))
    for n in range(max_new_tokens):
        if n:  # feed the token just chosen; the prompt (and forced tokens) went in above
            ids = torch.cat([ids, torch.tensor([[token_id]])], dim=1)
            out = _forward(lm, ids[:, -1:], past=out.past_key_values)
        distributions, scores = _stage_distributions(stages, ids, out.logits[:, -1])
        if settings.do_sample:
            token_id = int(torch.multinomial(distributions[-1], 1, generator=generator))
        else:
            token_id = int(scores.argmax(-1))
        result.steps.append(_step(lm, token_id, distributions, forced=False, top_n=top_n))
        finished = token_id in eos or n == max_new_tokens - 1
        result.finish_reason = "eos" if token_id in eos else "length"
        _update_timing_and_text(lm, result, started, decode=finished)
        yield result
        if finished:
            return


@torch.inference_mode()
def _forward(lm: LoadedModel, ids: torch.Tensor, past=None, keep: int = 1):
    """One forward in inference mode for this call only: the mode is thread-local, and a
    streaming generator is resumed by Gradio on other worker threads, so it must never hold
    the mode across a `yield` (it would leak into whatever that thread runs next)."""
    return lm.model(input_ids=ids, past_key_values=past, use_cache=True, logits_to_keep=keep)


def _update_timing_and_text(lm: LoadedModel, result: GenerationResult, started: float, decode: bool) -> None:
    """Timing after every step; the text once, at the end (decoding it every step would cost O(n²))."""
    if decode:
        result.text = lm.tokenizer.decode([s.token_id for s in result.steps], skip_special_tokens=True)
    result.seconds = time.perf_counter() - started
    result.tokens_per_second = len(result.steps) / result.seconds if result.seconds > 0 else 0.0


def generate(
    lm: LoadedModel,
    prompt: str,
    settings: SamplingSettings = SamplingSettings(),
    max_new_tokens: int = 32,
    seed: int = 0,
    **options,
) -> GenerationResult:
    """The whole generation at once (the last of `stream_generation`'s results)."""
    result = None
    for result in stream_generation(lm, prompt, settings, max_new_tokens, seed, **options):
        pass
    return result


def next_token(
    lm: LoadedModel,
    prompt: str,
    settings: SamplingSettings = SamplingSettings(do_sample=True),
    *,
    use_chat_template: bool = False,
    top_n: int = 20,
) -> NextTokenResult:
    """One forward pass: the full candidate table before and after the controls."""
    settings = settings.validated()
    text, prompt_ids = encode_prompt(lm, prompt, use_chat_template)
    _check_fits(lm, len(prompt_ids), 1)
    stages = settings.controls(sampling=True)
    ids = torch.tensor([prompt_ids])
    logits = _forward(lm, ids).logits[:, -1]
    distributions, _ = _stage_distributions(stages, ids, logits)
    entropy_raw, entropy = _entropies(distributions)
    return NextTokenResult(
        model=lm.name,
        prompt=text,
        prompt_tokens=[lm.tokenizer.decode([i]) for i in prompt_ids],
        stages=["raw"] + [name for name, _ in stages],
        candidates=_candidates(lm, _top_ids(distributions, top_n, by_raw=True), distributions),
        entropy_raw=entropy_raw,
        entropy=entropy,
    )
