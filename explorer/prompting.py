"""In-context learning: templates, verbalizers, k demonstrations and label scoring.

A prompt is an optional instruction, k demonstrations laid out by the *template*, then the
query laid out the same way up to its label slot. Each label is scored by the log-probability
of its *verbalizer* word after the prompt: `prompt + continuation` is tokenised as one string
and the log-probs of the tokens after the prompt's are summed. The continuation is the
template's whitespace before `{label}` plus the verbalizer (" positive"), so the prompt never
ends in a dangling space that a BPE tokenizer would split off.

Speed: the labels share the prompt, so it runs once and every continuation is scored from its
KV cache in one batched forward. A sweep goes further: all queries of one draw share the
demonstrations, so that prefix runs once per draw. Reuse is checked on token ids, so the
numbers are exactly those of scoring each full string on its own.

Calibration follows Zhao et al. (2021), "Calibrate Before Use": the label distribution the
model gives to content-free queries ("N/A", "", "[MASK]") estimates its bias; dividing by it
(and renormalising) is the diagonal W = diag(p_cf)^-1 of the paper.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from . import checks
from .checks import ExplorerError
from .datasets import Example, Task, load_task
from .models import LoadedModel, Progress

CONTENT_FREE = ("N/A", "", "[MASK]")
MAX_SHOTS = 32
MAX_QUERY_CHARS = 2_000
MAX_CUSTOM_EXAMPLES = 200
MAX_SHOT_COUNTS = 8
MAX_REPEATS = 10
MAX_ITEMS = 100
MAX_SWEEP_QUERIES = 2_000  # shot counts x draws x items: a few minutes on 2 cores at most
MAX_NEW_TOKENS = 8  # generation tasks: answers are a word or two
BATCH_SIZE = 16  # queries scored per forward in a sweep; bounds the KV cache copies in memory
DEFAULT_SHOTS = (0, 1, 2, 4, 8)
CUSTOM = "custom"


# ----------------------------------------------------------------------------- tasks


def configure(
    task: Task,
    template: str = "",
    verbalizers: str = "",
    instruction: str | None = None,
) -> Task:
    """`task` with the user's template, verbalizer words and instruction ('' keeps the task's).

    `verbalizers` is one `label: word` pair per line (or comma-separated).
    """
    changes = {}
    if template.strip():
        changes["template"] = template
    if instruction is not None:
        changes["instruction"] = instruction.strip()
    if verbalizers.strip() and task.kind == "classification":
        pairs = parse_verbalizers(verbalizers)
        unknown = [label for label, _ in pairs if label not in task.labels]
        missing = [label for label in task.labels if label not in dict(pairs)]
        if unknown or missing:
            raise ExplorerError(
                f"Verbalizers must give one word for each label of {task.name!r}: "
                f"{', '.join(task.labels)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + "."
            )
        words = dict(pairs)
        changes["verbalizers"] = tuple(words[label] for label in task.labels)
    configured = dataclasses.replace(task, **changes)
    validate(configured)
    return configured


def custom_task(verbalizers: str, examples: str, template: str = "", instruction: str = "") -> Task:
    """A task pasted by the user: `label: word` lines and `text => label` demonstration lines."""
    pairs = parse_verbalizers(verbalizers)
    labels = tuple(label for label, _ in pairs)
    template = template if template.strip() else "Input: {text}\nLabel: {label}"
    validate(Task(CUSTOM, "classification", "", template, (), labels, tuple(word for _, word in pairs)))
    items = []
    for number, line in enumerate(examples.splitlines(), 1):
        if not line.strip():
            continue
        text, arrow, label = line.rpartition("=>")
        if not arrow or not text.strip():
            raise ExplorerError(f"Demonstration line {number} ({line.strip()[:40]!r}) must read 'text => label'.")
        if label.strip() not in labels:
            raise ExplorerError(
                f"Demonstration line {number} has label {label.strip()!r}; the labels are {', '.join(labels)}."
            )
        items.append(Example(text.strip(), label.strip()))
    if len(items) > MAX_CUSTOM_EXAMPLES:
        raise ExplorerError(f"{len(items)} demonstrations given; the limit is {MAX_CUSTOM_EXAMPLES}.")
    task = Task(
        CUSTOM,
        "classification",
        instruction.strip(),
        template,
        tuple(items),
        labels,
        tuple(word for _, word in pairs),
    )
    validate(task)
    return task


def parse_verbalizers(spec: str) -> list[tuple[str, str]]:
    """'positive: great, negative: terrible' -> [('positive', 'great'), ('negative', 'terrible')]."""
    entries = [part for line in spec.splitlines() for part in line.split(",") if part.strip()]
    pairs = []
    for entry in entries:
        label, colon, word = entry.partition(":")
        if not colon:
            word = label  # a bare word is its own label
        pairs.append((label.strip(), word.strip()))
    return pairs


def validate(task: Task) -> None:
    """Raise ExplorerError unless the template and (for classification) the verbalizer are usable."""
    for slot in ("{text}", "{label}"):
        if task.template.count(slot) != 1:
            raise ExplorerError(
                f"The template must contain {slot} exactly once, e.g. 'Review: {{text}}\\nSentiment: {{label}}'."
            )
    if task.template.index("{text}") > task.template.index("{label}"):
        raise ExplorerError(
            "In the template, {text} must come before {label}: the model reads the input, then says the label."
        )
    if task.kind != "classification":
        return
    if len(task.labels) < 2:
        raise ExplorerError(
            f"A classification task needs at least 2 labels; got {len(task.labels)}: {', '.join(task.labels) or 'none'}."
        )
    if any(not label for label in task.labels) or len(set(task.labels)) != len(task.labels):
        raise ExplorerError(f"Labels must be distinct and non-empty; got {', '.join(map(repr, task.labels))}.")
    if any(not word for word in task.verbalizers):
        empty = [label for label, word in zip(task.labels, task.verbalizers) if not word]
        raise ExplorerError(f"The verbalizer word for {', '.join(empty)} is empty; give each label a word.")
    if len(set(task.verbalizers)) != len(task.verbalizers):
        raise ExplorerError(
            f"Verbalizer words must differ, or the model cannot tell the labels apart; got {', '.join(task.verbalizers)}."
        )


def verbalizer_of(task: Task, example: Example) -> str:
    if task.kind == "classification":
        return task.verbalizers[task.label_index(example.label)]
    return example.label


# ----------------------------------------------------------------------------- prompts


@dataclass(frozen=True)
class Prompt:
    text: str  # exactly what the model reads
    continuations: tuple[str, ...]  # one per label (or the expected answer for generation)
    chat: bool  # a chat-template prompt: its special tokens are in `text` already


def draw_demonstrations(pool: Sequence[Example], k: int, seed: int) -> list[Example]:
    """k demonstrations in random order, the same for the same seed."""
    if k > len(pool):
        raise ExplorerError(
            f"shots = {k} but only {len(pool)} demonstrations are available; allowed: 0 to {len(pool)}."
        )
    return random.Random(seed).sample(list(pool), k)


def _fill(template: str, text: str, label: str) -> str:
    return template.replace("{text}", text).replace("{label}", label)  # not str.format: user text may hold braces


def _query_head(template: str, text: str) -> tuple[str, str]:
    """The query laid out up to its label slot, split into (prompt end, whitespace before the label)."""
    head = _fill(template[: template.index("{label}")], text, "")
    stripped = head.rstrip()
    return stripped, head[len(stripped) :]


def build_prompt(task: Task, demos: Sequence[Example], query: str, tokenizer=None, chat: bool = False) -> Prompt:
    """The exact prompt and the continuation to score for each label."""
    head, gap = _query_head(task.template, query)
    answers = list(task.verbalizers) if task.kind == "classification" else []
    if not chat:
        blocks = ([task.instruction] if task.instruction else []) + [
            _fill(task.template, demo.text, verbalizer_of(task, demo)) for demo in demos
        ]
        text = "".join(block + "\n\n" for block in blocks) + head
        return Prompt(text, tuple(gap + word for word in answers), chat=False)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ExplorerError("This model has no chat template; turn the chat template off.")
    messages = [{"role": "system", "content": task.instruction}] if task.instruction else []
    for demo in demos:
        messages.append({"role": "user", "content": _query_head(task.template, demo.text)[0]})
        messages.append({"role": "assistant", "content": verbalizer_of(task, demo)})
    messages.append({"role": "user", "content": head})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return Prompt(text, tuple(answers), chat=True)


def encode(tokenizer, text: str, chat: bool) -> list[int]:
    """Token ids; a chat prompt already spells its special tokens, a plain one gets the tokenizer's."""
    return tokenizer(text, add_special_tokens=not chat)["input_ids"]


