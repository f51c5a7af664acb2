"""The method catalogue: every method's trainable parameters, counted from the instantiated modules."""

from __future__ import annotations

import peft
import pytest
import torch

from explorer import i18n, tuning
from explorer.tuning import METHODS, TuningSettings
from explorer.tuning.methods import SEQ_CLS, Method

from builders import tiny_gemma, tiny_gpt2

SETTINGS = TuningSettings(lora_r=4, adapter_size=8, prefix_tokens=5, prompt_tokens=6, num_labels=3)


@pytest.fixture(scope="module")
def gemma():
    return tiny_gemma()


def test_each_method_is_hand_written_or_peft_and_peft_methods_come_from_the_table():
    for method in METHODS.values():
        assert (method.set_up is None) != (method.peft_config is None), method.id
    assert set(tuning.PEFT_METHODS) == {"ln_tuning", "prefix", "prompt", "ia3", "lora", "adalora", "vera"}


@pytest.mark.parametrize("method", tuning.PEFT_METHODS)
def test_counts_equal_peft_own_count(tiny, method):
    prepared = tuning.prepare(tiny, method, SETTINGS)
    trainable, _ = prepared.model.get_nb_trainable_parameters()
    assert prepared.is_peft and prepared.trainable == trainable > 0


def test_a_new_method_is_one_entry(tiny, monkeypatch):
    loha = Method(
        "loha", "LoHa (peft)", "reparameterization", "a Hadamard product of two low-rank updates",
        peft_config=lambda s, steps: peft.LoHaConfig(task_type=SEQ_CLS, r=s.lora_r, target_modules=["q_proj"]),
        note="rank {lora_r}",
    )  # fmt: skip
    monkeypatch.setitem(METHODS, "loha", loha)
    prepared = tuning.prepare(tiny, "loha", SETTINGS)
    hidden, q_out, layers = 32, 32, 2  # LoHa: two (A, B) pairs per matrix, r x in and out x r each
    assert prepared.trainable == layers * 2 * SETTINGS.lora_r * (hidden + q_out) + hidden * SETTINGS.num_labels
    assert prepared.note == "rank 4"


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


def test_notes_are_written_in_the_language_being_served(tiny):
    with i18n.speaking("zh-CN"):
        assert "偏置" in tuning.prepare(tiny, "bitfit", SETTINGS).note
        assert "初始秩 4" in tuning.prepare(tiny, "adalora", SETTINGS).note  # the setting fills the template
    assert tuning.prepare(tiny, "adalora", SETTINGS).note.startswith("Counted at the initial rank 4")
    assert all(m.note in i18n.messages("zh-CN") for m in METHODS.values() if m.note)


def test_bitfit_trains_exactly_the_biases_where_there_are_some():
    prepared = tuning.prepare(tiny_gpt2(), "bitfit", SETTINGS)
    biases = sum(p.numel() for n, p in prepared.model.named_parameters() if n.endswith(".bias"))
    assert biases > 0
    assert prepared.trainable == biases + prepared.model.score.weight.numel()
    assert {n for n, p in prepared.model.named_parameters() if p.requires_grad} == {
        n for n, _ in prepared.model.named_parameters() if n.endswith(".bias") or n.startswith("score.")
    }


def test_the_shared_classifier_reuses_the_loaded_weights(tiny):
    model = tuning.shared_classifier(tiny, 2)
    assert model.model.embed_tokens.weight.data_ptr() == tiny.model.model.embed_tokens.weight.data_ptr()
    assert model.config.pad_token_id == tiny.tokenizer.eos_token_id  # the pad id of explorer.lm.pad_id


def test_adalora_s_step_hook_prunes_to_the_target_rank_by_the_last_step(tiny):
    steps, settings = 4, TuningSettings(lora_r=4)
    model = tuning.prepare(tiny, "adalora", settings, total_steps=steps).model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids, labels = torch.tensor([[5, 6, 7, 8], [9, 10, 11, 12]]), torch.tensor([1, 0])  # (batch, n), (batch,)
    for done in range(1, steps + 1):
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        METHODS["adalora"].after_step(model, done)
        optimizer.zero_grad()
    singular_values = [p for n, p in model.named_parameters() if "lora_E" in n]  # q_proj and v_proj of 2 layers
    kept = sum(int((p != 0).sum()) for p in singular_values)
    assert len(singular_values) == 4 and kept == 4 * (settings.lora_r // 2)
    assert model.peft_config["default"].rank_pattern  # the final allocation is fixed at the last step


def test_setting_up_leaves_the_global_rng_alone(tiny):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    tuning.prepare(tiny, "lora", SETTINGS, seed=1)
    assert torch.equal(torch.rand(3), expected)


def gemma_counts(lm, s: TuningSettings) -> dict[str, int]:
    """Every method's trainable parameters on a Gemma 3 text model, from its config alone."""
    c = lm.model.config
    d, inter, layers, r = c.hidden_size, c.intermediate_size, c.num_hidden_layers, s.lora_r
    q, kv = c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim  # projection widths
    head = d * s.num_labels  # the classifier head has no bias
    layer_norms = 4 * d  # input, post-attention, pre- and post-feed-forward
    return {
        "full": lm.num_params + head,
        "head": head,
        "bitfit": layers * (layer_norms + 2 * c.head_dim) + d + head,  # no biases: every norm (q/k norms too)
        "ln_tuning": layers * layer_norms + d + head,  # peft's Gemma 3 targets: the four layer norms and the final
        "adapter": 2 * layers * (2 * d * s.adapter_size + s.adapter_size + d) + head,
        "prefix": layers * 2 * s.prefix_tokens * kv + head,  # a key and a value per virtual token per layer
        "prompt": s.prompt_tokens * d + head,
        "ia3": layers * (q + kv + inter) + head,  # rescales q_proj's and v_proj's outputs, down_proj's input
        "lora": layers * r * ((d + q) + (d + kv)) + head,  # A (r x in) and B (out x r) on q_proj and v_proj
        "adalora": layers * (r * ((d + q) + (d + kv)) + 2 * r) + head,  # plus the r singular values of each
        "vera": layers * ((r + q) + (r + kv)) + head,  # the scaling vectors d (r) and b (out) of each
    }


def test_gemma3_gets_exact_counts_for_every_method(gemma):
    expected = gemma_counts(gemma, SETTINGS)
    assert list(expected) == list(METHODS)
    for method, count in expected.items():
        prepared = tuning.prepare(gemma, method, SETTINGS)
        assert prepared.trainable == count, method
        if prepared.is_peft:
            assert prepared.model.get_nb_trainable_parameters()[0] == count, method
    lora = tuning.prepare(gemma, "lora", SETTINGS).model.peft_config["default"]
    assert set(lora.target_modules) == {"q_proj", "v_proj"}  # peft's defaults for Gemma 3


def test_reference_counts_on_the_bundled_model(bundled):
    lora = tuning.prepare(bundled, "lora", TuningSettings(lora_r=8))
    prompt = tuning.prepare(bundled, "prompt", TuningSettings(prompt_tokens=20))
    full = tuning.prepare(bundled, "full", TuningSettings())
    assert lora.trainable == lora.model.get_nb_trainable_parameters()[0] == 461_952
    assert prompt.trainable == 12_672
    assert full.trainable == bundled.num_params + 576 * 2
    assert "no bias" in tuning.prepare(bundled, "bitfit", TuningSettings()).note
