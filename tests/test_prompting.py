"""In-context learning: scoring equals a plain full forward, prompts hold their demonstrations,
draws are reproducible, calibration removes a constructed bias, bad input is explained."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from explorer import datasets, models
from explorer import prompting as P
from explorer.checks import ExplorerError

from conftest import tiny_tokenizer

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def long_tiny(seed: int = 0, context: int = 4096) -> models.LoadedModel:
    """conftest's tiny Llama, with room for few-shot prompts and a toy chat template."""
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    model = LlamaForCausalLM(config).eval()
    spec = models.ModelSpec("tiny-long", "tests/tiny-long", "causal", model.num_parameters())
    return models.LoadedModel(spec, model, tokenizer, "bundled")


@pytest.fixture(scope="module")
def lm():
    return long_tiny()


def independent_logprob(lm, prompt: P.Prompt, continuation: str) -> float:
    """The definition, computed the plain way: one full forward of prompt + continuation."""
    special = not prompt.chat
    n_prompt = len(lm.tokenizer(prompt.text, add_special_tokens=special)["input_ids"])
    ids = lm.tokenizer(prompt.text + continuation, add_special_tokens=special)["input_ids"]
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
        ("topic", "sports: ball game, business: money, science: lab, world: earth"),
    ],
)
def test_label_logprobs_equal_a_full_forward_per_label(lm, task_name, verbalizers, chat):
    task = P.resolve_task(task_name, verbalizers=verbalizers)
    query = "The striker scored twice in the final."
    result = P.run_icl(lm, task, query, shots=3, seed=5, chat=chat)
    prompt = P.build_prompt(task, result.demonstrations, query, lm.tokenizer, chat)
    assert result.prompt == prompt.text
    for entry, continuation in zip(result.labels, prompt.continuations):
        assert entry.logprob == pytest.approx(independent_logprob(lm, prompt, continuation), abs=1e-3)
    assert sum(e.prob for e in result.labels) == pytest.approx(1.0)
    assert result.prediction == max(result.labels, key=lambda e: e.logprob).label
    assert result.n_prompt_tokens == len(result.prompt_tokens)


def test_reusing_a_shared_prefix_changes_no_score(lm):
    task = P.resolve_task("sentiment", verbalizers="positive: great, negative: awful")
    demos = P.draw_demonstrations(task.items, 4, seed=1)
    prompt = P.build_prompt(task, demos, "The soup was cold.", lm.tokenizer)
    shared = P.encode(lm.tokenizer, P.build_prompt(task, demos, "x", lm.tokenizer).text, False)[:-3]
    alone, _ = P.score_continuations(lm, prompt)
    reused, _ = P.score_continuations(lm, prompt, P.extend(lm, shared))
    assert [s.logprob for s in reused] == pytest.approx([s.logprob for s in alone], abs=1e-4)


def test_batched_queries_score_as_each_alone(lm):
    """score_many right-pads queries of different lengths into one forward over the shared prefix."""
    task = P.resolve_task("topic", verbalizers="sports: ball game, business: money, science: lab, world: earth")
    demos = P.draw_demonstrations(task.items, 2, seed=4)
    prompts = [P.build_prompt(task, demos, item.text, lm.tokenizer) for item in task.items[10:15]]
    batched = P.score_many(lm, prompts, P.shared_prefix(lm, task, demos, False), batch_size=3)
    for prompt, (scores, _) in zip(prompts, batched):
        alone, _ = P.score_continuations(lm, prompt)
        assert [s.logprob for s in scores] == pytest.approx([s.logprob for s in alone], abs=1e-4)


@pytest.mark.parametrize("k", [0, 1, 4])
def test_k_demonstrations_appear_in_the_prompt(k):
    task = datasets.load_task("sentiment")
    demos = P.draw_demonstrations(task.items, k, seed=3)
    prompt = P.build_prompt(task, demos, "A quiet film.", None)
    assert len(demos) == k
    assert prompt.text.count("Review: ") == k + 1
    for demo in demos:
        assert f"Review: {demo.text}\nSentiment: {demo.label}" in prompt.text
    assert prompt.text.endswith("Review: A quiet film.\nSentiment:")
    assert prompt.continuations == (" positive", " negative")