# ----------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Prefix:
    """A forward already run: its token ids, KV cache and the log-probs of the next token."""

    ids: tuple[int, ...]
    kv: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    next_logprobs: torch.Tensor  # (vocab,)


def _cache(lm: LoadedModel, kv, batch: int = 1) -> DynamicCache | None:
    if not kv:
        return None
    # expand() views cost nothing; the cache concatenates new keys into fresh tensors,
    # so the Prefix itself is never modified and can be reused.
    data = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv]
    return DynamicCache(ddp_cache_data=data, config=lm.model.config)


@torch.inference_mode()
def extend(lm: LoadedModel, ids: Sequence[int], prefix: Prefix | None = None) -> Prefix:
    """Run `ids` (reusing `prefix` when its ids start them) and keep the cache."""
    ids = tuple(ids)
    if prefix is not None and (len(prefix.ids) > len(ids) or ids[: len(prefix.ids)] != prefix.ids):
        prefix = None
    if prefix is not None and len(prefix.ids) == len(ids):
        return prefix
    done = prefix.ids if prefix else ()
    new = torch.tensor([ids[len(done) :]])
    out = lm.model(input_ids=new, past_key_values=_cache(lm, prefix.kv if prefix else ()), use_cache=True)
    kv = tuple((layer.keys, layer.values) for layer in out.past_key_values.layers)
    return Prefix(ids, kv, torch.log_softmax(out.logits[0, -1].float(), -1))


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class ContinuationScore:
    logprob: float  # sum over the continuation's tokens
    tokens: tuple[str, ...]
    token_logprobs: tuple[float, ...]


