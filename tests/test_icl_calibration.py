"""Contextual calibration: it removes a constructed label bias, and divides by the content-free distribution."""

from __future__ import annotations

import pytest
import torch

from explorer import datasets, icl, models

from builders import tiny_llama


def biased_model(favoured: str, other: str, bias: float = 6.0) -> models.LoadedModel:
    """A tiny model whose output layer adds `bias` to the tokens of `favoured` that `other` lacks, whatever the input."""
    lm = tiny_llama(seed=1, context=4096, chat=True)
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
    results = [icl.run_icl(lm, task, item.text, shots=0) for item in task.items[:20]]
    assert {r.prediction for r in results} == {"positive"}  # the bias wins every time
    assert all(r.content_free_probs[0] > 0.9 for r in results)
    assert "negative" in {r.calibrated_prediction for r in results}  # calibration undoes it
    for r in results:
        assert sum(e.calibrated_prob for e in r.labels) == pytest.approx(1.0)


def test_calibrate_divides_by_the_content_free_distribution():
    assert icl.calibrate([0.7, 0.3], [0.9, 0.1]) == pytest.approx([0.7 / 0.9 / (0.7 / 0.9 + 3), 3 / (0.7 / 0.9 + 3)])
