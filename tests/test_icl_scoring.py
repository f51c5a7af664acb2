"""ICL scoring: every label's log-prob equals an independent full forward of prompt + label, whatever
is reused (the prompt's cache, a shared prefix, batches of queries), on Llama and on Gemma 3 (whose
sliding-window layers must keep every key) alike."""

from __future__ import annotations

import pytest
import torch

from explorer import icl
from explorer.lm import encode_document

from builders import tiny_gemma, tiny_llama

MULTI_TOKEN = "sports: ball game, business: money, science: lab, world: earth"


@pytest.fixture(scope="module")
def lm():
    return tiny_llama(context=4096, chat=True)


@pytest.fixture(scope="module")
def gemma():
    return tiny_gemma(context=4096)  # sliding window of 8 tokens: every prompt here is far longer


def independent_logprob(lm, prompt: icl.Prompt, continuation: str) -> float:
    """The definition, computed the plain way: one full forward of prompt + continuation, a plain
    prompt read as a whole document (`lm.encode_document`), a chat one as its template spells it."""

    def encode(text):
        return (
            lm.tokenizer(text, add_special_tokens=False)["input_ids"]
            if prompt.chat
            else encode_document(lm.tokenizer, text)
        )

    n_prompt, ids = len(encode(prompt.text)), encode(prompt.text + continuation)
    with torch.no_grad():
        logprobs = torch.log_softmax(lm.model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
    return float(sum(logprobs[i - 1, ids[i]] for i in range(n_prompt, len(ids))))


@pytest.mark.parametrize("chat", [False, True])
@pytest.mark.parametrize(
    "task_name, verbalizers",
    [
        ("sentiment", ""),
        ("topic", ""),
        ("sentiment", "positive: wonderful, negative: bad"),
        ("topic", MULTI_TOKEN),
    ],
)
def test_label_logprobs_equal_a_full_forward_per_label(lm, task_name, verbalizers, chat):
    task = icl.resolve_task(task_name, verbalizers=verbalizers)
    query = "The striker scored twice in the final."
    result = icl.run_icl(lm, task, query, shots=3, seed=5, chat=chat)
    prompt = icl.build_prompt(task, result.demonstrations, query, lm.tokenizer, chat)
    assert result.prompt == prompt.text
    for entry, continuation in zip(result.labels, prompt.continuations):
        assert entry.logprob == pytest.approx(independent_logprob(lm, prompt, continuation), abs=1e-3)
    assert sum(e.prob for e in result.labels) == pytest.approx(1.0)
    assert result.prediction == max(result.labels, key=lambda e: e.logprob).label
    assert result.n_prompt_tokens == len(result.prompt_tokens)


@pytest.mark.parametrize("verbalizers", ["", MULTI_TOKEN])
def test_gemma_sliding_window_scores_equal_a_full_forward_per_label(gemma, verbalizers):
    """Gemma 3's sliding layers: the cache reused for the labels, the demonstrations' prefix and the
    content-free queries must keep every key, or positions and windows go wrong past 8 tokens."""
    task = icl.resolve_task("topic", verbalizers=verbalizers)
    query = "The striker scored twice in the final."
    result = icl.run_icl(gemma, task, query, shots=2, seed=5)
    prompt = icl.build_prompt(task, result.demonstrations, query, gemma.tokenizer)
    assert result.n_prompt_tokens > 10 * gemma.model.config.sliding_window
    for entry, continuation in zip(result.labels, prompt.continuations):
        assert entry.logprob == pytest.approx(independent_logprob(gemma, prompt, continuation), abs=1e-3)
    content_free = [icl.build_prompt(task, result.demonstrations, text, gemma.tokenizer) for text in icl.CONTENT_FREE]
    expected = [icl.normalise([independent_logprob(gemma, p, c) for c in p.continuations]) for p in content_free]
    assert result.content_free_probs == pytest.approx([sum(col) / len(col) for col in zip(*expected)], abs=1e-4)


@pytest.mark.parametrize("model", ["lm", "gemma"])
def test_reusing_a_shared_prefix_changes_no_score(model, request):
    lm = request.getfixturevalue(model)
    task = icl.resolve_task("sentiment", verbalizers="positive: great, negative: awful")
    demos = icl.draw_demonstrations(task.items, 4, seed=1)
    prompt = icl.build_prompt(task, demos, "The soup was cold.", lm.tokenizer)
    shared = icl.encode(lm.tokenizer, icl.build_prompt(task, demos, "x", lm.tokenizer).text, False)[:-3]
    alone = icl.score_continuations(lm, prompt)
    reused = icl.score_continuations(lm, prompt, icl.extend(lm, [shared])[0])
    assert [s.logprob for s in reused] == pytest.approx([s.logprob for s in alone], abs=1e-4)
    for score, continuation in zip(alone, prompt.continuations):
        assert score.logprob == pytest.approx(independent_logprob(lm, prompt, continuation), abs=1e-3)


@pytest.mark.parametrize("model", ["lm", "gemma"])
def test_batched_queries_score_as_each_alone(model, request):
    """score_many right-pads queries of different lengths into one forward over the shared prefix."""
    lm = request.getfixturevalue(model)
    task = icl.resolve_task("topic", verbalizers=MULTI_TOKEN)
    demos = icl.draw_demonstrations(task.items, 2, seed=4)
    prompts = [icl.build_prompt(task, demos, item.text, lm.tokenizer) for item in task.items[10:15]]
    batched = icl.score_many(lm, prompts, icl.shared_prefix(lm, task, demos, False), batch_size=3)
    for prompt, scores in zip(prompts, batched):
        alone = icl.score_continuations(lm, prompt)
        assert [s.logprob for s in scores] == pytest.approx([s.logprob for s in alone], abs=1e-4)
        for score, continuation in zip(scores, prompt.continuations):
            assert score.logprob == pytest.approx(independent_logprob(lm, prompt, continuation), abs=1e-3)


def test_a_prefix_that_is_not_the_start_is_not_reused(lm):
    task = icl.resolve_task("sentiment")
    prompt = icl.build_prompt(task, [], "Fine.", lm.tokenizer)
    unrelated = icl.extend(lm, [icl.encode(lm.tokenizer, "Something else entirely", False)])[0]
    assert [s.logprob for s in icl.score_continuations(lm, prompt, unrelated)] == pytest.approx(
        [s.logprob for s in icl.score_continuations(lm, prompt)], abs=1e-5
    )


def test_bundled_model_end_to_end(bundled):
    task = icl.resolve_task("sentiment")
    query = "An absolutely wonderful, heartwarming film that I loved."
    result = icl.run_icl(bundled, task, query, shots=2, seed=0, calibrated=False)
    prompt = icl.build_prompt(task, result.demonstrations, query, bundled.tokenizer)
    for entry, continuation in zip(result.labels, prompt.continuations):
        assert entry.logprob == pytest.approx(independent_logprob(bundled, prompt, continuation), abs=1e-3)
    assert result.prediction == "positive"
    assert result.n_prompt_tokens == len(encode_document(bundled.tokenizer, result.prompt))
    assert result.prompt_tokens[0] == "<|endoftext|>"  # SmolLM2's documents start after it


@pytest.mark.parametrize("model", ["lm", "gemma"])
def test_greedy_answer_from_a_prefix_is_transformers_greedy_decoding(model, request):
    lm = request.getfixturevalue(model)
    task = icl.resolve_task("antonyms")
    demos = icl.draw_demonstrations(task.items, 3, seed=2)
    prompt = icl.build_prompt(task, demos, "hot", lm.tokenizer)
    ids = icl.encode(lm.tokenizer, prompt.text, chat=False)
    generated = lm.model.generate(
        torch.tensor([ids]), max_new_tokens=icl.MAX_NEW_TOKENS, do_sample=False, pad_token_id=lm.tokenizer.eos_token_id
    )
    new = generated[0, len(ids) :].tolist()
    text = lm.tokenizer.decode(new[: new.index(lm.tokenizer.eos_token_id)] if lm.tokenizer.eos_token_id in new else new)
    expected = text.split("\n")[0].strip()
    assert icl.greedy_answer(lm, prompt) == expected
    assert icl.greedy_answer(lm, prompt, icl.shared_prefix(lm, task, demos, False)) == expected


@pytest.mark.parametrize("chat", [False, True])
def test_a_chinese_label_word_is_scored_over_all_its_tokens(lm, gemma, chat):
    """好评 and 差评 are several tokens each (tiny Gemma: byte fallback, 3 bytes a character; tiny Llama:
    byte-level BPE): a label's log-prob is the sum over all of them, and each token is shown readably."""
    model = lm if chat else gemma
    task = icl.resolve_task("sentiment_zh")
    query = "配乐很动人，可惜剧情拖沓。"
    result = icl.run_icl(model, task, query, shots=2, seed=1, chat=chat)
    prompt = icl.build_prompt(task, result.demonstrations, query, model.tokenizer, chat)
    for entry, continuation in zip(result.labels, prompt.continuations):
        assert len(entry.tokens) > 1 and "\ufffd" not in "".join(entry.tokens)
        assert entry.logprob == pytest.approx(independent_logprob(model, prompt, continuation), abs=1e-3)
    assert "\ufffd" not in "".join(result.prompt_tokens) and result.n_prompt_tokens == len(result.prompt_tokens)


def test_chinese_label_words_on_the_bundled_gemma_equal_a_full_forward():
    """Gemma-3-270M (the Chinese page's model): 好评 / 差评 scored as a whole equal the plain definition."""
    from explorer import models

    gemma_270m = models.get(models.GEMMA_NAME, "causal")
    task = icl.resolve_task("sentiment_zh")
    query = "配乐很动人，可惜剧情拖沓。"
    result = icl.run_icl(gemma_270m, task, query, shots=2, seed=1)
    prompt = icl.build_prompt(task, result.demonstrations, query, gemma_270m.tokenizer)
    for entry, continuation in zip(result.labels, prompt.continuations):
        assert "".join(entry.tokens).strip() == entry.verbalizer
        assert entry.logprob == pytest.approx(independent_logprob(gemma_270m, prompt, continuation), abs=1e-2)