@dataclass(frozen=True)
class _Tokenised:
    fulls: list[list[int]]  # prompt + continuation, tokenised as one string, per continuation
    starts: list[int]  # where each continuation's tokens begin
    head: tuple[int, ...]  # the ids all continuations share: what one forward of the prompt covers


def _tokenise(tokenizer, prompt: Prompt) -> _Tokenised:
    prompt_ids = encode(tokenizer, prompt.text, prompt.chat)
    fulls = [encode(tokenizer, prompt.text + c, prompt.chat) for c in prompt.continuations]
    starts = [_common_length(full, prompt_ids) for full in fulls]
    for start, full, continuation in zip(starts, fulls, prompt.continuations):
        if start == 0 or start >= len(full):
            raise ExplorerError(
                f"The continuation {continuation!r} adds no token after the prompt; change the verbalizer or template."
            )
    shared = min(starts, default=len(prompt_ids))
    return _Tokenised(fulls, starts, tuple((fulls[0] if fulls else prompt_ids)[:shared]))


def score_continuations(
    lm: LoadedModel, prompt: Prompt, prefix: Prefix | None = None
) -> tuple[list[ContinuationScore], Prefix]:
    """Log-probability of each continuation after the prompt, sharing one forward of the prompt.

    Returns the scores and the prompt's Prefix (for generation or reuse).
    """
    return _score(lm, _tokenise(lm.tokenizer, prompt), prefix)


