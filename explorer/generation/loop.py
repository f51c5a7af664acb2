"""Next-token prediction, step by step, with the sampling controls made visible.

The loop is nanoGPT's: one forward per new token (with the KV cache), pick a token, repeat.
The controls are `transformers`' own logits processors, in the order `generate()` applies
them (repetition penalty, then temperature, top-k, top-p), so greedy decoding here equals
`model.generate` and the same seed samples the same tokens. What `generate()` does not
give is the distribution *after each control*: we keep it for every step.

The pipeline is `transformers`' own: preprocess (`encode_prompt`), forward (`scheduler.decode`:
the request's forwards, shared with other requests'; `Sequence` picks its tokens), postprocess
(`_step`: a step's numbers, made with the other rows' where the rows picked (`step_numbers`), and the
chosen token's texts).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from .. import checks
from .. import lm as lm_ops
from ..models import LoadedModel
from ..segments import Segment, Segmenter, token_bytes, token_labels
from . import scheduler
from .sampling import SamplingSettings
from .sequence import Pick, Sequence

MAX_NEW_TOKENS = 1024


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a generation depends on: the same request gives the same tokens."""

    prompt: str
    settings: SamplingSettings = SamplingSettings()
    max_new_tokens: int = 32  # tokens generated after the prompt (and after any forced tokens)
    seed: int = 0  # the sampling generator's seed
    use_chat_template: bool = False  # wrap the prompt as a user turn (instruct models)
    forced_ids: tuple[int, ...] = ()  # tokens the user chose (a branch), fed before sampling resumes

    def validated(self) -> GenerationRequest:
        return replace(
            self,
            settings=self.settings.validated(),
            max_new_tokens=checks.number(self.max_new_tokens, "max_new_tokens", 1, MAX_NEW_TOKENS, integer=True),
            seed=checks.seed(self.seed),
        )


@dataclass
class Candidate:
    token: str  # the text it decodes to
    token_id: int
    prob: float  # under the distribution actually sampled from (after every control)
    raw_prob: float  # softmax of the model's logits
    piece: str  # the tokenizer's own piece, byte-level markers included (e.g. 'Ġworld')
    label: str  # readable on its own: its text, or its bytes ⟨e5 8f⟩ where it is part of a character
    stage_probs: list[float]  # after each stage: raw, then one per control applied


@dataclass
class Step:
    token: str
    token_id: int
    prob: float
    raw_prob: float
    piece: str
    label: str
    entropy_raw: float  # nats, of the raw distribution
    entropy: float  # nats, of the distribution sampled from
    forced: bool  # chosen by the user (a branch), not sampled
    top: list[Candidate]  # the most likely next tokens (their texts are set on a stream's last result)


@dataclass
class GenerationResult:
    model: str
    prompt: str  # the exact text fed to the model (chat template applied if asked)
    prompt_tokens: list[str]
    prompt_token_ids: list[int]
    stages: list[str]  # names of the distributions in every `stage_probs`
    steps: list[Step] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)  # readable runs of steps (whole characters)
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
    """The exact text fed to the model and its token ids (a document start, then the prompt)."""
    checks.text(prompt, "prompt")
    tokenizer = lm.tokenizer
    if not use_chat_template:
        return prompt, lm_ops.encode_document(tokenizer, prompt)
    if not getattr(tokenizer, "chat_template", None):
        raise checks.ExplorerError("{model} has no chat template; untick 'chat template'.", model=lm.name)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
    )
    return text, tokenizer(text, add_special_tokens=False)["input_ids"]


# ---------------------------------------------------------------- postprocess


def _candidates(token_ids: list[int], probs: list[list[float]]) -> list[Candidate]:
    """Candidates from their ids and their probabilities after each stage; their texts come from `_name`."""
    return [
        Candidate(token="", token_id=i, prob=p[-1], raw_prob=p[0], piece="", label="", stage_probs=p)
        for i, p in zip(token_ids, probs)
    ]


def _name(lm: LoadedModel, candidates: list[Candidate]) -> list[Candidate]:
    """Give candidates their texts: one tokenizer call of each kind for all of them."""
    ids = [c.token_id for c in candidates]
    texts, pieces = lm_ops.token_texts(lm.tokenizer, ids), lm.tokenizer.convert_ids_to_tokens(ids)
    for candidate, text, piece, label in zip(candidates, texts, pieces, token_labels(lm.tokenizer, ids)):
        candidate.token, candidate.piece, candidate.label = text, piece, label
    return candidates


