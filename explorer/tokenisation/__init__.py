"""Tokenisation, three ways: what a tokenizer outputs, how the model's BPE got there, how BPE is learnt.

- `inspect`: the tokenizer's own output for a text (tokens, pieces, ids, offsets, counts), and
  several tokenizers side by side (SmolLM2's 49,152-entry byte-level BPE vs Gemma's 262,144-entry
  BPE with byte fallback);
- `rules` and `replay`: the model's own merge list re-applied by hand, one merge per step, to
  exactly the tokenizer's ids;
- `toy_bpe`: a BPE trained from a small corpus the lecture's way.
"""

from .inspect import Tokenization, compare, describe_algorithm, tokenize
from .replay import MergeStep, Replay, WordReplay, replay
from .rules import BpeRules, bpe_rules
from .toy_bpe import END_OF_WORD, LECTURE_CORPUS, MAX_MERGES, ToyBpe, ToyMerge, segment, train_bpe

__all__ = [
    "END_OF_WORD",
    "LECTURE_CORPUS",
    "MAX_MERGES",
    "BpeRules",
    "MergeStep",
    "Replay",
    "Tokenization",
    "ToyBpe",
    "ToyMerge",
    "WordReplay",
    "bpe_rules",
    "compare",
    "describe_algorithm",
    "replay",
    "segment",
    "tokenize",
    "train_bpe",
]
