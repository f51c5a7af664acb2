"""What a tokenizer makes of a text: its tokens, and two tokenizers side by side.

A language model never sees characters, only ids from a fixed vocabulary. For one text this
file reports what the tokenizer itself outputs (nothing is re-implemented here):

- `ids`: the token ids, no special tokens added (no <bos>, no <|im_start|>);
- `pieces`: the vocabulary entries, as the tokenizer stores them: byte-level BPE (GPT-2,
  SmolLM2) writes every byte as one printable character ('Ġ' = a space, 'Ċ' = a newline);
  SentencePiece-style BPE (Gemma, Llama 2) writes a space as '▁' and a character outside its
  vocabulary as its UTF-8 bytes, one <0xE5>-style token per byte (byte fallback);
- `tokens`: the text each token decodes to on its own ('�' where it holds part of a character),
  and `segments`: runs of tokens that make whole characters, so nothing needs to show as '�';
- `offsets`: the [start, end) characters of the text each token covers;
- the counts, whose ratio (characters per token) is what a vocabulary buys: the same text costs
  a model with a larger or more multilingual vocabulary fewer tokens (`compare`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import checks
from ..lm import token_texts
from ..segments import Segment, is_byte_level, segments, token_bytes


@dataclass
class Tokenization:
    model: str
    tokens: list[str]  # the text each token decodes to ('�' where a token holds part of a character)
    pieces: list[str]  # the tokenizer's own pieces, byte-level markers included ('Ġworld', '▁world')
    ids: list[int]
    offsets: list[list[int]]  # [start, end) character offsets into the text
    n_chars: int
    n_tokens: int
    algorithm: str  # e.g. "byte-level BPE", "BPE with byte fallback", "WordPiece (not BPE)"
    chars_per_token: float | None  # None for a text with no tokens
    piece_bytes: list[str] = field(default_factory=list)  # each token's bytes in hex, e.g. "F0 9F"
    segments: list[Segment] = field(default_factory=list)  # runs of tokens making whole characters
    vocab_size: int = 0  # entries in the tokenizer's vocabulary, added tokens included


def describe_algorithm(tokenizer) -> str:
    """'byte-level BPE', 'BPE with byte fallback', 'BPE', 'WordPiece (not BPE)', 'Unigram (not BPE)'...
    read from the `tokenizers` backend's model object (no JSON to parse, so no cache needed)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return f"unknown ({type(tokenizer).__name__})"
    kind = type(backend.model).__name__  # BPE, WordPiece, Unigram, WordLevel
    if kind != "BPE":
        return f"{kind} (not BPE)"
    if is_byte_level(tokenizer):
        return "byte-level BPE"
    return "BPE with byte fallback" if backend.model.byte_fallback else "BPE"


def tokenize(tokenizer, text: str, model_name: str = "") -> Tokenization:
    """The tokenizer's own encoding of `text`, special tokens excluded (none are added)."""
    text = checks.text(text, allow_blank=True)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoding["input_ids"])
    return Tokenization(
        model=model_name,
        tokens=token_texts(tokenizer, ids),
        pieces=tokenizer.convert_ids_to_tokens(ids),
        ids=ids,
        offsets=[[int(a), int(b)] for a, b in encoding["offset_mapping"]],
        n_chars=len(text),
        n_tokens=len(ids),
        algorithm=describe_algorithm(tokenizer),
        chars_per_token=round(len(text) / len(ids), 3) if ids else None,
        piece_bytes=[data.hex(" ").upper() for data in token_bytes(tokenizer, ids)],
        segments=segments(tokenizer, ids),
        vocab_size=len(tokenizer),
    )


def compare(text: str, tokenizers: list[tuple[str, object]]) -> list[Tokenization]:
    """The same text through several (model name, tokenizer) pairs, the first being the main one;
    a name given twice is tokenised once."""
    seen: dict[str, Tokenization] = {}
    for name, tokenizer in tokenizers:
        if name not in seen:
            seen[name] = tokenize(tokenizer, text, name)
    return list(seen.values())