def test_the_same_seed_draws_the_same_demonstrations():
    items = datasets.load_task("topic").items
    assert P.draw_demonstrations(items, 8, seed=7) == P.draw_demonstrations(items, 8, seed=7)
    assert P.draw_demonstrations(items, 8, seed=7) != P.draw_demonstrations(items, 8, seed=8)


def test_chat_prompt_puts_demonstrations_in_turns(lm):
    task = datasets.load_task("sentiment")
    demos = P.draw_demonstrations(task.items, 2, seed=0)
    prompt = P.build_prompt(task, demos, "Great!", lm.tokenizer, chat=True)
    assert prompt.text.count("<|assistant|>") == 3 and prompt.text.endswith("<|assistant|>")
    assert prompt.continuations == ("positive", "negative")


def biased_model(favoured: str, other: str, bias: float = 6.0) -> models.LoadedModel:
    """A tiny model whose output layer adds `bias` to the tokens of `favoured` that `other` lacks, whatever the input."""
    lm = long_tiny(seed=1)
    lm.model.config.tie_word_embeddings = False
    head = torch.nn.Linear(32, lm.model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.copy_(lm.model.lm_head.weight)
        head.bias.zero_()
        tokens = set(lm.tokenizer(favoured)["input_ids"]) - set(lm.tokenizer(other)["input_ids"])
        head.bias[list(tokens)] = bias
    lm.model.lm_head = head
    return lm


def test_calibration_removes_a_constructed_label_bias():
    lm = biased_model(" positive", " negative")
    task = datasets.load_task("sentiment")
    results = [P.run_icl(lm, task, item.text, shots=0) for item in task.items[:20]]
    assert {r.prediction for r in results} == {"positive"}  # the bias wins every time
    assert all(r.content_free_probs[0] > 0.9 for r in results)
    assert "negative" in {r.calibrated_prediction for r in results}  # calibration undoes it
    for r in results:
        assert sum(e.calibrated_prob for e in r.labels) == pytest.approx(1.0)


def test_calibrate_divides_by_the_content_free_distribution():
    assert P.calibrate([0.7, 0.3], [0.9, 0.1]) == pytest.approx([0.7 / 0.9 / (0.7 / 0.9 + 3), 3 / (0.7 / 0.9 + 3)])


def test_sweep_reports_every_shot_count_with_progress(lm):
    seen = []
    task = datasets.load_task("sentiment")
    result = P.sweep(lm, task, "2, 0, 1", repeats=2, max_items=6, progress=lambda f, m: seen.append(f))
    assert [p.shots for p in result.points] == [0, 1, 2]
    assert [p.repeats for p in result.points] == [1, 2, 2]
    for point in result.points:
        assert point.n_items == 6 and len(point.accuracies) == point.repeats
        assert 0 <= point.accuracy_mean <= 1 and point.accuracy_std >= 0
        assert point.calibrated_mean is not None
    assert result.majority_baseline == 0.5 and result.random_baseline == 0.5
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_sweep_accuracy_matches_one_query_at_a_time(lm):
    task = datasets.load_task("topic")
    result = P.sweep(lm, task, "2", repeats=1, max_items=4, seed=3)
    evaluation, pool = P.split_items(task, 4, 3)
    demos = P.draw_demonstrations(pool, 2, 3 + 2)
    right = 0
    for item in evaluation:
        scores, _ = P.score_continuations(lm, P.build_prompt(task, demos, item.text, lm.tokenizer))
        best = max(range(len(scores)), key=lambda i: scores[i].logprob)
        right += task.labels[best] == item.label
    assert result.points[0].accuracies == [right / 4]


def test_generation_task_answers_by_greedy_decoding(lm):
    task = datasets.load_task("antonyms")
    result = P.run_icl(lm, task, "hot", shots=2)
    assert result.labels == [] and isinstance(result.prediction, str)
    assert result.expected == "cold"
    sweep = P.sweep(lm, task, "0, 1", repeats=1, max_items=3)
    assert sweep.points[0].calibrated_mean is None and sweep.random_baseline == 0.0


def test_custom_task_is_parsed():
    task = P.custom_task("yes: Yes\nno: No", "Is fire hot? => yes\nIs ice hot? => no\n", "Q: {text}\nA: {label}")
    assert task.labels == ("yes", "no") and task.verbalizers == ("Yes", "No")
    assert task.items[1] == datasets.Example("Is ice hot?", "no")


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda lm: P.run_icl(lm, P.custom_task("a: A, b: B", "x => a\ny => b"), "z", shots=5),
            "only 2 demonstrations",
        ),
        (lambda lm: P.run_icl(lm, datasets.load_task("sentiment"), "   "), "query is empty"),
        (lambda lm: P.custom_task("yes: Yes", "x => yes"), "at least 2 labels"),
        (lambda lm: P.custom_task("yes: Yes, no: Yes", "x => yes"), "must differ"),
        (lambda lm: P.resolve_task("sentiment", verbalizers="positive: , negative: bad"), "positive is empty"),
        (lambda lm: P.resolve_task("sentiment", verbalizers="positive: good"), "missing: negative"),
        (lambda lm: P.resolve_task("sentiment", template="{text} is"), "{label} exactly once"),
        (lambda lm: P.custom_task("a: A, b: B", "x -> a"), "text => label"),
        (lambda lm: P.run_icl(lm, datasets.load_task("sentiment"), "ok", shots=40), "shots = 40"),
        (lambda lm: P.sweep(lm, datasets.load_task("sentiment"), "0,1,2,3,4,5,6,7,8"), "limit is 8"),
        (lambda lm: P.sweep(lm, datasets.load_task("sentiment"), "0,8", repeats=11), "repeats"),
        (lambda lm: P.sweep(lm, datasets.load_task("sentiment"), "0,8", max_items=75), "1 to 72"),
        (
            lambda lm: P.sweep(lm, datasets.load_task("topic"), "1,2,3,4,5,6,7", repeats=10, max_items=40),
            "limit is 2,000",
        ),
        (lambda lm: P.sweep(lm, datasets.load_task("topic"), ""), "shots_list is empty"),
    ],
)
def test_bad_input_is_explained(lm, call, message):
    with pytest.raises(ExplorerError, match=message):
        call(lm)


