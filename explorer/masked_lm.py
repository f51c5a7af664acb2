"""Fill in the blank: BERT's cloze objective, and how it differs from GPT's left-to-right prediction.

Three computations, all on real models:

* **masked-lm** — a masked LM (BERT, RoBERTa, …) reads the whole sentence with its own mask
  token in every blank and predicts every blank in the same forward pass, each independently.
* **causal-rescoring** — with only a causal model at hand (offline: the bundled SmolLM2), the
  blank is filled by proposing candidate words (from the left context's next-token distribution
  and from the instruct model asked to fill the blank) and ranking each complete sentence by the
  causal model's log-likelihood, so that the words *after* the blank count too.
* **left-only** — what a left-to-right model predicts from the words before the blank alone:
  the contrast the lecture is about ("[MASK] is the largest planet": the left side says nothing).

`corrupt` is BERT's training-time corruption: ~15% of the tokens, 80% masked / 10% random / 10% kept.
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass, field
from typing import Literal

import torch

from . import checks, models
from .checks import ExplorerError
from .models import LoadedModel, Progress

Method = Literal["auto", "masked-lm", "causal-rescoring"]
METHODS = ("auto", "masked-lm", "causal-rescoring")

MASK_PATTERN = re.compile(r"\[mask\]", re.IGNORECASE)  # what the user types, whatever the model's own mask token is
MAX_MASKS = 5
MAX_TOP_K = 50
MAX_FILL_CHARS = 600  # a sentence or two: causal rescoring scores ~20 copies of the text per blank
MAX_DEMO_CHARS = 5_000
DEMO_PLACEHOLDER = "[MASK]"  # shown where a tokenizer without a mask token would put one

MIN_CANDIDATES_PER_SOURCE = 10  # each source proposes max(this, top_k) words per blank
WORD_PIECES = 3  # a proposed word is completed greedily with at most this many more tokens
HEAD_CHUNK = 512  # rows of the LM head computed at once while scoring: bounds the logits' memory
FILL_INSTRUCTION = (
    'Fill in the blank (___) in this sentence with one word and write the whole sentence.\nSentence: "{sentence}"'
)
ANSWER_START = "Filled in:"  # the answer is written up to the blank for the model, which then names the word
FILL_SYSTEM = "You fill in blanks in sentences with one word."


@dataclass
class Filler:
    token: str  # the word (or word piece) as text
    prob: float  # masked-lm: the model's probability; causal-rescoring: renormalised over the candidates
    logprob: float  # masked-lm: log p(token); causal-rescoring: the whole sentence's log-likelihood
    source: str  # "masked-lm" | "left context" | "instruct" | "left context + instruct"


@dataclass
class MaskPrediction:
    index: int  # 0-based order of the mask in the text
    candidates: list[Filler]  # uses both sides of the blank, most likely first
    left_only: list[Filler]  # a left-to-right model's next word from the left context alone
    left_context: str  # exactly what the left-only prediction saw


@dataclass
class FillMaskResult:
    model: str
    method: str  # "masked-lm" | "causal-rescoring"
    masks: list[MaskPrediction]
    filled: str  # the text with every blank filled by its best candidate
    left_only_model: str  # the causal model behind `left_only`
    left_only_filled: str  # the text filled left to right, each blank from its left context only
    note: str  # what ran, in one or two plain sentences
    candidates_scored: int  # causal-rescoring: complete sentences scored in one batched forward
    seconds: float


@dataclass
class CorruptionResult:
    tokens: list[str]
    corrupted: list[str]
    positions: list[int]  # the ~15% of positions chosen, ascending
    actions: list[str]  # per chosen position: "mask" | "random" | "keep"
    model: str  # whose tokenizer split the text
    mask_token: str  # what a masked position shows
    note: str
    seed: int
    replaced_by: list[str] = field(default_factory=list)  # per chosen position: what the model sees there


# ---------------------------------------------------------------- input checks


def check_fill_text(text) -> tuple[str, list[re.Match]]:
    text = checks.text(text, "text", MAX_FILL_CHARS)
    masks = list(MASK_PATTERN.finditer(text))
    if not masks:
        hint = (
            " (write [MASK], not <mask>: the app uses each model's own mask token for you)" if "<mask>" in text else ""
        )
        raise ExplorerError(
            f"The text has no [MASK]{hint}. Put [MASK] where the missing word goes, "
            "e.g. 'The capital of France is [MASK].'"
        )
    if len(masks) > MAX_MASKS:
        raise ExplorerError(f"The text has {len(masks)} [MASK]s; the limit is {MAX_MASKS}. Remove some.")
    if not any(ch.isalnum() for ch in MASK_PATTERN.sub("", text)):
        raise ExplorerError("The text is only [MASK]s: write some words around the blank so there is context to use.")
    return text, masks


def check_top_k(top_k) -> int:
    return checks.number(top_k, "top_k", 1, MAX_TOP_K, integer=True)


def check_method(method) -> str:
    if method not in METHODS:
        raise ExplorerError(f"method must be one of {', '.join(METHODS)}; got {str(method)[:40]!r}.")
    return method


def pick_model(model: str, method: str) -> tuple[str, str]:
    """(registry name, method actually run) for a user's `model` and `method`."""
    model = model.strip() if isinstance(model, str) else model
    if not model:
        if method == "masked-lm":
            models.resolve("", "masked")  # explains that no masked LM is available here
        masked = models.default_model("masked") if method == "auto" else None
        if masked:
            return masked, "masked-lm"
        return models.default_model("causal"), "causal-rescoring"
    spec = models.resolve(model)
    if method == "masked-lm" and spec.kind != "masked":
        raise ExplorerError(
            f"{spec.name} is a causal (left-to-right) model: it has no mask token, so it cannot run masked-lm. "
            f"Pick a masked LM ({', '.join(s.name for s in models.REGISTRY.values() if s.kind == 'masked')}) "
            "or the method causal-rescoring."
        )
    if method == "causal-rescoring" and spec.kind != "causal":
        raise ExplorerError(
            f"causal-rescoring needs a causal model; {spec.name} is a masked LM. "
            f"Pick {models.BUNDLED_NAME} or the method masked-lm."
        )
    return spec.name, "masked-lm" if spec.kind == "masked" else "causal-rescoring"


