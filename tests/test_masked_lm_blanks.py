"""The user's text and its blanks: what is refused (and why), and the text around the blanks."""

from __future__ import annotations

import pytest

from explorer import masked_lm
from explorer.checks import ExplorerError
from explorer.masked_lm.blanks import check_fill_text, left_context, prefix_and_space

from builders import tiny_bert


@pytest.fixture(scope="module")
def bert():
    return tiny_bert()


@pytest.mark.parametrize(
    "text, message",
    [
        ("the capital of france is paris .", "no \\[MASK\\]"),
        ("the capital of france is <mask> .", "not <mask>"),
        (" ".join(["[MASK]"] * 6) + " is a sentence", "limit is 5"),
        ("[MASK]", "only \\[MASK\\]s"),
        ("[MASK] [MASK] .", "only \\[MASK\\]s"),
        ("", "empty"),
        ("   ", "empty"),
        ("a [MASK] " + "x" * 200_000, "limit is 600"),
    ],
)
def test_bad_text_is_explained(bert, tiny, text, message):
    with pytest.raises(ExplorerError, match=message):
        masked_lm.fill_mask(bert, tiny, text)


def test_the_text_around_each_blank():
    text, masks = check_fill_text("The [mask] barked at the [MASK] all night.")  # any case
    assert len(masks) == 2
    assert masked_lm.fill_text(text, ["dog", "moon"]) == "The dog barked at the moon all night."
    assert left_context(text, masks, 0, []) == "The "
    assert left_context(text, masks, 1, ["dog"]) == "The dog barked at the "
    assert prefix_and_space("The dog barked at the ") == ("The dog barked at the", True)
    assert prefix_and_space("(") == ("(", False)
    assert prefix_and_space("") == ("", False)
