"""Language-model primitives every tab shares, and the architecture look-ups they need.

One place per idea: how a token is shown, which id pads, whether a text fits the context,
what a document starts with, where the final norm and the decoder layers are, one forward
in inference mode (a kept one for a prompt's fixed start and for a generation's prompt; searches
sharing the LM head's products are `head_rounds.py`), greedy decoding, and the log-likelihood of
whole sentences. A new architecture touches the model registry and this file only.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import torch
from torch import nn
from transformers import DynamicCache

from . import cache, i18n
from .checks import ExplorerError
from .models import LoadedModel

HEAD_CHUNK = 512  # rows of the LM head computed at once while scoring: bounds the logits' memory
VOCAB_CHUNK = 16_384  # words of the LM head computed at once by `head_chunks`: (64, 16384) floats stay in cache
PREFIX_FORWARDS = 16  # one-row forwards kept (logits and KV cache): a prompt's fixed opening, a left context
KEPT_PROMPT_TOKENS = 256  # a generation's prompt is kept up to this (SmolLM2's cache: ~46 KB a token)
DOCUMENT_SEPARATORS = ("<|endoftext|>",)  # GPT-2, SmolLM2 and Qwen separate pretraining documents with it


# ---------------------------------------------------------------- tokens


def token_texts(tokenizer, ids: Sequence[int]) -> list[str]:
    """The text each token decodes to on its own, in one batch call."""
    return tokenizer.batch_decode([[int(i)] for i in ids])


def pad_id(lm: LoadedModel) -> int:
    """The id that pads a batch: the tokenizer's, else the config's, else EOS. Its value never
    matters to the result (pads are masked or come after every real token), only that it exists."""
    for value in (lm.tokenizer.pad_token_id, lm.model.config.pad_token_id, lm.tokenizer.eos_token_id):
        if isinstance(value, int):
            return value
    raise ExplorerError("{model} has no pad, end-of-text or padding id to pad a batch with.", model=lm.name)


def document_start_ids(tokenizer) -> list[int]:
    """The tokens a document starts with, so that a text's first token is predicted like any other.

    Models trained on documents separated by <|endoftext|> (GPT-2, SmolLM2, Qwen) start with it
    (SmolLM2's `bos_token` is the chat-turn marker <|im_start|>, which predicts chat text); others
    start with their BOS (Gemma's <bos>, Llama's <s>); failing both, with EOS.
    """
    for separator in DOCUMENT_SEPARATORS:
        found = tokenizer.convert_tokens_to_ids(separator)
        if found is not None and tokenizer.convert_ids_to_tokens(found) == separator:  # not the unknown token
            return [found]
    if tokenizer.bos_token_id is not None:
        return [tokenizer.bos_token_id]
    return [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []


def encode_document(tokenizer, text: str) -> list[int]:
    """`text` as a whole document: its start tokens, then its own tokens (no other special tokens)."""
    return document_start_ids(tokenizer) + tokenizer(text, add_special_tokens=False)["input_ids"]


def check_fits(
    lm: LoadedModel, n_tokens: int, n_new: int = 0, *, limit: int | None = None, why: str = "", what: str = "text"
) -> None:
    """Refuse a `what` ("text", "prompt", …) of `n_tokens` (plus `n_new` to generate) longer than the
    model's context or than `limit` (a tab's own cap, explained by `why`)."""
    cap = min(limit, lm.context_length) if limit else lm.context_length
    if n_tokens + n_new <= cap:
        return
    reason = why if limit and limit < lm.context_length else i18n.message("{model}'s context", {"model": lm.name})
    if n_new:
        raise ExplorerError(
            "The {what} is {n:,} tokens plus {new:,} new tokens; the limit is {cap:,} ({reason}). "
            "Shorten it or ask for fewer new tokens.",
            what=what, n=n_tokens, new=n_new, cap=cap, reason=reason,
        )  # fmt: skip
    raise ExplorerError(
        "The {what} is {n:,} tokens; the limit is {cap:,} ({reason}). Shorten it.",
        what=what, n=n_tokens, cap=cap, reason=reason,
    )  # fmt: skip


# ---------------------------------------------------------------- architecture look-ups


def final_norm(model: nn.Module) -> nn.Module:
    """The norm between the last block and the LM head (transformers has no generic accessor)."""
    base = model.base_model
    for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm"):
        module = getattr(base, name, None)
        if isinstance(module, nn.Module):
            return module
    raise ExplorerError(
        "Where {architecture}'s final norm is is not known here (Llama, Gemma, GPT-2 and Qwen are).",
        architecture=type(model).__name__,
    )


def head_logits(model: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """The LM head on final-normed hidden states (..., d) -> (..., vocab), exactly as the model's own
    forward applies it: the output embeddings, then `softcap`."""
    return softcap(model, model.get_output_embeddings()(hidden))


def softcap(model: nn.Module, logits: torch.Tensor) -> torch.Tensor:
    """tanh soft-capping of the logits where the config sets `final_logit_softcapping` (Gemma 2 does;
    Gemma 3 sets none). It keeps the logits' order."""
    cap = getattr(model.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap is not None else logits


def head_chunks(model: nn.Module, hidden: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
    """`head_logits` a slice of the vocabulary at a time: (first id of the slice, (n, slice) logits).

    A vocabulary of 262,144 words (Gemma) makes (n, vocab) logits of many megabytes that each later
    pass (softmax, top-k, comparisons) reads again from memory; a slice stays in the cache while it is
    reduced, and the head's weights are still read only once.
    """
    head = model.get_output_embeddings()
    for start in range(0, head.weight.shape[0], VOCAB_CHUNK):
        end = start + VOCAB_CHUNK
        bias = head.bias[start:end] if getattr(head, "bias", None) is not None else None
        yield start, softcap(model, nn.functional.linear(hidden, head.weight[start:end], bias).float())  # (n, slice)


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The stack of transformer blocks, whatever the architecture calls it."""
    base = model.base_model
    for path in ("layers", "h", "encoder.layer", "transformer.layer"):
        module = base
        for part in path.split("."):
            module = getattr(module, part, None)
        if isinstance(module, nn.ModuleList):
            return module
    raise ExplorerError(
        "Where {architecture}'s layers are is not known here (Llama, Gemma, GPT-2, BERT are).",
        architecture=type(model).__name__,
    )


# ---------------------------------------------------------------- forward passes


def forward(lm: LoadedModel, ids: torch.Tensor, past=None, keep: int = 1, **options):
    """One forward in inference mode for this call only. The mode is thread-local, and a streaming
    generator is resumed by Gradio on other worker threads, so no caller may hold it across a
    `yield` (it would leak into whatever that thread runs next)."""
    with torch.inference_mode():
        return lm.model(input_ids=ids, past_key_values=past, use_cache=True, logits_to_keep=keep, **options)


_PREFIX_FORWARDS = cache.named("prefix forwards", PREFIX_FORWARDS)


def cached_forward(lm: LoadedModel, ids: Sequence[int], opening: Sequence[int] = ()) -> tuple[torch.Tensor, object]:
    """One row's forward: the logits after its last token (vocab,) and its KV cache, a copy the caller
    may extend or repeat. The forward is kept per model and tokens, so the steps that continue one text
    (a blank's left context) run it once. With `opening`, a fixed start of many prompts (a few-shot
    template's examples), only the opening is kept and the rest of `ids` runs after a copy of its cache
    (when `ids` do not start with it, as when the tokenizer merged across its end, `ids` run whole)."""
    opening = list(opening)
    if not opening or list(ids[: len(opening)]) != opening or len(ids) == len(opening):
        logits, past = _kept_forward(lm, ids)
        return logits[-1], copy.deepcopy(past)
    _, past = cached_forward(lm, opening)
    logits, past = _logits_and_cache(lm, ids[len(opening) :], past)
    return logits[-1], past


def cached_prefill(lm: LoadedModel, ids: Sequence[int], keep: int = 1) -> tuple[torch.Tensor, DynamicCache]:
    """A generation's prefill, alone: the logits of its last `keep` positions (keep, vocab) and its KV
    cache, which may be a kept one: read it, never change it (a padded batch copies the keys and values
    into its own buffers, so no copy of the cache is made here). Kept like `cached_forward`'s (the same
    entries when `keep` is 1) for prompts of up to KEPT_PROMPT_TOKENS tokens: a lecture hall's students
    mostly send the lecturer's prompt, so all but the first start without a forward."""
    if len(ids) > KEPT_PROMPT_TOKENS:
        return _logits_and_cache(lm, ids, keep=keep)
    return _kept_forward(lm, ids, keep)


def _kept_forward(lm: LoadedModel, ids: Sequence[int], keep: int = 1) -> tuple[torch.Tensor, DynamicCache]:
    """The kept forward's logits and cache themselves (a caller that extends the cache copies it)."""
    return _PREFIX_FORWARDS.get((lm.name, tuple(ids), keep), lambda: _logits_and_cache(lm, ids, keep=keep))


def _logits_and_cache(
    lm: LoadedModel, ids: Sequence[int], past=None, keep: int = 1
) -> tuple[torch.Tensor, DynamicCache]:
    """The logits of the last `keep` positions (keep, vocab) and the cache. A cache made here has a
    plain layer for every layer, sliding-window ones included (the model masks its window itself),
    so rows of a padded batch can be joined from it (generation/batch.py)."""
    out = forward(lm, torch.tensor([list(ids)]), DynamicCache() if past is None else past, keep=keep)
    return out.logits[0], out.past_key_values  # (keep, vocab), the cache


def greedy_steps(lm: LoadedModel, ids: torch.Tensor, past=None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Greedy decoding, one KV-cached forward per step, for a batch of rows at once.

    `ids` (batch, n) are fed first (after `past`, if given); then each step yields the chosen ids
    (batch,) and their probabilities (batch,), and feeds them back. The caller decides when to stop.
    """
    out = forward(lm, ids, past)
    while True:
        probs = out.logits[:, -1].float().softmax(-1)  # (batch, vocab)
        best = probs.argmax(-1)  # (batch,)
        yield best, probs.gather(1, best[:, None])[:, 0]
        out = forward(lm, best[:, None], out.past_key_values)


def greedy_continuation(
    lm: LoadedModel, ids: Sequence[int], max_new_tokens: int, stop_text: str | None = None, past=None
) -> list[int]:
    """The greedy continuation of one text: until EOS, `max_new_tokens`, or `stop_text` appears.
    With `past` (a KV cache of the text's start), `ids` are the tokens that follow it."""
    eos, new = lm.tokenizer.eos_token_id, []
    for _, (token, _) in zip(range(max_new_tokens), greedy_steps(lm, torch.tensor([list(ids)]), past)):
        if int(token) == eos:
            break
        new.append(int(token))
        if stop_text and stop_text in lm.tokenizer.decode(new):
            break
    return new


def sentence_logprobs(lm: LoadedModel, sentences: Sequence[str]) -> list[float]:
    """log p(sentence) for every sentence, each a whole document, in ONE padded batched forward.

    Right padding needs no attention mask: a causal model's real tokens never look at the pads
    after them. The transformer runs once on the whole batch; only the LM head (vocabulary-wide
    logits) runs in chunks of the real positions, to bound memory.
    """
    encoded = [encode_document(lm.tokenizer, s) for s in sentences]
    longest = max(len(ids) for ids in encoded)
    check_fits(lm, longest)
    input_ids = torch.tensor([ids + [pad_id(lm)] * (longest - len(ids)) for ids in encoded])  # (batch, n)
    real = torch.tensor([[j < len(ids) for j in range(longest)] for ids in encoded])  # (batch, n)
    predicts = real[:, 1:]  # position j predicts token j+1, if that token is real
    with torch.inference_mode():
        hidden = lm.model.base_model(input_ids=input_ids).last_hidden_state[:, :-1][predicts]  # (n_real, d)
        token_logprobs = target_logprobs(lm.model, hidden, input_ids[:, 1:][predicts])  # (n_real,)
    rows = torch.arange(len(sentences))[:, None].expand_as(predicts)[predicts]  # which sentence each row is
    totals = torch.zeros(len(sentences), dtype=torch.float64).index_add_(0, rows, token_logprobs.double())
    return totals.tolist()


def shared_prefix_logprobs(lm: LoadedModel, rows: Sequence[Sequence[int]]) -> list[float]:
    """log p(row[1:] | row[0]) for token rows that start alike (one text, other words in a blank),
    the same numbers as scoring each row on its own, in two forwards: the rows' longest common start
    runs once, and its KV cache is shared by the batch of their right-padded ends (a causal model's
    real tokens never look at the pads after them). The LM head runs once per distinct prefix: a
    token's log-probabilities depend only on the tokens up to it, so rows that go on alike past the
    common start (北京 and 北京市 in one blank, one sentence's two tokenisations up to where they part)
    share those rows of logits, the costliest step (262,144 words wide on Gemma)."""
    rows = [list(row) for row in rows]
    check_fits(lm, max(len(row) for row in rows))
    shared = 1  # the common start, at least the first token, leaving every row one token of its own
    while shared < min(len(row) for row in rows) - 1 and len({row[shared] for row in rows}) == 1:
        shared += 1
    start = torch.tensor([rows[0][:shared]])  # (1, shared)
    ends = [row[shared:] for row in rows]
    longest = max(len(end) for end in ends)
    end_ids = torch.tensor([end + [pad_id(lm)] * (longest - len(end)) for end in ends])  # (batch, longest)
    real = torch.tensor([[j < len(end) for j in range(longest)] for end in ends])  # (batch, longest)
    # Each real end token (row-major, as `before[real]` lists them) is predicted by its row's prefix before it.
    prefixes = [tuple(row[: shared + j]) for row, end in zip(rows, ends) for j in range(len(end))]
    first_place: dict[tuple[int, ...], int] = {}  # each distinct prefix: the first end token it predicts
    for place, prefix in enumerate(prefixes):
        first_place.setdefault(prefix, place)
    number = {prefix: n for n, prefix in enumerate(first_place)}
    source = torch.tensor([number[prefix] for prefix in prefixes], dtype=torch.long)  # (n_real,)
    firsts = torch.tensor(list(first_place.values()), dtype=torch.long)  # (n_distinct,)
    with torch.inference_mode():
        first = lm.model.base_model(input_ids=start, use_cache=True)
        past = first.past_key_values
        past.batch_repeat_interleave(len(rows))  # one copy of the common start's cache per row
        hidden = lm.model.base_model(input_ids=end_ids, past_key_values=past).last_hidden_state  # (batch, longest, d)
        start_hidden = first.last_hidden_state[0]  # (shared, d)
        # Each end token is predicted by the position before it: the common start's last, then its own row.
        before = torch.cat([start_hidden[-1].expand(len(rows), 1, -1), hidden[:, :-1]], 1)  # (batch, longest, d)
        # One product with the LM head: the common start's tokens, then the ends' distinct prefixes.
        scores = target_logprobs(
            lm.model,
            torch.cat([start_hidden[:-1], before[real][firsts]]),  # (shared - 1 + n_distinct, d)
            torch.cat([start[0, 1:], end_ids[real]]),
            torch.cat([torch.arange(shared - 1), source + shared - 1]),
        ).double()  # (shared - 1 + n_real,)
    which = torch.arange(len(rows))[:, None].expand_as(real)[real]  # the row of each real end token
    totals = torch.full((len(rows),), float(scores[: shared - 1].sum()), dtype=torch.float64)
    return totals.index_add_(0, which, scores[shared - 1 :]).tolist()


def target_logprobs(
    model: nn.Module, hidden: torch.Tensor, targets: torch.Tensor, source: torch.Tensor | None = None
) -> torch.Tensor:
    """log p(target) at final-normed hidden states (n, d) -> (n_targets,): the LM head and its softmax
    over the vocabulary, HEAD_CHUNK rows at a time to bound the logits' memory. Target i is predicted
    by hidden state `source[i]` (several targets may share one), by default by hidden state i."""
    source = torch.arange(len(targets)) if source is None else source  # (n_targets,)
    head = model.get_output_embeddings()
    scores = torch.zeros(len(targets))  # (n_targets,)
    for i in range(0, len(hidden), HEAD_CHUNK):
        logprobs = head(hidden[i : i + HEAD_CHUNK]).float().log_softmax(-1)  # (chunk, vocab)
        here = (source >= i) & (source < i + len(logprobs))  # (n_targets,): the targets this chunk predicts
        scores[here] = logprobs[source[here] - i, targets[here]]
    return scores