def _step(lm: LoadedModel, pick: Pick) -> Step:
    """A pick's numbers, and the chosen token's texts (the stream shows it); the top candidates'
    texts wait for the end of the generation, when every step's are named in one go."""
    numbers = pick.numbers
    (chosen,) = _name(lm, _candidates([pick.token_id], [numbers.chosen]))
    return Step(
        token=chosen.token,
        token_id=pick.token_id,
        prob=chosen.prob,
        raw_prob=chosen.raw_prob,
        piece=chosen.piece,
        label=chosen.label,
        entropy_raw=numbers.entropy_raw,
        entropy=numbers.entropy,
        forced=pick.forced,
        top=_candidates(numbers.top_ids, numbers.top_probs),
    )


def _eos_ids(lm: LoadedModel) -> frozenset[int]:
    ids = {lm.tokenizer.eos_token_id}
    configured = getattr(lm.model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return frozenset(i for i in ids if i is not None)


def _stage_names(stages) -> list[str]:
    return ["raw"] + [name for name, _ in stages]


# ---------------------------------------------------------------- forward


def stream_generation(lm: LoadedModel, request: GenerationRequest, *, top_n: int = 10) -> Iterator[GenerationResult]:
    """Generate token by token, yielding the growing result after every step (the steps' top
    candidates get their texts on the last one).

    A request's `forced_ids` (a branch) are fed in one forward pass with the prompt, their
    distributions recorded like any other step; sampling continues after them for up to
    `max_new_tokens` tokens. The forwards are shared with other requests' (`scheduler`).
    """
    request = request.validated()
    text, prompt_ids = encode_prompt(lm, request.prompt, request.use_chat_template)
    lm_ops.check_fits(lm, len(prompt_ids), len(request.forced_ids) + request.max_new_tokens, what="prompt")
    stages = request.settings.controls()
    result = GenerationResult(
        model=lm.name,
        prompt=text,
        prompt_tokens=lm_ops.token_texts(lm.tokenizer, prompt_ids),
        prompt_token_ids=list(prompt_ids),
        stages=_stage_names(stages),
    )
    sequence = Sequence(
        prompt_ids,
        stages,
        forced_ids=request.forced_ids,
        max_new_tokens=request.max_new_tokens,
        do_sample=request.settings.do_sample,
        seed=request.seed,
        eos_ids=_eos_ids(lm),
        top_n=top_n,
    )
    segmenter = Segmenter()
    started = time.perf_counter()
    for pick in scheduler.decode(lm, sequence):
        result.steps.append(_step(lm, pick))
        segmenter.add(token_bytes(lm.tokenizer, [pick.token_id], skip_special=True)[0])
        if pick.forced:
            continue
        result.segments = segmenter.segments
        result.finish_reason = pick.finish or "length"
        if pick.finish:
            _name(lm, [candidate for step in result.steps for candidate in step.top])
        _update_timing_and_text(lm, result, started, decode=pick.finish is not None)
        yield result


def _update_timing_and_text(lm: LoadedModel, result: GenerationResult, started: float, decode: bool) -> None:
    """Timing after every step; the text once, at the end (decoding it every step would cost O(n²))."""
    if decode:
        result.text = lm.tokenizer.decode([s.token_id for s in result.steps], skip_special_tokens=True)
    result.seconds = time.perf_counter() - started
    result.tokens_per_second = len(result.steps) / result.seconds if result.seconds > 0 else 0.0


def generate(lm: LoadedModel, request: GenerationRequest, *, top_n: int = 10) -> GenerationResult:
    """The whole generation at once (the last of `stream_generation`'s results)."""
    *_, last = stream_generation(lm, request, top_n=top_n)
    return last


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
    lm_ops.check_fits(lm, len(prompt_ids), 1, what="prompt")
    stages = settings.controls(sampling=True)
    (pick,) = scheduler.decode(lm, Sequence(prompt_ids, stages, top_n=top_n))  # a peek: no token picked
    numbers = pick.numbers  # its candidates ranked by raw probability
    return NextTokenResult(
        model=lm.name,
        prompt=text,
        prompt_tokens=lm_ops.token_texts(lm.tokenizer, prompt_ids),
        stages=_stage_names(stages),
        candidates=_name(lm, _candidates(numbers.top_ids, numbers.top_probs)),
        entropy_raw=numbers.entropy_raw,
        entropy=numbers.entropy,
    )
