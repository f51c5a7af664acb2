"""The controls table: one entry per control, each a transformers processor applied in generate()'s order."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from transformers import LogitsProcessorList

from explorer import generation as g
from explorer.checks import ExplorerError


def test_every_settings_field_but_do_sample_is_one_control():
    fields = {f.name for f in dataclasses.fields(g.SamplingSettings)}
    assert {c.field for c in g.CONTROLS} == fields - {"do_sample"}


def test_off_values_apply_no_processor_and_greedy_keeps_only_the_penalty():
    assert g.SamplingSettings(do_sample=True).controls() == []
    settings = g.SamplingSettings(do_sample=False, temperature=0.5, top_k=3, top_p=0.5, repetition_penalty=1.2)
    assert [name for name, _ in settings.controls()] == ["repetition penalty"]
    assert [name for name, _ in settings.controls(sampling=True)] == [
        "repetition penalty", "temperature", "top-k", "top-p"
    ]  # fmt: skip


def test_stages_equal_transformers_processor_list():
    """The last stage is exactly what transformers' own processor list gives, on the same scores."""
    torch.manual_seed(0)
    logits, ids = torch.randn(1, 50), torch.tensor([[1, 2, 3, 2]])
    settings = g.SamplingSettings(True, 0.7, 10, 0.9, 1.3)
    stages = settings.controls()
    distributions, scores = g.sampling.stage_distributions(stages, ids, logits)
    expected = LogitsProcessorList([p for _, p in stages])(ids, logits.clone())
    assert torch.allclose(scores, expected) and len(distributions) == 5
    assert torch.allclose(distributions[0], logits.softmax(-1))


@pytest.mark.parametrize(
    "field, value", [("temperature", 0), ("top_p", 1.5), ("top_k", -1), ("repetition_penalty", 11)]
)
def test_bad_values_name_the_control_and_its_range(field, value):
    with pytest.raises(ExplorerError, match=f"{field}.*allowed"):
        dataclasses.replace(g.SamplingSettings(), **{field: value}).validated()
