"""ICL prompts: k demonstrations laid out by the template, chat turns, and where a prompt starts."""

from __future__ import annotations

import pytest

from explorer import datasets, icl
from explorer.checks import ExplorerError
from explorer.lm import document_start_ids

from builders import tiny_llama


@pytest.fixture(scope="module")
def lm():
    return tiny_llama(context=4096, chat=True)


@pytest.mark.parametrize("k", [0, 1, 4])
def test_k_demonstrations_appear_in_the_prompt(k):
    task = datasets.load_task("sentiment")
    demos = icl.draw_demonstrations(task.items, k, seed=3)
    prompt = icl.build_prompt(task, demos, "A quiet film.", None)
    assert len(demos) == k
    assert prompt.text.count("Review: ") == k + 1
    for demo in demos:
        assert f"Review: {demo.text}\nSentiment: {demo.label}" in prompt.text
    assert prompt.text.endswith("Review: A quiet film.\nSentiment:")
    assert prompt.continuations == (" positive", " negative")


def test_chat_prompt_puts_demonstrations_in_turns(lm):
    task = datasets.load_task("sentiment")
    demos = icl.draw_demonstrations(task.items, 2, seed=0)
    prompt = icl.build_prompt(task, demos, "Great!", lm.tokenizer, chat=True)
    assert prompt.text.count("<|assistant|>") == 3 and prompt.text.endswith("<|assistant|>")
    assert prompt.continuations == ("positive", "negative")


def test_a_model_without_a_chat_template_says_so():
    with pytest.raises(ExplorerError, match="no chat template"):
        icl.build_prompt(datasets.load_task("sentiment"), [], "Great!", tiny_llama().tokenizer, chat=True)


def test_a_plain_prompt_starts_as_a_document_and_a_chat_prompt_as_its_template(lm):
    plain = icl.encode(lm.tokenizer, "Review: fine", chat=False)
    assert (
        plain == document_start_ids(lm.tokenizer) + lm.tokenizer("Review: fine", add_special_tokens=False)["input_ids"]
    )
    assert icl.encode(lm.tokenizer, "<|user|>fine", chat=True) == lm.tokenizer("<|user|>fine")["input_ids"]


def test_shared_text_is_what_every_query_prompt_starts_with():
    task = datasets.load_task("topic")
    demos = icl.draw_demonstrations(task.items, 3, seed=1)
    shared = icl.shared_text(task, demos, None, chat=False)
    assert shared.endswith("Headline: ") and all(demo.text in shared for demo in demos)
    assert icl.build_prompt(task, demos, "Rates rose.", None).text.startswith(shared)