@torch.inference_mode()
def _score(lm: LoadedModel, tokenised: _Tokenised, prefix: Prefix | None) -> tuple[list[ContinuationScore], Prefix]:
    head = extend(lm, tokenised.head, prefix)
    if not tokenised.fulls:
        return [], head
    # Each continuation's tokens after the shared part; its last token needs no forward of its own.
    shared = len(tokenised.head)
    tails = [full[shared:] for full in tokenised.fulls]
    width = max(len(t) for t in tails) - 1
    tail_logprobs = None
    if width > 0:
        pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
        batch = torch.tensor([t[:-1] + [pad] * (width - len(t) + 1) for t in tails])
        # Right padding needs no mask: causal attention never lets a real token see a pad after it.
        out = lm.model(input_ids=batch, past_key_values=_cache(lm, head.kv, len(tails)), use_cache=False)
        tail_logprobs = torch.log_softmax(out.logits.float(), -1)
    scores = []
    for i, (tail, start) in enumerate(zip(tails, tokenised.starts)):
        offset = start - shared  # tokens of this tail that still belong to the prompt
        picked = [
            float((head.next_logprobs if j == 0 else tail_logprobs[i, j - 1])[tail[j]])
            for j in range(offset, len(tail))
        ]
        tokens = tuple(lm.tokenizer.decode([t]) for t in tail[offset:])
        scores.append(ContinuationScore(sum(picked), tokens, tuple(picked)))
    return scores, head


@torch.inference_mode()
def score_many(
    lm: LoadedModel, prompts: Sequence[Prompt], prefix: Prefix | None = None, batch_size: int = BATCH_SIZE
) -> list[tuple[list[ContinuationScore], Prefix]]:
    """`score_continuations` for many prompts that start with `prefix`, their remaining parts run
    `batch_size` at a time: one forward per batch instead of one per prompt, same numbers."""
    tokenised = [_tokenise(lm.tokenizer, p) for p in prompts]
    heads: list[Prefix | None] = [prefix] * len(prompts)
    if prefix is not None:
        done = len(prefix.ids)
        batchable = [i for i, t in enumerate(tokenised) if len(t.head) > done and t.head[:done] == prefix.ids]
        for chunk in (batchable[at : at + batch_size] for at in range(0, len(batchable), batch_size)):
            rows = [tokenised[i].head[done:] for i in chunk]
            width = max(map(len, rows))
            batch = torch.tensor([list(r) + [0] * (width - len(r)) for r in rows])  # right padding: never attended to
            out = lm.model(input_ids=batch, past_key_values=_cache(lm, prefix.kv, len(rows)), use_cache=True)
            layers = out.past_key_values.layers
            for row, (i, r) in enumerate(zip(chunk, rows)):
                end = done + len(r)
                kv = tuple(
                    (layer.keys[row : row + 1, :, :end], layer.values[row : row + 1, :, :end]) for layer in layers
                )
                heads[i] = Prefix(tokenised[i].head, kv, torch.log_softmax(out.logits[row, len(r) - 1].float(), -1))
    return [_score(lm, t, head) for t, head in zip(tokenised, heads)]


def shared_prefix(lm: LoadedModel, task: Task, demos: Sequence[Example], chat: bool) -> Prefix | None:
    """One forward of what every query's prompt shares for these demonstrations (instruction, demos, template start)."""
    probe = [build_prompt(task, demos, text, lm.tokenizer, chat).text for text in ("a", "b")]
    ids = encode(lm.tokenizer, os.path.commonprefix(probe), chat)[:-1]  # the last token may merge with what follows
    return extend(lm, ids) if ids else None


