"""The user's text and its blanks: where the [MASK]s are, what stands left of each blank, and the
text with words put in the blanks. Every method reads the text through these few functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import checks
from ..checks import ExplorerError

MASK_PATTERN = re.compile(r"\[mask\]", re.IGNORECASE)  # what the user types, whatever the model's own mask token is
MAX_MASKS = 5
MAX_FILL_CHARS = 600  # a sentence or two: causal rescoring scores ~20 copies of the text per blank


@dataclass
class Filler:
    token: str  # the word (or word piece) as text
    prob: float  # masked-lm: the model's probability; causal-rescoring: renormalised over the candidates
    logprob: float  # masked-lm: log p(token); causal-rescoring: the whole sentence's log-likelihood
    source: str  # "masked-lm" | "left context" | "next token" | "instruct" (a base model: "prompt"), joined by " + "


def check_fill_text(text) -> tuple[str, list[re.Match]]:
    """The text and its [MASK]s: one to MAX_MASKS of them, with some words around them."""
    text = checks.text(text, "text", MAX_FILL_CHARS)
    masks = list(MASK_PATTERN.finditer(text))
    if not masks and "<mask>" in text:
        raise ExplorerError(
            "The text has no [MASK] (write [MASK], not <mask>: the app uses each model's own mask token for you). "
            "Put [MASK] where the missing word goes, e.g. 'The capital of France is [MASK].'"
        )
    if not masks:
        raise ExplorerError(
            "The text has no [MASK]. Put [MASK] where the missing word goes, e.g. 'The capital of France is [MASK].'"
        )
    if len(masks) > MAX_MASKS:
        raise ExplorerError(
            "The text has {n} [MASK]s; the limit is {limit}. Remove some.", n=len(masks), limit=MAX_MASKS
        )
    if not any(ch.isalnum() for ch in MASK_PATTERN.sub("", text)):
        raise ExplorerError("The text is only [MASK]s: write some words around the blank so there is context to use.")
    return text, masks


def fill_text(text: str, words: list[str]) -> str:
    """`text` with its i-th [MASK] replaced by words[i]."""
    replacements = iter(words)
    return MASK_PATTERN.sub(lambda _: next(replacements), text)


def left_context(text: str, masks: list[re.Match], index: int, earlier: list[str]) -> str:
    """What stands before blank `index`, the blanks before it holding the words `earlier`."""
    return fill_text(text[: masks[index].start()], earlier[:index])


def is_cjk(char: str) -> bool:
    """A CJK ideograph or kana: a script written without spaces between words."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" or "\u3040" <= char <= "\u30ff"


def writes_cjk(text: str) -> bool:
    return any(is_cjk(char) for char in text)


def prefix_and_space(left: str) -> tuple[str, bool]:
    """The text a model continues from, and whether the blank's word follows a space: "is [MASK]"
    is fed as "is" and its word sought among tokens with a leading space (" Paris"), as the
    tokenizer would split "is Paris" (byte-level 'ĠParis', SentencePiece '▁Paris')."""
    after_space = bool(left.strip()) and left[-1:].isspace()
    return (left.rstrip() if after_space else left), after_space
