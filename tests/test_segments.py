"""Readable segments: whole characters over byte tokens, for byte-level and byte-fallback BPE alike."""

from __future__ import annotations

import pytest

from explorer import segments as S

from builders import byte_fallback_tokenizer, byte_level_tokenizer, wordpiece_tokenizer

TEXTS = [
    "台湾大学",
    "Hello 台湾 world",
    "naïve café 👩‍💻 🏳️‍🌈",
    "东京は日本の首都",
    "plain ascii",
    "𠜎 extension B",
    " ",
    "a\nb",
]


def check(tokenizer, text: str) -> list[S.Segment]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    found = S.segments(tokenizer, ids)
    assert "".join(s.text for s in found) == tokenizer.decode(ids)
    assert [s.start for s in found] == [0] + [s.end for s in found[:-1]] and found[-1].end == len(ids)
    assert all("\ufffd" not in s.text for s in found)
    return found


@pytest.mark.parametrize("text", TEXTS)
def test_byte_level_segments_are_whole_characters(text):
    check(byte_level_tokenizer(), text)


@pytest.mark.parametrize("text", TEXTS)
def test_byte_fallback_segments_are_whole_characters(text):
    check(byte_fallback_tokenizer(), text)


def test_byte_fallback_tokens_of_one_character_form_one_segment():
    tokenizer = byte_fallback_tokenizer()
    ids = tokenizer("👩", add_special_tokens=False)["input_ids"]
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert [p for p in pieces if p.startswith("<0x")] == ["<0xF0>", "<0x9F>", "<0x91>", "<0xA9>"]
    whole = [s for s in S.segments(tokenizer, ids) if s.text.strip()]
    assert whole == [S.Segment("👩", len(ids) - 4, len(ids))] and whole[0].spans_several


def test_special_tokens_are_their_own_text():
    tokenizer = byte_fallback_tokenizer()
    ids = tokenizer("台湾")["input_ids"]  # <bos> first
    assert S.segments(tokenizer, ids)[0] == S.Segment("<bos>", 0, 1)


def test_a_cut_character_at_the_end_stays_one_segment_and_readable_labels_mark_the_rest():
    tokenizer = byte_level_tokenizer()
    ids = tokenizer("𠜎", add_special_tokens=False)["input_ids"]
    assert len(ids) > 1
    assert S.segments(tokenizer, ids[:-1])[-1].text.endswith("\ufffd")  # stopped mid-character: said so, not hidden
    labels = S.readable_tokens(tokenizer, ids)
    assert labels[0] == "𠜎" and set(labels[1:]) == {"·"}


def test_wordpiece_tokens_fall_back_to_their_pieces():
    tokenizer = wordpiece_tokenizer()
    ids = tokenizer("the capital", add_special_tokens=False)["input_ids"]
    assert [s.text for s in S.segments(tokenizer, ids)] == tokenizer.convert_ids_to_tokens(ids)


def test_the_bundled_tokenizer_cuts_taiwan_university_into_byte_tokens_and_segments_rejoin_them(bundled):
    ids = bundled.tokenizer("台湾大学", add_special_tokens=False)["input_ids"]
    assert len(ids) == 8
    assert [s.text for s in check(bundled.tokenizer, "台湾大学")] == ["台", "湾", "大", "学"]


def test_a_token_alone_is_labelled_by_its_text_or_by_its_bytes():
    tokenizer = byte_level_tokenizer()
    ids = tokenizer("台 a", add_special_tokens=False)["input_ids"]
    labels = S.token_labels(tokenizer, ids)
    assert labels[-1] == " a" and all("\ufffd" not in label for label in labels)
    assert any(label.startswith("⟨") for label in labels)  # 台 is cut into byte tokens here