def normalise(logprobs: Sequence[float]) -> list[float]:
    """Softmax over the labels' log-probs: their probabilities renormalised to sum to 1."""
    top = max(logprobs)
    weights = [math.exp(lp - top) for lp in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def calibrate(probs: Sequence[float], content_free: Sequence[float]) -> list[float]:
    """Zhao et al.'s contextual calibration: divide by the content-free probabilities, renormalise."""
    weighted = [p / max(q, 1e-12) for p, q in zip(probs, content_free)]
    total = sum(weighted)
    return [w / total for w in weighted]


@torch.inference_mode()
def greedy_answer(lm: LoadedModel, head: Prefix, max_new_tokens: int = MAX_NEW_TOKENS) -> str:
    """Greedy decoding after the prompt until a newline: the answer of a generation task."""
    state, tokens = head, []
    for _ in range(max_new_tokens):
        token = int(state.next_logprobs.argmax())
        if token == lm.tokenizer.eos_token_id:
            break
        tokens.append(token)
        if "\n" in lm.tokenizer.decode(tokens):
            break
        state = extend(lm, state.ids + (token,), state)
    return lm.tokenizer.decode(tokens).split("\n")[0].strip()


def _is_correct(answer: str, expected: str) -> bool:
    return answer.strip().lower().rstrip(".") == expected.strip().lower()


# ----------------------------------------------------------------------------- one query


@dataclass
class LabelScore:
    label: str
    verbalizer: str
    logprob: float
    prob: float  # normalised over the labels
    calibrated_prob: float | None = None
    tokens: list[str] = dataclasses.field(default_factory=list)  # the scored tokens of the verbalizer


@dataclass
class IclResult:
    model: str
    task: str
    shots: int
    prompt: str
    prompt_tokens: list[str]
    labels: list[LabelScore]
    prediction: str
    n_prompt_tokens: int = 0
    context_length: int = 0
    demonstrations: list[Example] = dataclasses.field(default_factory=list)
    calibrated_prediction: str | None = None
    content_free_probs: list[float] | None = None
    expected: str | None = None  # generation tasks: the data set's answer when the query is one of its items
    seconds: float = 0.0


def resolve_task(
    task: str = "sentiment",
    template: str = "",
    verbalizers: str = "",
    instruction: str | None = None,
    custom_examples: str = "",
) -> Task:
    """A built-in task (with the user's edits) or the pasted custom task."""
    name = (task or "sentiment").strip()
    if name == CUSTOM:
        return custom_task(verbalizers, custom_examples, template, instruction or "")
    return configure(load_task(name), template, verbalizers, instruction)


def check_fits(lm: LoadedModel, task: Task, demos: Sequence[Example], query: str, chat: bool) -> Prompt:
    """The prompt, or an error saying how many shots fit the model's context."""
    prompt = build_prompt(task, demos, query, lm.tokenizer, chat)
    # Room for the answer: a continuation has at most one token per character.
    reserve = max([MAX_NEW_TOKENS] + [len(c) for c in prompt.continuations])
    limit = lm.context_length

    def length(p: Prompt) -> int:
        return len(encode(lm.tokenizer, p.text, p.chat)) + reserve

    if length(prompt) <= limit:
        return prompt
    fitting = next(
        (
            k
            for k in range(len(demos) - 1, -1, -1)
            if length(build_prompt(task, demos[:k], query, lm.tokenizer, chat)) <= limit
        ),
        None,
    )
    tokens = len(encode(lm.tokenizer, prompt.text, prompt.chat))
    advice = (
        f"at most {fitting} shots fit"
        if fitting is not None
        else "not even 0 shots fit: shorten the query or instruction"
    )
    raise ExplorerError(f"The prompt is {tokens:,} tokens, over {lm.name}'s context of {limit:,} tokens; {advice}.")


def run_icl(
    lm: LoadedModel,
    task: Task,
    query: str,
    shots: int = 4,
    seed: int = 0,
    chat: bool = False,
    calibrated: bool = True,
) -> IclResult:
    """Score one query: the exact prompt, each label's log-prob and probability, the prediction."""
    started = time.perf_counter()
    query = checks.text(query, "query", MAX_QUERY_CHARS).strip()
    shots = checks.number(shots, "shots", 0, MAX_SHOTS, integer=True)
    pool = [item for item in task.items if item.text != query]  # never show the answer as a demonstration
    demos = draw_demonstrations(pool, shots, checks.seed(seed))
    prompt = check_fits(lm, task, demos, query, chat)
    prefix = shared_prefix(lm, task, demos, chat)
    scores, head = score_many(lm, [prompt], prefix)[0]
    prompt_tokens = [lm.tokenizer.decode([t]) for t in head.ids]
    result = IclResult(
        lm.name, task.name, shots, prompt.text, prompt_tokens, [], "", len(head.ids), lm.context_length, demos
    )
    if task.kind == "generation":
        result.prediction = greedy_answer(lm, head)
        result.expected = next((item.label for item in task.items if item.text == query), None)
    else:
        probs = normalise([s.logprob for s in scores])
        result.labels = [
            LabelScore(label, word, s.logprob, p, tokens=list(s.tokens))
            for label, word, s, p in zip(task.labels, task.verbalizers, scores, probs)
        ]
        result.prediction = task.labels[max(range(len(probs)), key=probs.__getitem__)]
        if calibrated:
            content_free = content_free_probs(lm, task, demos, chat, prefix)
            fixed = calibrate(probs, content_free)
            for entry, p in zip(result.labels, fixed):
                entry.calibrated_prob = p
            result.calibrated_prediction = task.labels[max(range(len(fixed)), key=fixed.__getitem__)]
            result.content_free_probs = content_free
    result.seconds = time.perf_counter() - started
    return result


def content_free_probs(
    lm: LoadedModel, task: Task, demos: Sequence[Example], chat: bool, prefix: Prefix | None = None
) -> list[float]:
    """The label distribution for content-free queries, averaged: the model's bias in this context."""
    prompts = [build_prompt(task, demos, text, lm.tokenizer, chat) for text in CONTENT_FREE]
    per_input = [normalise([s.logprob for s in scores]) for scores, _ in score_many(lm, prompts, prefix)]
    return [statistics.fmean(column) for column in zip(*per_input)]


# ----------------------------------------------------------------------------- sweep


@dataclass
class SweepPoint:
    shots: int
    accuracy_mean: float
    accuracy_std: float
    n_items: int
    repeats: int
    calibrated_mean: float | None = None
    calibrated_std: float | None = None
    accuracies: list[float] = dataclasses.field(default_factory=list)
    calibrated_accuracies: list[float] = dataclasses.field(default_factory=list)


@dataclass
class SweepResult:
    task: str
    model: str
    points: list[SweepPoint]
    majority_baseline: float  # always answering the evaluation set's most common label
    random_baseline: float  # guessing uniformly among the labels (0 for generation)
    chat: bool = False
    seconds: float = 0.0


def parse_shots(shots_list) -> list[int]:
    """'0, 1, 2, 4, 8' (or a list) -> sorted distinct shot counts, each checked."""
    if isinstance(shots_list, str):
        parts = [p for p in shots_list.replace(";", ",").replace(" ", ",").split(",") if p.strip()]
    else:
        parts = list(shots_list or [])
    if not parts:
        raise ExplorerError("shots_list is empty; give shot counts like '0, 1, 2, 4, 8'.")
    if len(parts) > MAX_SHOT_COUNTS:
        raise ExplorerError(f"shots_list has {len(parts)} shot counts; the limit is {MAX_SHOT_COUNTS}.")
    return sorted({checks.number(p, "each shot count", 0, MAX_SHOTS, integer=True) for p in parts})


def split_items(task: Task, n_eval: int, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """Evaluation items (label-stratified, seeded) and the rest as the demonstration pool."""
    rng = random.Random(seed)
    by_label: dict[str, list[Example]] = {}
    for item in task.items:
        by_label.setdefault(item.label if task.kind == "classification" else "", []).append(item)
    for group in by_label.values():
        rng.shuffle(group)
    interleaved = [item for row in zip(*by_label.values()) for item in row]
    leftovers = [item for group in by_label.values() for item in group if item not in interleaved]
    ordered = interleaved + leftovers
    return ordered[:n_eval], ordered[n_eval:]


def sweep(
    lm: LoadedModel,
    task: Task,
    shots_list=DEFAULT_SHOTS,
    repeats: int = 3,
    max_items: int = 40,
    seed: int = 0,
    chat: bool = False,
    progress: Progress | None = None,
) -> SweepResult:
    """Accuracy versus shots over `repeats` random draws of demonstrations, with and without calibration."""
    started = time.perf_counter()
    shot_counts = parse_shots(shots_list)
    repeats = checks.number(repeats, "repeats", 1, MAX_REPEATS, integer=True)
    available = len(task.items) - max(shot_counts)
    max_items = checks.number(
        max_items,
        "max_items",
        1,
        min(MAX_ITEMS, available),
        integer=True,
        allowed=f"1 to {min(MAX_ITEMS, available)} (the task has {len(task.items)} items and the largest shot count "
        f"takes {max(shot_counts)} of them as demonstrations)",
    )
    draws = {k: 1 if k == 0 else repeats for k in shot_counts}  # 0 shots: every draw is the same prompt
    total = sum(draws.values()) * max_items
    if total > MAX_SWEEP_QUERIES:
        raise ExplorerError(
            f"This sweep scores {total:,} prompts (shot counts x repeats x items); the limit is {MAX_SWEEP_QUERIES:,}. "
            "Use fewer shot counts, repeats or items."
        )
    seed = checks.seed(seed)
    evaluation, pool = split_items(task, max_items, seed)
    done = 0
    points = []
    for k in shot_counts:
        plain, fixed = [], []
        for draw in range(draws[k]):
            demos = draw_demonstrations(pool, k, seed + 1000 * draw + k)

            def tick(message: str) -> None:
                nonlocal done
                done += 1
                if progress:
                    progress(done / total, message)

            accuracy, calibrated = _evaluate_draw(
                lm, task, demos, evaluation, chat, tick, f"{k} shots, draw {draw + 1}/{draws[k]}"
            )
            plain.append(accuracy)
            if calibrated is not None:
                fixed.append(calibrated)
        points.append(
            SweepPoint(
                k,
                statistics.fmean(plain),
                _std(plain),
                len(evaluation),
                draws[k],
                statistics.fmean(fixed) if fixed else None,
                _std(fixed) if fixed else None,
                plain,
                fixed,
            )
        )
    targets = [item.label for item in evaluation]
    majority = max(targets.count(t) for t in set(targets)) / len(targets)
    chance = 1 / len(task.labels) if task.kind == "classification" else 0.0
    return SweepResult(task.name, lm.name, points, majority, chance, chat, time.perf_counter() - started)


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _evaluate_draw(
    lm: LoadedModel, task: Task, demos, evaluation, chat: bool, tick: Callable[[str], None], label: str
) -> tuple[float, float | None]:
    """Accuracy of one draw of demonstrations on the evaluation items (and calibrated, if classification)."""
    check_fits(lm, task, demos, max(evaluation, key=lambda e: len(e.text)).text, chat)
    prefix = shared_prefix(lm, task, demos, chat)
    content_free = content_free_probs(lm, task, demos, chat, prefix) if task.kind == "classification" else None
    right = right_calibrated = 0
    for at in range(0, len(evaluation), BATCH_SIZE):
        chunk = evaluation[at : at + BATCH_SIZE]
        prompts = [build_prompt(task, demos, item.text, lm.tokenizer, chat) for item in chunk]
        for item, (scores, head) in zip(chunk, score_many(lm, prompts, prefix)):
            if task.kind == "generation":
                right += _is_correct(greedy_answer(lm, head), item.label)
            else:
                probs = normalise([s.logprob for s in scores])
                gold = task.label_index(item.label)
                right += max(range(len(probs)), key=probs.__getitem__) == gold
                fixed = calibrate(probs, content_free)
                right_calibrated += max(range(len(fixed)), key=fixed.__getitem__) == gold
            tick(label)
    n = len(evaluation)
    return right / n, (right_calibrated / n if content_free is not None else None)