def test_prompt_over_the_context_says_how_many_shots_fit(tiny):
    task = datasets.load_task("sentiment")
    with pytest.raises(ExplorerError, match=r"context of 128 tokens; at most (\d+) shots fit") as error:
        P.run_icl(tiny, task, "Fine.", shots=8)
    fitting = int(error.value.args[0].split("at most ")[1].split()[0])
    assert P.run_icl(tiny, task, "Fine.", shots=fitting).shots == fitting


def test_bundled_model_end_to_end(bundled):
    task = datasets.load_task("sentiment")
    query = "An absolutely wonderful, heartwarming film that I loved."
    result = P.run_icl(bundled, task, query, shots=2, seed=0, calibrated=False)
    prompt = P.build_prompt(task, result.demonstrations, query, bundled.tokenizer)
    for entry, continuation in zip(result.labels, prompt.continuations):
        assert entry.logprob == pytest.approx(independent_logprob(bundled, prompt, continuation), abs=1e-3)
    assert result.prediction == "positive"
    assert result.n_prompt_tokens == len(bundled.tokenizer(result.prompt)["input_ids"])


def test_view_handlers_return_figures_and_the_api_payload(lm, monkeypatch):
    from explorer.views import prompting as view

    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: lm)
    figure, summary, prompt, result = view.icl("topic", 2, "Shares fell.", verbalizers="")
    assert [e["label"] for e in result["labels"]] == ["sports", "business", "science", "world"]
    assert set(result) >= {"model", "task", "shots", "prompt", "prompt_tokens", "labels", "prediction"}
    assert prompt == result["prompt"] and f"{result['n_prompt_tokens']:,} tokens" in summary
    assert len(figure.data) == 3  # raw, content-free bias, calibrated
    figure, result = view.icl_sweep("sentiment", shots_list="0, 1", repeats=1, max_items=4)
    assert [p["shots"] for p in result["points"]] == [0, 1]
    assert {"accuracy_mean", "accuracy_std", "n_items", "repeats"} <= set(result["points"][0])
    with pytest.raises(view.gr.Error, match="query is empty"):
        view.icl("sentiment", 1, "")


@pytest.mark.parametrize("task", [*datasets.TASK_NAMES, P.CUSTOM])
def test_view_task_defaults_make_a_valid_task(task):
    from explorer.views import prompting as view

    template, verbalizers, instruction, query = view.task_defaults(task)
    chosen = P.resolve_task(task, template, verbalizers, instruction, view.CUSTOM_EXAMPLES)
    assert chosen.template == template and query.strip()