# ---------------------------------------------------------------- text around the blanks


def fill_text(text: str, words: list[str]) -> str:
    """`text` with its i-th [MASK] replaced by words[i]."""
    replacements = iter(words)
    return MASK_PATTERN.sub(lambda _: next(replacements), text)


def _prefix_and_space(left: str) -> tuple[str, bool]:
    """The text a model continues from, and whether the blank's word follows a space: "is [MASK]"
    is fed as "is" and its word sought among tokens with a leading space (" Paris")."""
    after_space = bool(left.strip()) and left[-1:].isspace()
    return (left.rstrip() if after_space else left), after_space


# ---------------------------------------------------------------- masked-lm: one forward, every blank


def masked_lm_predictions(lm: LoadedModel, text: str, top_k: int) -> list[list[Filler]]:
    """Every blank's top-k from one forward pass, with the model's own mask token in each blank."""
    tokenizer = lm.tokenizer
    if tokenizer.mask_token is None:
        raise ExplorerError(f"{lm.name} has no mask token, so it cannot run masked-lm. Pick a masked LM.")
    model_text = MASK_PATTERN.sub(tokenizer.mask_token, text)
    encoded = tokenizer(model_text, return_tensors="pt")
    n_tokens = encoded["input_ids"].shape[1]
    if n_tokens > lm.context_length:
        raise ExplorerError(
            f"The text is {n_tokens:,} tokens; {lm.name} reads at most {lm.context_length:,}. Shorten it."
        )
    positions = (encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten()
    expected = len(MASK_PATTERN.findall(text))
    if len(positions) != expected:
        raise ExplorerError(
            f"The text already contains {lm.name}'s own mask token {tokenizer.mask_token!r}; "
            "write [MASK] for every blank and nothing else."
        )
    with torch.inference_mode():
        logits = lm.model(**encoded).logits[0, positions]
    log_probs = logits.float().log_softmax(-1)
    top = log_probs.topk(top_k, dim=-1)
    return [
        [
            Filler(tokenizer.decode([int(i)]).strip(), math.exp(float(lp)), float(lp), "masked-lm")
            for lp, i in zip(values, indices)
        ]
        for values, indices in zip(top.values, top.indices)
    ]


# ---------------------------------------------------------------- causal: proposing words


def start_ids(tokenizer) -> list[int]:
    """The token a document starts with, so that a causal LM's first word is predicted like any other.

    GPT-2, SmolLM2 and Qwen separate their pretraining documents with <|endoftext|> (SmolLM2's
    `bos_token` is the chat-turn marker <|im_start|>, which predicts chat text), so it comes first;
    then the tokenizer's BOS (unless it adds it itself), then its EOS.
    """
    separator = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    if separator is not None and tokenizer.convert_ids_to_tokens(separator) == "<|endoftext|>":  # not the unknown token
        return [separator]
    if tokenizer.bos_token_id is not None:
        added = tokenizer("a")["input_ids"][:1] == [tokenizer.bos_token_id]
        return [] if added else [tokenizer.bos_token_id]
    return [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []


def _starts_word(piece_text: str, after_space: bool) -> bool:
    if after_space:
        return piece_text[:1] == " " and piece_text[1:2].isalnum()
    return piece_text[:1].isalnum()


def _continues_word(piece_text: str) -> bool:
    return piece_text[:1].isalnum()


def next_words(lm: LoadedModel, prefix_ids: list[int], n: int, after_space: bool) -> list[tuple[str, float]]:
    """The n most likely next *words* after `prefix_ids`, each with its probability.

    A word is a first token that starts a word, completed greedily by up to WORD_PIECES tokens
    that continue it (" Jup" + "iter"); its probability is the product along the way. The prefix
    runs once; the n words continue from copies of its KV cache, one batched step per piece.
    """
    tokenizer = lm.tokenizer
    with torch.inference_mode():
        out = lm.model(input_ids=torch.tensor([prefix_ids]), use_cache=True, logits_to_keep=1)
        probs = out.logits[0, -1].float().softmax(-1)
        order = probs.argsort(descending=True)[: 40 * n].tolist()
        special = set(tokenizer.all_special_ids)
        firsts = [i for i in order if i not in special and _starts_word(tokenizer.decode([i]), after_space)][:n]
        if not firsts:
            return []
        cache = out.past_key_values
        cache.batch_repeat_interleave(len(firsts))
        pieces = [[i] for i in firsts]
        word_probs = [float(probs[i]) for i in firsts]
        open_words = [True] * len(firsts)
        step_ids = torch.tensor([[i] for i in firsts])
        for _ in range(WORD_PIECES):
            out = lm.model(input_ids=step_ids, past_key_values=cache, use_cache=True)
            step_probs = out.logits[:, -1].float().softmax(-1)
            best = step_probs.argmax(-1).tolist()
            for row, token_id in enumerate(best):
                if open_words[row] and _continues_word(tokenizer.decode([token_id])):
                    pieces[row].append(token_id)
                    word_probs[row] *= float(step_probs[row, token_id])
                else:
                    open_words[row] = False
            if not any(open_words):
                break
            cache = out.past_key_values
            step_ids = torch.tensor([[i] for i in best])
    words: dict[str, float] = {}
    for ids, prob in zip(pieces, word_probs):
        word = tokenizer.decode(ids).strip()
        words[word] = max(prob, words.get(word, 0.0))
    return sorted(words.items(), key=lambda item: -item[1])


def left_only_predictions(
    lm: LoadedModel, text: str, masks: list[re.Match], n: int
) -> tuple[list[list[Filler]], list[str]]:
    """GPT's view: each blank from the words before it, earlier blanks filled by its own best guess."""
    predictions, contexts, guesses = [], [], []
    for index, mask in enumerate(masks):
        left = fill_text(text[: mask.start()], guesses)
        prefix, after_space = _prefix_and_space(left)
        ids = start_ids(lm.tokenizer) + lm.tokenizer(prefix, add_special_tokens=False)["input_ids"]
        words = next_words(lm, ids, n, after_space)
        predictions.append([Filler(w, p, math.log(p) if p > 0 else -math.inf, "left context") for w, p in words])
        contexts.append(left)
        guesses.append(words[0][0] if words else "…")
    return predictions, contexts


def instruct_words(lm: LoadedModel, text: str, masks: list[re.Match], index: int, n: int) -> list[str]:
    """The instruct model shown the whole sentence (blank `index` as ___, the others as …) and asked to
    fill it; its answer is started for it up to the blank, so its next word is its filler."""
    shown = fill_text(text, ["___" if i == index else "…" for i in range(len(masks))])
    left = fill_text(text[: masks[index].start()], ["…"] * index)
    prefix, after_space = _prefix_and_space(left)
    answer = ANSWER_START + (" " + prefix if prefix else "")
    after_space = after_space or not prefix  # "Filled in: Jupiter": a word after a space is mostly one token
    question = FILL_INSTRUCTION.format(sentence=shown)
    tokenizer = lm.tokenizer
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": FILL_SYSTEM}, {"role": "user", "content": question}]
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    else:
        ids = start_ids(tokenizer) + tokenizer(question + "\n", add_special_tokens=False)["input_ids"]
    ids += tokenizer(answer, add_special_tokens=False)["input_ids"]
    return [word for word, _ in next_words(lm, ids, n, after_space)]


# ---------------------------------------------------------------- causal: scoring complete sentences


def sentence_logprobs(lm: LoadedModel, sentences: list[str]) -> list[float]:
    """log p(sentence) under the causal model for every sentence, in ONE padded batched forward.

    Right padding needs no attention mask: a causal model's real tokens never look at the pads
    after them. The transformer runs once on the whole batch; only the LM head (vocabulary-wide
    logits) runs in chunks of the real positions, to bound memory.
    """
    tokenizer = lm.tokenizer
    start = start_ids(tokenizer)
    encoded = [start + tokenizer(s, add_special_tokens=False)["input_ids"] for s in sentences]
    longest = max(len(ids) for ids in encoded)
    if longest > lm.context_length:
        raise ExplorerError(
            f"The text is {longest:,} tokens; {lm.name} reads at most {lm.context_length:,}. Shorten it."
        )
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.tensor([ids + [pad] * (longest - len(ids)) for ids in encoded])
    real = torch.tensor([[j < len(ids) for j in range(longest)] for ids in encoded])
    predicts = real[:, 1:]  # position j predicts token j+1, if that token is real
    with torch.inference_mode():
        hidden = lm.model.base_model(input_ids=input_ids).last_hidden_state[:, :-1][predicts]
        targets = input_ids[:, 1:][predicts]
        head = lm.model.get_output_embeddings()
        token_logprobs = torch.cat(
            [
                head(hidden[i : i + HEAD_CHUNK])
                .float()
                .log_softmax(-1)
                .gather(1, targets[i : i + HEAD_CHUNK, None])[:, 0]
                for i in range(0, len(targets), HEAD_CHUNK)
            ]
        )
    rows = torch.arange(len(sentences))[:, None].expand_as(predicts)[predicts]
    totals = torch.zeros(len(sentences), dtype=torch.float64).index_add_(0, rows, token_logprobs.double())
    return totals.tolist()


def rescore(
    lm: LoadedModel, text: str, proposals: list[dict[str, set[str]]], provisional: list[str]
) -> tuple[list[list[Filler]], int]:
    """Rank every blank's proposed words by the log-likelihood of the complete sentence they make
    (the other blanks hold their provisional word); probabilities renormalised per blank."""
    jobs = [(index, word) for index, words in enumerate(proposals) for word in words]
    sentences = [
        fill_text(text, [word if i == index else provisional[i] for i in range(len(proposals))]) for index, word in jobs
    ]
    scores = sentence_logprobs(lm, sentences)
    ranked = []
    for index, words in enumerate(proposals):
        scored = [(scores[j], word) for j, (i, word) in enumerate(jobs) if i == index]
        norm = torch.tensor([s for s, _ in scored], dtype=torch.float64).logsumexp(0).item()
        fillers = [Filler(word, math.exp(s - norm), s, " + ".join(sorted(words[word]))) for s, word in scored]
        ranked.append(sorted(fillers, key=lambda f: -f.logprob))
    return ranked, len(sentences)


def causal_rescoring(
    lm: LoadedModel, text: str, masks, left_only: list[list[Filler]], n: int, progress: Progress
) -> tuple[list[list[Filler]], int, list[str]]:
    """(ranked words per blank, sentences scored, the word each blank held while the others were scored)."""
    proposals: list[dict[str, set[str]]] = []
    provisional = []
    for index in range(len(masks)):
        progress(0.3 + 0.4 * index / len(masks), f"Asking the instruct model to fill blank {index + 1}")
        asked = instruct_words(lm, text, masks, index, n)
        words: dict[str, set[str]] = {}
        for filler in left_only[index]:
            words.setdefault(filler.token, set()).add("left context")
        for word in asked:
            words.setdefault(word, set()).add("instruct")
        proposals.append(words)
        provisional.append(asked[0] if asked else (left_only[index][0].token if left_only[index] else "…"))
    progress(0.75, f"Scoring {sum(len(w) for w in proposals)} complete sentences in one batch")
    ranked, scored = rescore(lm, text, proposals, provisional)
    return ranked, scored, provisional


# ---------------------------------------------------------------- the endpoint's computation


def fill_mask(
    text: str,
    model: str = "",
    top_k: int = 10,
    method: Method = "auto",
    progress: Progress | None = None,
) -> FillMaskResult:
    """Fill every [MASK] in `text` with the chosen (or best available) method, and show beside it
    what a left-to-right model predicts from the left context only."""
    progress = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    text, masks = check_fill_text(text)
    top_k = check_top_k(top_k)
    name, method = pick_model(model, check_method(method))
    lm = models.get(name, progress=progress)
    causal = lm if method == "causal-rescoring" else models.get("", "causal", progress=progress)
    result = fill(lm, causal, text, top_k, progress)
    result.seconds = time.perf_counter() - started
    return result


def fill(
    lm: LoadedModel, causal: LoadedModel, text: str, top_k: int = 10, progress: Progress | None = None
) -> FillMaskResult:
    """Fill with `lm` (masked-lm if it has a mask token, else causal rescoring); `causal` gives the
    left-only contrast."""
    progress = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    text, masks = check_fill_text(text)
    top_k = check_top_k(top_k)
    n = max(MIN_CANDIDATES_PER_SOURCE, top_k)
    progress(0.1, "Left-to-right prediction from the left context only")
    left_only, contexts = left_only_predictions(causal, text, masks, n)
    if lm.tokenizer.mask_token is not None:
        method = "masked-lm"
        progress(0.5, f"{lm.name}: one forward pass for all {len(masks)} blank(s)")
        candidates, scored = masked_lm_predictions(lm, text, top_k), 0
        note = (
            f"masked-lm: {lm.name} read the whole sentence with its mask token {lm.tokenizer.mask_token} in each blank "
            "and predicted every blank in one forward pass, each blank independently of the others."
        )
    else:
        method = "causal-rescoring"
        candidates, scored, provisional = causal_rescoring(lm, text, masks, left_only, n, progress)
        note = (
            f"causal-rescoring: no masked LM is used, so {lm.name} (a left-to-right model) proposed words "
            "from the left context and when asked to fill the blank, then ranked the complete sentences by their "
            f"likelihood ({scored} sentences scored in one batch), so the words after the blank count too. "
            "Probabilities are renormalised over the words scored."
        )
        if len(masks) > 1:
            note += (
                " With several blanks, each blank was scored on its own while the others held the instruct "
                f"model's first guess ({', '.join(provisional)}), as BERT predicts each blank independently."
            )
    progress(1.0, "Done")
    masks_out = [
        MaskPrediction(index, candidates[index][:top_k], left_only[index][:top_k], contexts[index])
        for index in range(len(masks))
    ]
    return FillMaskResult(
        model=lm.name,
        method=method,
        masks=masks_out,
        filled=fill_text(text, [m.candidates[0].token if m.candidates else "…" for m in masks_out]),
        left_only_model=causal.name,
        left_only_filled=_left_only_filled(text, masks_out),
        note=note,
        candidates_scored=scored,
        seconds=time.perf_counter() - started,
    )


def _left_only_filled(text: str, masks: list[MaskPrediction]) -> str:
    return fill_text(text, [m.left_only[0].token if m.left_only else "…" for m in masks])


# ---------------------------------------------------------------- BERT's corruption (80/10/10)


def corrupt(lm: LoadedModel, text: str, seed: int = 0, rate: float = 0.15) -> CorruptionResult:
    """BERT's masked-LM corruption, as in google-research/bert's create_pretraining_data.py:
    exactly round(15%) of the positions (at least one), shuffled with the seed; each chosen token
    becomes the mask token 80% of the time, a random token 10%, stays itself 10%.

    Written by hand because transformers' DataCollatorForLanguageModeling draws a Bernoulli per
    token (a short sentence may get none) and does not report what it did at each position.
    """
    text = checks.text(text, "text", MAX_DEMO_CHARS)
    seed = checks.seed(seed)
    tokenizer = lm.tokenizer
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ExplorerError("The text gives no tokens; type a sentence.")
    tokens = [tokenizer.decode([i]) for i in ids]
    mask_token = tokenizer.mask_token or DEMO_PLACEHOLDER
    rng = random.Random(seed)
    positions = list(range(len(ids)))
    rng.shuffle(positions)
    chosen = sorted(positions[: max(1, round(len(ids) * rate))])
    special = set(tokenizer.all_special_ids)
    corrupted, actions, replaced = list(tokens), [], []
    for position in chosen:
        if rng.random() < 0.8:
            action, shown = "mask", mask_token
        elif rng.random() < 0.5:
            action, shown = "keep", tokens[position]
        else:
            action, shown = "random", tokenizer.decode([_random_token(rng, len(tokenizer), special)])
        corrupted[position] = shown
        actions.append(action)
        replaced.append(shown)
    if tokenizer.mask_token:
        note = f"Split by {lm.name}'s own tokenizer; masked positions get its mask token {mask_token}."
    else:
        note = (
            f"No masked LM is available here, so the text is split by {lm.name}'s tokenizer, which has no mask "
            f"token: {DEMO_PLACEHOLDER} marks where BERT would put its mask token. The 80/10/10 rule is the same."
        )
    return CorruptionResult(tokens, corrupted, chosen, actions, lm.name, mask_token, note, seed, replaced)


def _random_token(rng: random.Random, vocab_size: int, special: set[int]) -> int:
    while True:
        token_id = rng.randrange(vocab_size)
        if token_id not in special:
            return token_id


def mask_demo(text: str, model: str = "", seed: int = 0, progress: Progress | None = None) -> CorruptionResult:
    """The corruption on the masked LM's tokenizer when one is available, else on the bundled one."""
    if isinstance(model, str) and not model.strip():
        model = models.default_model("masked") or models.default_model("causal")
    return corrupt(models.get(model, progress=progress), text, seed)
