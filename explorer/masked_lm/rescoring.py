"""Filling blanks with a causal model only: propose whole words, then rank the complete sentences.

A left-to-right model cannot read the words after a blank while predicting it, but it can score a
whole sentence. So, per blank:
1. propose words: the model's likeliest next words after the left context (GPT's own guess), and
   the words it gives when shown the whole sentence and asked to fill the blank: an instruct
   model through its chat template (source "instruct"), a base model such as Gemma 3 270M through
   the same question as a plain document (source "prompt": on the 30 cloze sentences it lifts
   Gemma 3 270M from 16 to 19 hits in the top 5), or, in Chinese, through three filled examples
   (FEW_SHOT_ZH: a blank at a sentence's start gets words that fit what follows it); in Chinese
   also the left context's likeliest one-token words that the next tokens after the blank follow
   best (source "next token", `one_token_words`);
2. put each proposed word in the blank and score every complete sentence by its log-likelihood
   (`lm.shared_prefix_logprobs`: a blank's sentences in one batch after their shared start, run
   once), so the words after the blank count too; a Chinese sentence sums two tokenisations, the
   tokenizer's and the one cut word by word (`words.word_tokens`);
3. rank the words by their sentence's score, renormalised over the words proposed for the blank.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator

import torch

from ..lm import document_start_ids, encode_document, shared_prefix_logprobs
from ..models import LoadedModel
from .blanks import Filler, fill_text, is_cjk, left_context, prefix_and_space, writes_cjk
from .left_only import word_steps
from .one_token_words import one_token_steps, one_token_words
from .words import word_tokens

FILL_INSTRUCTION = (
    'Fill in the blank (___) in this sentence with one word and write the whole sentence.\nSentence: "{sentence}"'
)
FILL_SYSTEM = "You fill in blanks in sentences with one word."
ANSWER_START = "Filled in:"  # the answer is written up to the blank for the model, which then names the word
# A Chinese sentence is asked about in Chinese, and its answer is written with no space after the colon.
FILL_INSTRUCTION_ZH = "在这句话的空白处（___）填入一个词，并写出整句话。\n句子：“{sentence}”"
FILL_SYSTEM_ZH = "你负责用一个词填写句子中的空白。"
ANSWER_START_ZH = "填好后："
# A base model is not taught to follow instructions, but it continues a pattern: asked in Chinese, it
# is shown three filled blanks (one at a sentence's start) and then the sentence, and names the word.
# Chinese is written without spaces, so the word stands alone after "答案：" and the blank's left
# context (empty for a blank at the start) never has to be continued from a cut inside a word.
FEW_SHOT_ZH = (
    "填空：我每天早上喝一杯___。\n答案：咖啡\n\n"
    "填空：___是一种会飞的动物。\n答案：鸟\n\n"
    "填空：小明在___里借了三本书。\n答案：图书馆\n\n"
    "填空：{sentence}\n答案："
)


def asked_steps(
    lm: LoadedModel, text: str, masks: list[re.Match], index: int, n: int
) -> Generator[torch.Tensor, torch.Tensor, tuple[str, list[str]]]:
    """The words the model gives when shown the whole sentence (blank `index` as ___, the others as …)
    and asked to fill it, and how it was asked ("instruct" or "prompt"). Its answer is started for
    it up to the blank, so its next word is its filler (a Chinese base model: FEW_SHOT_ZH). A
    generator for `head_rounds.heads_together` (`left_only.word_steps`)."""
    tokenizer = lm.tokenizer
    shown = fill_text(text, ["___" if i == index else "…" for i in range(len(masks))])
    chinese, chat = writes_cjk(text), bool(getattr(tokenizer, "chat_template", None))
    if chinese and not chat:  # a base model, shown the pattern: its next word is its filler
        prompt = encode_document(tokenizer, FEW_SHOT_ZH.format(sentence=shown))
        opening = encode_document(tokenizer, FEW_SHOT_ZH.split("{sentence}")[0])  # the examples: run once per model
        return "prompt", [word for word, _ in (yield from word_steps(lm, prompt, n, False, opening))]
    instruction, system = (FILL_INSTRUCTION_ZH, FILL_SYSTEM_ZH) if chinese else (FILL_INSTRUCTION, FILL_SYSTEM)
    question = instruction.format(sentence=shown)
    prefix, after_space = prefix_and_space(left_context(text, masks, index, ["…"] * index))
    if chinese:  # "填好后：中国的首都是" and the word straight after
        answer = ANSWER_START_ZH + prefix
    else:  # "Filled in: Jupiter": a word after a space is mostly one token
        answer, after_space = ANSWER_START + (" " + prefix if prefix else ""), after_space or not prefix
    if chat:  # an instruct model: the question as a chat turn
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    else:  # a base model: the question as a plain document
        ids = encode_document(tokenizer, question + "\n")
    ids += tokenizer(answer, add_special_tokens=False)["input_ids"]
    return ("instruct" if chat else "prompt"), [word for word, _ in (yield from word_steps(lm, ids, n, after_space))]


def proposal_searches(lm: LoadedModel, text: str, masks: list[re.Match], n: int) -> dict[tuple[str, int], Generator]:
    """The searches that propose every blank's words, generators to run together (`head_rounds.heads_together`,
    beside the left-only predictions when the same model makes them): per blank, the asked model's
    words ("asked", index) and, in Chinese after some text, the left context's one-token words that
    the next tokens after the blank follow best ("next token", index)."""
    searches: dict[tuple[str, int], Generator] = {}
    for index, mask in enumerate(masks):
        searches["asked", index] = asked_steps(lm, text, masks, index, n)
        if writes_cjk(text) and text[: mask.start()].strip():
            left = left_context(text, masks, index, ["…"] * index)
            searches["next token", index] = one_token_steps(lm, left, text[mask.end() :])
    return searches


def proposals(
    lm: LoadedModel, text: str, masks: list[re.Match], left_only: list[list[Filler]], found: dict, n: int
) -> tuple[list[dict[str, set[str]]], list[str]]:
    """Per blank, every proposed word and where it came from ({"Paris": {"left context", "instruct"}}),
    and the word each blank holds while the others are scored (the asked model's first guess), from
    what the `proposal_searches` found."""
    words_per_blank, provisional = [], []
    for index in range(len(masks)):
        how, asked = found["asked", index]
        # A blank that starts the text has no left context: what "left context" proposes there is only how
        # documents start ("The", "import"), scored for nothing, unless the asked model proposed nothing.
        starts_text = not text[: masks[index].start()].strip() and asked
        guessed = [] if starts_text else [(f.token, "left context") for f in left_only[index][:n]]
        if writes_cjk(text) and not starts_text:  # Chinese: the left context's one-token words, picked by the right
            if ("next token", index) not in found:  # a blank at the start the asked model had no word for
                left = left_context(text, masks, index, ["…"] * index)
                found["next token", index] = one_token_words(lm, left, text[masks[index].end() :])
            guessed += [(w, "next token") for w in found["next token", index]]
        words: dict[str, set[str]] = {}
        for word, source in [*guessed, *((w, how) for w in asked)]:
            for shorter in cjk_prefixes(lm.tokenizer, word):  # 北京市: 北京 and 北京市, the sentence picks
                words.setdefault(shorter, set()).add(source)
        words_per_blank.append(words)
        provisional.append(asked[0] if asked else (left_only[index][0].token if left_only[index] else "…"))
    return words_per_blank, provisional


def cjk_prefixes(tokenizer, word: str) -> list[str]:
    """A word of Chinese characters ends where the sentence says: each of its starts that ends between
    two of its tokens cut word by word (`words.word_tokens`: 北京|市) is a candidate (the greedy
    completion chose tokens, not where the word stops); any other word is itself. A start inside a
    token (北 of 北京) is not: on the 36 Chinese cloze sentences dropping those scores a third fewer
    sentences for the same 22 hits in the top 5."""
    if len(word) > 1 and all(is_cjk(char) for char in word):
        ids = word_tokens(tokenizer, word)
        starts = [tokenizer.decode(ids[:end]) for end in range(1, len(ids))]  # a token may end inside a character
        return [start for start in starts if start and word.startswith(start) and "\ufffd" not in start] + [word]
    return [word]


def rescore(
    lm: LoadedModel, text: str, proposed: list[dict[str, set[str]]], provisional: list[str]
) -> tuple[list[list[Filler]], int]:
    """Rank every blank's proposed words by the log-likelihood of the complete sentence they make
    (the other blanks hold their provisional word), probabilities renormalised per blank:
    (ranked words per blank, sentences scored).

    A Chinese sentence's likelihood sums two of its tokenisations, the tokenizer's and the one cut
    word by word (`words.word_tokens`), when they differ: a text's probability is the sum over every
    token sequence that spells it, and the tokenizer's own can be one the model finds unlikely
    (中国的|首|都是|北京 is about e^-16 times less likely to Gemma-3-270M than 中国的|首都|是|北京)."""
    start = document_start_ids(lm.tokenizer)
    ranked = []
    for index, words in enumerate(proposed):
        sentences = [
            fill_text(text, [word if i == index else provisional[i] for i in range(len(proposed))]) for word in words
        ]
        # The tokenizer's tokens and, in Chinese, the word-by-word tokens that differ from them (most are
        # the same), in one batch after their common start (`shared_prefix_logprobs`).
        rows = [start + lm.tokenizer(sentence, add_special_tokens=False)["input_ids"] for sentence in sentences]
        cut = [start + word_tokens(lm.tokenizer, sentence) for sentence in sentences] if writes_cjk(text) else rows
        other = [j for j in range(len(rows)) if cut[j] != rows[j]]
        scores = torch.tensor(shared_prefix_logprobs(lm, rows + [cut[j] for j in other]), dtype=torch.float64)
        totals = scores[: len(rows)]  # (words,)
        if other:  # p(text) sums its tokenisations
            totals[other] = torch.stack([totals[other], scores[len(rows) :]]).logsumexp(0)
        totals = totals.tolist()
        norm = torch.tensor(totals, dtype=torch.float64).logsumexp(0).item()
        fillers = [
            Filler(word, math.exp(s - norm), s, " + ".join(sorted(words[word]))) for s, word in zip(totals, words)
        ]
        ranked.append(sorted(fillers, key=lambda f: -f.logprob))
    return ranked, sum(len(words) for words in proposed)
