"""How few parameters suffice: placement reads the real modules, ranks are checked against the layers
they adapt, and the sweep trains the head, each rank and each prompt length."""

from __future__ import annotations

import math

import pytest

from explorer import tuning
from explorer.checks import ExplorerError
from explorer.datasets import Example
from explorer.tuning import budget, placement
from explorer.tuning.budget import BudgetConfig
from explorer.tuning.experiment import last
from explorer.tuning.placement import INPUT, OUTPUT, Location, location

from builders import tiny_gemma, tiny_llama


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(context=512)


def tiny_data() -> tuning.LabelledData:
    items = [Example(t, "positive") for t in ("great fun", "lovely staff")]
    items += [Example(t, "negative") for t in ("awful food", "rude staff")]
    return tuning.LabelledData(tuple(items), tuple(items), ("positive", "negative"))


@pytest.mark.parametrize(
    "name, expected",
    [
        ("base_model.model.model.layers.3.self_attn.q_proj.lora_A.default.weight", Location("3", "self_attn.q_proj")),
        ("model.layers.0.mlp.down_proj.ia3_l.default", Location("0", "mlp.down_proj")),
        ("transformer.h.11.attn.c_attn.bias", Location("11", "attn.c_attn")),
        ("model.embed_tokens.weight", Location(INPUT, "embed_tokens")),
        ("prompt_encoder.default.embedding.weight", Location(INPUT, "prompt_encoder.embedding")),
        ("base_model.model.score.modules_to_save.default.weight", Location(OUTPUT, "score")),
        ("model.norm.weight", Location(OUTPUT, "norm")),
    ],
)
def test_a_parameter_s_name_says_where_it_sits(name, expected):
    assert location(name) == expected


def test_placement_counts_every_trainable_parameter_where_the_method_put_it(tiny):
    settings = tuning.TuningSettings(lora_r=2, prompt_tokens=3)
    for method in tuning.METHODS:
        prepared = tuning.prepare(tiny, method, settings)
        placed = placement.placement(method, prepared.model)
        assert sum(p.parameters for p in placed) == prepared.trainable, method
    lora = placement.placement("lora", tuning.prepare(tiny, "lora", settings).model)
    hidden, kv = 32, 16  # tiny Llama: q_proj 32 -> 32, v_proj 32 -> 16 (2 KV heads of 8)
    assert [(p.position, p.module, p.parameters) for p in lora] == [
        (layer, module, 2 * (hidden + out))
        for layer in ("0", "1")
        for module, out in (("self_attn.q_proj", hidden), ("self_attn.v_proj", kv))
    ] + [(OUTPUT, "score", 2 * hidden)]
    prompt = placement.placement("prompt", tuning.prepare(tiny, "prompt", settings).model)
    assert [(p.position, p.parameters) for p in prompt] == [(INPUT, 3 * hidden), (OUTPUT, 2 * hidden)]


@pytest.mark.parametrize("build, most", [(tiny_llama, 16), (tiny_gemma, 16)])
def test_a_rank_wider_than_the_narrowest_adapted_layer_is_refused(build, most):
    lm = build(context=512)
    assert budget.lora_width(lm)[0] == most
    with pytest.raises(ExplorerError, match=rf"rank {most + 1} is larger than the layer.*allowed: 1 to {most}"):
        budget.budget(lm, BudgetConfig(ranks=(1, most + 1)), data=tiny_data())


def test_the_sweep_trains_the_head_each_rank_and_each_prompt_length(tiny):
    config = BudgetConfig(ranks="4, 1", prompt_lengths="2", steps=2, learning_rate=1e-2, prompt_learning_rate=1e-1)
    stream = budget.iter_budget(tiny, config, data=tiny_data())
    first = next(stream)
    assert not first.points and first.placements  # placement first, before any training
    result = last(stream)
    assert [(p.method, p.setting) for p in result.points] == [("head", 0), ("lora", 1), ("lora", 4), ("prompt", 2)]
    head, lora1, lora4, prompt = result.points
    assert head.trainable < lora1.trainable < lora4.trainable and prompt.trainable == head.trainable + 2 * 32
    assert all(math.isfinite(x) for p in result.points for x in (p.accuracy, p.ppl_after, *p.losses))
    assert result.max_rank == 16 and result.positions == ["input", "0", "1", "output"]
    assert {p.method for p in result.placements} == set(tuning.METHODS)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(ranks="0"), "ranks"),
        (dict(ranks="1, two"), "ranks must be a number"),
        (dict(ranks="1", prompt_lengths=""), "prompt_lengths is empty"),
        (dict(ranks="1", prompt_lengths="1,2,3,4,5,6,7,8,9"), "limit is 8"),
        (dict(ranks="1", prompt_learning_rate=0), "prompt_learning_rate"),
    ],
)
def test_bad_settings_are_refused_with_what_is_allowed(tiny, change, message):
    with pytest.raises(ExplorerError, match=message):
        budget.budget(tiny, BudgetConfig(**change), data=tiny_data())
