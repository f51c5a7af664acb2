"""A BPE tokenizer's rules, read from the tokenizer itself: what `tokenizers` uses to encode a word.

The `tokenizers` JSON of a BPE model holds its vocabulary (piece -> id), its merge list (pairs,
in the order they were learnt: a pair's rank), the options of its BPE model (byte fallback,
unknown token, ignore_merges...) and its added tokens. Parsing it takes ~0.1 s for SmolLM2's
48,900 merges and seconds for Gemma's 514,906, so the rules are cached per model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .. import cache, models
from ..checks import ExplorerError
from ..segments import is_byte_level
from .inspect import describe_algorithm

# One entry per loaded model at most (evicting a model drops its rules); Gemma's take ~190 MB.
_RULES = cache.named("tokenisation.bpe_rules", models.MAX_LOADED)


@dataclass(frozen=True)
class BpeRules:
    """Everything `tokenizers`' BPE model uses to encode a word, read from the tokenizer's JSON."""

    vocab: dict[str, int]
    ranks: dict[tuple[str, str], int]  # merge pair -> rank (its position in the merge list)
    ignore_merges: bool  # a word already in the vocabulary is one token (Llama 3)
    byte_fallback: bool  # characters outside the vocabulary become <0xNN> byte tokens
    unk_token: str | None
    fuse_unk: bool  # consecutive unknown characters make one unknown token
    continuing_subword_prefix: str  # e.g. '##' on every piece but a word's first
    end_of_word_suffix: str  # e.g. '</w>' on a word's last piece
    byte_level: bool  # pieces write bytes as characters ('Ġ' = a space)
    algorithm: str
    added_tokens: dict[str, int]
    added_pattern: re.Pattern | None
    normalizer: object  # the tokenizer's own `tokenizers` normalizer (None if it has none)
    pre_tokenizer: object

    def merge(self, left: str, right: str) -> str:
        """The piece a merge makes: both pieces joined, the right one without its '##'-style prefix."""
        return left + right[len(self.continuing_subword_prefix) :]


def _ranks(raw: list) -> dict[tuple[str, str], int]:
    """Merge pair -> rank. `tokenizers` stores merges as [a, b] lists (new format) or "a b" strings
    (old format); a repeated pair keeps its last rank, as in `tokenizers`."""
    pairs = raw if raw and isinstance(raw[0], list) else [m.split(" ", 1) for m in raw]
    return {(a, b): rank for rank, (a, b) in enumerate(pairs)}


def _added_pattern(added: list[dict]) -> re.Pattern | None:
    """Added tokens are cut out of the text before anything else, longest first, as `tokenizers` does.
    (lstrip/rstrip absorb neighbouring whitespace; `single_word` is not modelled.)"""
    if not added:
        return None
    alternatives = [
        ("\\s*" if token.get("lstrip") else "") + re.escape(token["content"]) + ("\\s*" if token.get("rstrip") else "")
        for token in sorted(added, key=lambda t: len(t["content"]), reverse=True)
    ]
    return re.compile("|".join(alternatives))


def _read_rules(tokenizer) -> BpeRules:
    backend = tokenizer.backend_tokenizer
    spec = json.loads(backend.to_str())
    model = spec["model"]
    added = spec.get("added_tokens", [])
    return BpeRules(
        vocab=model["vocab"],
        ranks=_ranks(model["merges"]),
        ignore_merges=bool(model.get("ignore_merges")),
        byte_fallback=bool(model.get("byte_fallback")),
        unk_token=model.get("unk_token"),
        fuse_unk=bool(model.get("fuse_unk")),
        continuing_subword_prefix=model.get("continuing_subword_prefix") or "",
        end_of_word_suffix=model.get("end_of_word_suffix") or "",
        byte_level=is_byte_level(tokenizer),
        algorithm=describe_algorithm(tokenizer),
        added_tokens={t["content"]: t["id"] for t in added},
        added_pattern=_added_pattern(added),
        normalizer=backend.normalizer,
        pre_tokenizer=backend.pre_tokenizer,
    )


def bpe_rules(tokenizer, model_name: str = "") -> BpeRules:
    """The BPE model's rules; ExplorerError for a tokenizer that is not BPE (WordPiece, Unigram...).
    Cached by the model's name (so evicting the model drops them), then by the backend object
    itself (two tokenizers under one name, as in tests, never share rules)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    kind = type(backend.model).__name__ if backend is not None else type(tokenizer).__name__
    if kind != "BPE":
        raise ExplorerError(
            "This tokenizer uses {kind}, not BPE: it has no merge list to replay. "
            "Pick a BPE model (the bundled SmolLM2 or Gemma, gpt2, Qwen...).",
            kind=kind,
        )
    return _RULES.get((model_name, backend), lambda: _read_rules(tokenizer))
