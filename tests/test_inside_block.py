"""The block: parameters counted once each and summing to the model's total, the diagram read from the
modules, the residual stream's norm equal to the model's own hidden states'."""

from __future__ import annotations

import pytest
import torch

from explorer import models
from explorer.inside import block

from builders import SAMPLE_TEXT, tiny_bert, tiny_gemma, tiny_gpt2_eager, tiny_llama

FAMILIES = {
    "llama": lambda: tiny_llama(attn="eager"),
    "gemma3": lambda: tiny_gemma(attn="eager"),
    "gpt2": tiny_gpt2_eager,
    "bert": tiny_bert,
}


@pytest.mark.parametrize("family", FAMILIES)
def test_components_sum_to_the_models_parameters(family):
    lm = FAMILIES[family]()
    result = block.block(lm, SAMPLE_TEXT)
    assert result.total == result.num_parameters == lm.model.num_parameters()
    assert sum(c.params for c in result.components) == result.total
    for c in result.components:
        assert sum(p.params for p in c.parts) == c.params
        if c.name.startswith("layer "):
            assert sum(c.groups.values()) == c.params and set(c.groups) == {"attention", "norms", "mlp"}
    names = [c.name for c in result.components]
    assert names[0] == "embedding" and names.count("layer 0") == 1
    assert ("final norm" in names) == (family != "bert")  # BERT is post-LN: no final norm
    assert result.tied


def test_a_llama_layer_counted_from_its_config():
    lm = tiny_llama(attn="eager")
    c = lm.model.config
    d, heads, kv, ff = c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.intermediate_size
    d_k = d // heads
    layer = block.block(lm, SAMPLE_TEXT).components[1]
    assert layer.groups == {"attention": d * heads * d_k * 2 + d * kv * d_k * 2, "mlp": 3 * d * ff, "norms": 2 * d}


def test_diagrams_follow_each_familys_forward():
    llama = block.block(tiny_llama(attn="eager"), SAMPLE_TEXT)
    assert [b.kind for b in llama.layer] == ["position", "norm", "attention", "residual", "norm", "mlp", "residual"]
    assert llama.layer[1].label == "RMSNorm" and llama.layer[5].label.startswith("SwiGLU")
    assert "2 key/value heads" in llama.layer[2].label and llama.layer[2].params == 3072
    assert "RoPE inside every attention" in llama.layer[0].detail
    gemma = block.block(tiny_gemma(attn="eager"), SAMPLE_TEXT)
    assert [b.kind for b in gemma.layer].count("norm") == 4 and gemma.layer[6].label.startswith("GeGLU")
    assert "RMSNorm on each head's q and k" in gemma.layer[2].detail and "√d" in gemma.layer[0].detail
    bert = block.block(tiny_bert(), SAMPLE_TEXT)
    assert [b.kind for b in bert.layer][-1] == "norm" and bert.differences[0]["model"].startswith("post-LN")
    assert bert.layer[0].label == "token embedding + learned positions"
    assert [b.label for b in llama.notes][3] == "LayerNorm (post-LN)"
    aspects = {row["aspect"]: row["model"] for row in llama.differences}
    assert aspects["positions"].startswith("rotary") and aspects["norm"] == "LlamaRMSNorm"


@pytest.mark.parametrize("family", ["llama", "gpt2", "bert"])
def test_residual_norms_are_the_models_hidden_states(family):
    lm = FAMILIES[family]()
    result = block.block(lm, SAMPLE_TEXT)
    with torch.no_grad():
        states = lm.model(
            input_ids=torch.tensor([lm.tokenizer(SAMPLE_TEXT)["input_ids"]]), output_hidden_states=True
        ).hidden_states
    expected = torch.stack(states).norm(dim=-1)[:, 0]  # (layers + 1, n)
    ours = torch.tensor(result.residual_norms)
    last = -1 if family != "bert" else None  # decoders return the last state after their final norm
    torch.testing.assert_close(ours[:last], expected[:last], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.tensor(result.residual_mean), ours.mean(-1))


def test_the_bundled_model_adds_up():
    lm = models.get(attn="eager")
    result = block.block(lm, "Attention is all you need.")
    assert result.total == lm.model.num_parameters() == 134_515_008
    layers = [c for c in result.components if c.name.startswith("layer ")]
    assert len(layers) == 30 and layers[0].groups == {"attention": 884_736, "mlp": 2_654_208, "norms": 1_152}
