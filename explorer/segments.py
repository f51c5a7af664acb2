"""Readable tokens: runs of tokens that together make whole characters, so nothing shows as "�".

A BPE token is a run of *bytes*, not of characters. In a byte-level BPE (GPT-2, SmolLM2) 台
(3 bytes in UTF-8) may be cut into 2 or 3 tokens; in a SentencePiece BPE with byte fallback
(Gemma, Llama 2) a character outside the vocabulary becomes its bytes as <0xE5>-style tokens.
Decoded one by one, such tokens each give "�". The fix is exact and needs no guessing:

1. turn every token back into the bytes it stands for (`token_bytes`);
2. walk the tokens, collecting bytes, and close a segment as soon as the collected bytes are
   whole UTF-8 characters (`segments`).

Each segment spans tokens [start, end); its text is those tokens' bytes decoded, and the texts
of all segments concatenate to the decoded text of all the tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tokenizers import decoders
from transformers.convert_slow_tokenizer import bytes_to_unicode

BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")  # SentencePiece's byte-fallback pieces


@dataclass(frozen=True)
class Segment:
    text: str  # the characters the tokens make together
    start: int  # first token index
    end: int  # one past the last token index

    @property
    def spans_several(self) -> bool:
        return self.end - self.start > 1


_BYTE_OF_CHAR = {char: byte for byte, char in bytes_to_unicode().items()}  # GPT-2's stand-ins ('Ġ' = space)


def is_byte_level(tokenizer) -> bool:
    """Does the tokenizer map every byte to a printable stand-in (GPT-2, SmolLM2, Qwen)?"""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend is not None and isinstance(backend.decoder, decoders.ByteLevel)


def piece_to_bytes(piece: str, byte_level: bool) -> bytes:
    """The bytes a piece stands for: byte-level pieces map each character back to one byte;
    SentencePiece byte-fallback pieces <0xNN> are that byte; other pieces are their UTF-8 text
    with '▁' as a space."""
    if byte_level and all(c in _BYTE_OF_CHAR for c in piece):
        return bytes(_BYTE_OF_CHAR[c] for c in piece)
    fallback = BYTE_TOKEN.match(piece)
    if fallback:
        return bytes([int(fallback.group(1), 16)])
    return piece.replace("▁", " ").encode("utf-8")


def token_bytes(tokenizer, ids: list[int], skip_special: bool = False) -> list[bytes]:
    """The bytes each token stands for. Special tokens stand for their own text (e.g. b'<bos>'),
    or for nothing with `skip_special` (as in a decoded text that skips them)."""
    byte_level, special = is_byte_level(tokenizer), set(tokenizer.all_special_tokens)
    return [
        (b"" if skip_special else piece.encode()) if piece in special else piece_to_bytes(piece, byte_level)
        for piece in tokenizer.convert_ids_to_tokens(list(ids))
    ]


def _complete(buffer: bytes) -> str | None:
    """The text of `buffer` if it ends on a character boundary; None if its last character is cut."""
    try:
        return buffer.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.reason == "unexpected end of data":
            return None  # wait for the next token's bytes
        return buffer.decode("utf-8", errors="replace")  # truly invalid bytes: shown as they are


class Segmenter:
    """Segments built token by token (a generation adds one token per step)."""

    def __init__(self):
        self.closed: list[Segment] = []
        self._buffer, self._start, self._count = b"", 0, 0

    def add(self, data: bytes) -> None:
        self._buffer += data
        self._count += 1
        text = _complete(self._buffer)
        if text is not None:
            self.closed.append(Segment(text, self._start, self._count))
            self._buffer, self._start = b"", self._count

    @property
    def segments(self) -> list[Segment]:
        """The closed segments, then the open one (tokens that end inside a character) if any."""
        if not self._buffer:
            return list(self.closed)
        return [*self.closed, Segment(self._buffer.decode("utf-8", errors="replace"), self._start, self._count)]


def segments(tokenizer, ids: list[int], skip_special: bool = False) -> list[Segment]:
    """Consecutive tokens grouped into segments of whole characters (most segments are one token)."""
    segmenter = Segmenter()
    for data in token_bytes(tokenizer, ids, skip_special):
        segmenter.add(data)
    return segmenter.segments


def readable_tokens(tokenizer, ids: list[int]) -> list[str]:
    """One label per token: its own text where it is whole characters; where several tokens make
    one character, the first shows the character and the others '·' (hover shows their bytes)."""
    labels = []
    for segment in segments(tokenizer, ids):
        labels.append(segment.text)
        labels.extend("·" for _ in range(segment.start + 1, segment.end))
    return labels


def token_labels(tokenizer, ids: list[int]) -> list[str]:
    """A label for each token on its own: its text where it is whole characters, else its bytes in
    hex (⟨e5 8f⟩: part of a character, which its neighbours complete)."""
    labels = []
    for data in token_bytes(tokenizer, ids):
        text = _complete(data)
        labels.append(text if text is not None and "\ufffd" not in text else "⟨" + data.hex(" ") + "⟩")
    return labels
