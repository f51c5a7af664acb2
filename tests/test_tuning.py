"""The Tuning tab: counts from the instantiated modules, real checkpoint sizes, real training."""

from __future__ import annotations

import gradio as gr
import pytest
import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel

from explorer import models, tuning
from explorer.checks import ExplorerError
from explorer.datasets import Example
from explorer.tuning import TuningSettings
from explorer.views import tuning as view

from conftest import tiny_llama, tiny_tokenizer

SETTINGS = TuningSettings(lora_r=4, adapter_size=8, prefix_tokens=5, prompt_tokens=6, num_labels=3)


def tiny_gpt2() -> models.LoadedModel:
    """A 2-layer GPT-2: unlike Llama its linear layers have biases (BitFit has something to train)."""
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=128,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config).eval()
    spec = models.ModelSpec("tiny-gpt2", "tests/tiny-gpt2", "causal", model.num_parameters())
    return models.LoadedModel(spec, model, tokenizer, "bundled")


def tiny_data(train_items: int = 8) -> tuning.LabelledData:
    positive = ["great fun, I loved it", "lovely and kind staff", "the best day ever", "wonderful, works well"]
    negative = ["awful, it broke at once", "rude and slow service", "the worst day ever", "terrible, never again"]
    items = [Example(t, "positive") for t in positive] + [Example(t, "negative") for t in negative]
    return tuning.LabelledData(tuple(items[:train_items]), tuple(items), ("positive", "negative"))


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize("method", tuning.PEFT_METHODS)
def test_counts_equal_peft_own_count(tiny, method):
    prepared = tuning.prepare(tiny, method, SETTINGS)
    trainable, _ = prepared.model.get_nb_trainable_parameters()
    assert prepared.is_peft and prepared.trainable == trainable > 0


def test_full_counts_every_parameter_of_the_classifier(tiny):
    prepared = tuning.prepare(tiny, "full", SETTINGS)
    head = prepared.model.score.weight.numel()
    assert prepared.trainable == prepared.base_params == tiny.num_params + head


def test_head_only_counts_the_head(tiny):
    prepared = tuning.prepare(tiny, "head", SETTINGS)
    assert prepared.trainable == prepared.model.score.weight.numel() == 32 * SETTINGS.num_labels


def test_adapter_count_is_the_added_modules_plus_head(tiny):
    prepared = tuning.prepare(tiny, "adapter", SETTINGS)
    adapters = [m for m in prepared.model.modules() if isinstance(m, tuning.BottleneckAdapter)]
    hidden, width, layers = 32, SETTINGS.adapter_size, 2
    assert len(adapters) == 2 * layers
    in_adapters = sum(p.numel() for a in adapters for p in a.parameters())
    assert in_adapters == 2 * layers * (2 * hidden * width + width + hidden)
    assert prepared.trainable == in_adapters + prepared.model.score.weight.numel()


def test_adapters_start_as_the_identity(tiny):
    plain = tuning.prepare(tiny, "head", SETTINGS, seed=3).model
    adapted = tuning.prepare(tiny, "adapter", SETTINGS, seed=3).model
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        assert torch.allclose(plain(input_ids=ids).logits, adapted(input_ids=ids).logits, atol=1e-6)


def test_bitfit_without_biases_trains_the_norms_and_says_so(tiny):
    prepared = tuning.prepare(tiny, "bitfit", SETTINGS)
    norms = [m for m in prepared.model.modules() if "norm" in type(m).__name__.lower()]
    expected = sum(p.numel() for m in norms for p in m.parameters()) + prepared.model.score.weight.numel()
    assert prepared.trainable == expected
    assert "no bias" in prepared.note


def test_bitfit_trains_exactly_the_biases_where_there_are_some():
    gpt2 = tiny_gpt2()
    prepared = tuning.prepare(gpt2, "bitfit", SETTINGS)
    biases = sum(p.numel() for n, p in prepared.model.named_parameters() if n.endswith(".bias"))
    assert biases > 0
    assert prepared.trainable == biases + prepared.model.score.weight.numel()
    assert {n for n, p in prepared.model.named_parameters() if p.requires_grad} == {
        n for n, _ in prepared.model.named_parameters() if n.endswith(".bias") or n.startswith("score.")
    }


def test_the_shared_classifier_reuses_the_loaded_weights(tiny):
    model = tuning.shared_classifier(tiny, 2)
    assert model.model.embed_tokens.weight.data_ptr() == tiny.model.model.embed_tokens.weight.data_ptr()


# ---------------------------------------------------------------- checkpoints and the table


@pytest.mark.parametrize("method", ["head", "adapter", "lora", "prompt"])
def test_checkpoint_size_equals_the_saved_file(tiny, tmp_path, method):
    prepared = tuning.prepare(tiny, method, SETTINGS)
    reported = tuning.checkpoint_bytes(prepared)
    if prepared.is_peft:
        prepared.model.save_pretrained(tmp_path)
        path = tmp_path / "adapter_model.safetensors"
    else:
        path = tmp_path / "state.safetensors"
        save_file({k: v.contiguous() for k, v in tuning.trainable_state(prepared).items()}, path)
    assert reported == path.stat().st_size
    assert 4 * prepared.trainable <= reported < 4 * prepared.trainable + 20_000  # fp32 tensors + a header


