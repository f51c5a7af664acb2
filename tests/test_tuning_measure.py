"""The table: real checkpoint sizes, memory estimates, one row per method, bad settings explained."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from torch.nn.attention import SDPBackend, sdpa_kernel

from explorer import tuning
from explorer.checks import ExplorerError
from explorer.tuning import TuningSettings
from explorer.tuning.measure import SavedActivations, activation_bytes

from builders import tiny_gemma, tiny_llama

SETTINGS = TuningSettings(lora_r=4, adapter_size=8, prefix_tokens=5, prompt_tokens=6, num_labels=3)


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


def test_activations_on_meta_match_a_real_forward(tiny):
    """The table's estimate (a forward on the meta device, where attention runs the math kernel)
    counts exactly what a real forward saves with that kernel; CPU's fused kernel saves less."""
    ids = torch.randint(0, 100, (tuning.BATCH_SIZE, tuning.MEMORY_SEQ_LEN))  # (batch, n)
    real = tuning.prepare(tiny, "lora", SETTINGS).model
    with SavedActivations(real) as fused:
        real(input_ids=ids)
    with sdpa_kernel(SDPBackend.MATH), SavedActivations(real) as math:
        real(input_ids=ids)
    estimate = activation_bytes(tuning.prepare(tiny, "lora", SETTINGS).model)
    assert 0 < fused.bytes < math.bytes == estimate


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_table_rows_on_a_tiny_model(build):
    lm = build()
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    result = tuning.table(lm, SETTINGS)
    after = lm.model.state_dict()  # the meta-device measurements never touch the shared weights
    assert all(not v.is_meta and torch.equal(before[k], v) for k, v in after.items())
    rows = {r.method: r for r in result.rows}
    assert list(rows) == list(tuning.METHODS)
    assert rows["full"].trainable == result.total_params and rows["full"].percent == pytest.approx(100)
    assert rows["full"].tasks_per_full_copy == 1 and rows["head"].tasks_per_full_copy > 100
    for row in result.rows:
        assert row.memory_mb == pytest.approx(row.weights_mb + row.gradients_mb + row.adam_mb + row.activations_mb)
        assert row.adam_mb == pytest.approx(2 * row.gradients_mb) and row.gradients_mb == 4 * row.trainable / 2**20
    # a linear probe needs no activations inside the model; backpropagating through it does
    assert rows["head"].activations_mb < rows["lora"].activations_mb < rows["prompt"].activations_mb


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