def test_table_rows_on_a_tiny_model(tiny):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    result = tuning.table(tiny, SETTINGS)
    after = tiny.model.state_dict()  # the meta-device measurements never touch the shared weights
    assert all(not v.is_meta and torch.equal(before[k], v) for k, v in after.items())
    rows = {r.method: r for r in result.rows}
    assert list(rows) == list(tuning.METHODS)
    assert rows["full"].trainable == result.total_params and rows["full"].percent == pytest.approx(100)
    assert rows["full"].tasks_per_full_copy == 1 and rows["head"].tasks_per_full_copy > 100
    for row in result.rows:
        assert row.memory_mb == pytest.approx(row.weights_mb + row.gradients_mb + row.adam_mb + row.activations_mb)
    # a linear probe needs no activations inside the model; backpropagating through it does
    assert rows["head"].activations_mb < rows["lora"].activations_mb < rows["prompt"].activations_mb


def test_reference_counts_on_the_bundled_model(bundled):
    lora = tuning.prepare(bundled, "lora", TuningSettings(lora_r=8))
    prompt = tuning.prepare(bundled, "prompt", TuningSettings(prompt_tokens=20))
    full = tuning.prepare(bundled, "full", TuningSettings())
    assert lora.trainable == lora.model.get_nb_trainable_parameters()[0] == 461_952
    assert prompt.trainable == 12_672
    assert full.trainable == bundled.num_params + 576 * 2
    assert "no bias" in tuning.prepare(bundled, "bitfit", TuningSettings()).note


# ---------------------------------------------------------------- training


def test_a_few_steps_lower_the_loss_and_leave_the_shared_model_alone(tiny):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    result = tuning.train(tiny, ["full", "lora"], steps=8, learning_rate=1e-2, data=tiny_data())
    for run in result.runs:
        assert run.steps_done == 8 and run.stopped is None
        assert run.losses[-1] < run.losses[0]
        assert run.ppl_before > 1 and run.ppl_after > 1 and run.peak_mem_mb > 0
    after = tiny.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_training_is_reproducible(tiny):
    first = tuning.train(tiny, ["adapter"], steps=3, seed=7, data=tiny_data(4))
    second = tuning.train(tiny, ["adapter"], steps=3, seed=7, data=tiny_data(4))
    assert first.runs[0].losses == second.runs[0].losses


def test_nan_loss_stops_that_run_and_keeps_the_others():
    broken = tiny_llama(seed=1)
    broken.model.model.norm.weight.data[0] = float("nan")
    result = tuning.train(broken, ["head", "lora"], steps=3, data=tiny_data())
    assert [r.method for r in result.runs] == ["head", "lora"]
    for run in result.runs:
        assert run.steps_done == 0 and "nan" in run.stopped.lower()
    assert view.payload(result)["runs"][0]["seconds_per_step"] is None  # plain JSON, no NaN


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "settings, message",
    [
        (TuningSettings(lora_r=0), "lora_r"),
        (TuningSettings(lora_r=tuning.MAX_RANK + 1), str(tuning.MAX_RANK)),
        (TuningSettings(prompt_tokens=0), "prompt_tokens"),
        (TuningSettings(prefix_tokens=10_000), str(tuning.MAX_VIRTUAL_TOKENS)),
        (TuningSettings(adapter_size=-3), "adapter_size"),
        (TuningSettings(num_labels=1), "num_labels"),
    ],
)
def test_bad_settings_are_explained(tiny, settings, message):
    with pytest.raises(ExplorerError, match=message):
        tuning.table(tiny, settings)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(methods=["lora", "dora"]), "Unknown method"),
        (dict(methods=[]), "at least one"),
        (dict(steps=0), "steps"),
        (dict(steps=tuning.MAX_STEPS + 1), str(tuning.MAX_STEPS)),
        (dict(learning_rate=0), "learning_rate"),
        (dict(learning_rate=-1e-3), "learning_rate"),
    ],
)
def test_bad_training_requests_are_explained(tiny, kwargs, message):
    with pytest.raises(ExplorerError, match=message):
        tuning.train(tiny, **{"methods": ["head"], **kwargs})


# ---------------------------------------------------------------- the view


def test_views_serve_the_contract(tiny, monkeypatch):
    monkeypatch.setattr(view.models, "get", lambda *args, **kwargs: tiny)
    *_, table = view.tuning_table("", 4, 8, 5, 6, 2)
    assert set(table) >= {"model", "total_params", "rows"}
    assert set(table["rows"][0]) >= {"method", "family", "trainable", "percent", "checkpoint_mb"}
    monkeypatch.setattr(tuning, "sentiment_data", tiny_data)
    figure, rows, runs = view.tuning_train("", "head,lora", 2, 1e-2, 0)
    assert [r["method"] for r in runs["runs"]] == ["head", "lora"] and len(figure.data) == 2
    assert set(runs["runs"][0]) >= {
        "method",
        "trainable",
        "losses",
        "accuracy",
        "seconds_per_step",
        "peak_mem_mb",
        "ppl_before",
        "ppl_after",
    }
    with pytest.raises(gr.Error, match="Unknown method"):
        view.tuning_train("", ["sgd"])
    with pytest.raises(gr.Error, match="lora_r"):
        view.tuning_table("", 0)
