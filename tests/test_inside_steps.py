"""One head step by step: every intermediate equals what the model's own sub-modules compute.

The reference is independent of explorer.inside: forward hooks on the real projections, norms and
output projection of a separate full forward, transformers' own `apply_rotary_pos_emb`, the
model's own additive mask and its eager attention weights (`output_attentions=True`).
"""

from __future__ import annotations

import pytest
import torch
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from explorer import models
from explorer.checks import ExplorerError
from explorer.inside import steps, trace

from builders import SAMPLE_TEXT, tiny_bert, tiny_gemma, tiny_gpt2_eager, tiny_llama

MODULES = {  # per family: where the projections are, inside one layer
    "llama": dict(
        attn="self_attn", q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.o_proj"
    ),
    "gpt2": dict(attn="attn", qkv="attn.c_attn", o="attn.c_proj"),
    "bert": dict(
        attn="attention.self",
        q="attention.self.query",
        k="attention.self.key",
        v="attention.self.value",
        o="attention.output.dense",
    ),
}
MODULES["gemma3"] = dict(MODULES["llama"], q_norm="self_attn.q_norm", k_norm="self_attn.k_norm")
LAYERS = {"llama": "layers", "gemma3": "layers", "gpt2": "h", "bert": "encoder.layer"}


@pytest.fixture(scope="module", params=["llama", "gemma3", "gpt2", "bert"])
def tiny(request) -> models.LoadedModel:
    build = {
        "llama": lambda: tiny_llama(attn="eager"),
        "gemma3": lambda: tiny_gemma(window=8, attn="eager"),
        "gpt2": tiny_gpt2_eager,
        "bert": tiny_bert,
    }
    return build[request.param]()


@pytest.fixture(scope="module")
def bundled_eager() -> models.LoadedModel:
    return models.get(attn="eager")


def reference(lm: models.LoadedModel, family: str, layer: int, text: str) -> dict:
    """One full forward of the model with hooks on layer `layer`'s real modules."""
    block = lm.model.base_model.get_submodule(LAYERS[family])[layer]
    seen, handles = {}, []
    for role, path in MODULES[family].items():
        module = block.get_submodule(path)
        if role == "attn":
            handles.append(
                module.register_forward_pre_hook(lambda m, a, k: seen.update(attn_in=(a, k)), with_kwargs=True)
            )
        elif role == "o":
            handles.append(module.register_forward_hook(lambda m, a, out: seen.update(o_in=a[0][0], o_out=out[0])))
        else:
            handles.append(module.register_forward_hook(lambda m, a, out, role=role: seen.update({role: out[0]})))
    try:
        with torch.no_grad():
            out = lm.model(input_ids=torch.tensor([lm.tokenizer(text)["input_ids"]]), output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    seen["attentions"] = out.attentions[layer][0]  # (heads, n, n)
    return seen


def check_every_step(
    lm: models.LoadedModel, family: str, layer: int, text: str = SAMPLE_TEXT, atol: float = 1e-5
) -> None:
    ref = reference(lm, family, layer, text)
    args, kwargs = ref["attn_in"]
    hidden = (args[0] if args else kwargs["hidden_states"])[0]  # (n, d)
    heads = ref["attentions"].shape[0]
    n = hidden.shape[0]
    if family == "gpt2":
        q_all, k_all, v_all = ref["qkv"].split(hidden.shape[1], dim=-1)
    else:
        q_all, k_all, v_all = ref["q"], ref["k"], ref["v"]
    head_dim = q_all.shape[-1] // heads
    group = heads // (k_all.shape[-1] // head_dim)

    def per_head(x: torch.Tensor) -> torch.Tensor:
        """(n, width) → (n, query heads, d_k), key/value heads repeated as transformers' repeat_kv does."""
        width = x.shape[-1] // head_dim
        return x.view(n, width, head_dim).repeat_interleave(heads // width, dim=1)

    def close(ours, theirs: torch.Tensor) -> None:
        torch.testing.assert_close(torch.tensor(ours), theirs.float(), atol=atol, rtol=1e-4)

    mask = (
        kwargs.get("attention_mask")
        if kwargs.get("attention_mask") is not None
        else (args[1] if len(args) > 1 else None)
    )
    outputs = []
    for head in range(heads):
        r = steps.attention_steps(lm, text, layer, head)
        assert r.kv_head == head // group and r.num_heads == heads
        close(r.hidden, hidden)
        close(r.q_projected, per_head(q_all)[:, head])
        close(r.k_projected, per_head(k_all)[:, head])
        close(r.v, per_head(v_all)[:, head])
        q, k = per_head(q_all)[:, head], per_head(k_all)[:, head]
        if family == "gemma3":  # q_norm / k_norm ran on (1, heads, n, d_k)
            q, k = ref["q_norm"][head], ref["k_norm"][head // group]
        close(r.q_before_rope, q)
        close(r.k_before_rope, k)
        if r.rotary:
            cos, sin = kwargs["position_embeddings"]
            q, k = (t[0, 0] for t in apply_rotary_pos_emb(q[None, None], k[None, None], cos, sin))
        else:
            assert r.q == r.q_before_rope and r.k == r.k_before_rope
        close(r.q, q)
        close(r.k, k)
        close(r.scores, q @ k.T)
        close(r.scaled, q @ k.T * r.scale)
        visible = torch.ones(n, n, dtype=torch.bool) if mask is None else mask[0, 0] == 0
        assert torch.equal(torch.tensor(r.mask), visible)
        close(r.weights, ref["attentions"][head])
        assert r.max_abs_diff_vs_model < 1e-4
        close(r.weighted_values, ref["o_in"][:, head * head_dim : (head + 1) * head_dim])
        outputs.append(torch.tensor(r.output))
    projection = lm.model.base_model.get_submodule(LAYERS[family])[layer].get_submodule(MODULES[family]["o"])
    bias = 0 if projection.bias is None else projection.bias.detach()
    torch.testing.assert_close(sum(outputs) + bias, ref["o_out"].float(), atol=atol * 10, rtol=1e-4)  # heads add up


def test_every_intermediate_matches_the_models_own_modules_on_tiny_models(tiny):
    family = {"LlamaForCausalLM": "llama", "Gemma3ForCausalLM": "gemma3", "GPT2LMHeadModel": "gpt2"}.get(
        type(tiny.model).__name__, "bert"
    )
    for layer in range(tiny.model.config.num_hidden_layers):
        check_every_step(tiny, family, layer)


def test_gemma_sliding_layers_hide_keys_beyond_the_window_and_its_global_layer_does_not():
    lm = tiny_gemma(window=8, attn="eager")
    n = len(lm.tokenizer(SAMPLE_TEXT)["input_ids"])
    assert n > 8
    local, global_ = steps.attention_steps(lm, SAMPLE_TEXT, 0, 0), steps.attention_steps(lm, SAMPLE_TEXT, 2, 0)
    assert local.sliding_window == 8 and global_.sliding_window is None
    assert local.mask[n - 1][n - 9] is False and local.mask[n - 1][n - 8] is True
    assert global_.mask[n - 1][0] is True
    assert local.weights[n - 1][0] == 0.0 and global_.weights[n - 1][0] > 0
    assert local.qk_norm and local.scale == pytest.approx(256**-0.5) and "query_pre_attn_scalar" in local.scale_rule


def test_shapes_and_payload(tiny):
    r = steps.attention_steps(tiny, SAMPLE_TEXT, 0, 1)
    n, d = len(r.tokens), len(r.hidden[0])
    d_k = len(r.q[0])
    assert r.shapes["hidden"] == [n, d] and r.shapes["W_Q"] == [d, d_k] and r.shapes["W_O"] == [d_k, d]
    for name in ("q", "k", "v", "q_before_rope", "k_before_rope", "weighted_values"):
        assert [len(getattr(r, name)), len(getattr(r, name)[0])] == r.shapes[name] == [n, d_k]
    for name in ("scores", "scaled", "mask", "weights"):
        assert [len(getattr(r, name)), len(getattr(r, name)[0])] == r.shapes[name] == [n, n]
    assert [len(r.output), len(r.output[0])] == r.shapes["output"] == [n, d]
    rows = torch.tensor(r.weights).sum(-1)
    assert torch.allclose(rows, torch.ones(n), atol=1e-5)


def test_the_bundled_model_step_by_step(bundled_eager):
    r = steps.attention_steps(bundled_eager, "Attention is all you need. Attention is all", 17, 4)
    assert (r.num_layers, r.num_heads, r.num_key_value_heads, r.kv_head) == (30, 9, 3, 1)
    assert r.rotary and not r.qk_norm and r.scale == 0.125 and r.scale_rule == "1/√d_k = 1/√64"
    assert r.max_abs_diff_vs_model < 1e-4
    check_every_step(bundled_eager, "llama", 17, "Attention is all you need.", atol=1e-4)


@pytest.mark.parametrize(
    ("layer", "head", "says"),
    [(2, 0, "layer = 2 is out of range; allowed: a whole number in [0, 1]"), (0, 4, "head = 4"), (0, -1, "[0, 3]")],
)
def test_layer_or_head_out_of_range_names_the_range(layer, head, says):
    with pytest.raises(ExplorerError, match=rf"{says}".replace("[", r"\[").replace("]", r"\]")):
        steps.attention_steps(tiny_llama(attn="eager"), SAMPLE_TEXT, layer, head)


def test_texts_over_the_limit_and_sdpa_models_are_refused():
    lm = tiny_llama()  # sdpa: no attention weights
    with pytest.raises(ExplorerError, match="the limit is 128"):
        steps.attention_steps(lm, "word " * 200, 0, 0)
    with pytest.raises(ExplorerError, match="eager attention"):
        steps.attention_steps(lm, SAMPLE_TEXT, 0, 0)


def test_an_unsupported_architecture_names_the_supported_families():
    from transformers import OPTConfig, OPTForCausalLM

    from builders import byte_level_tokenizer, wrap

    config = OPTConfig(
        vocab_size=300, hidden_size=16, num_hidden_layers=1, ffn_dim=32, num_attention_heads=2, word_embed_proj_dim=16
    )
    lm = wrap("tiny-opt", "causal", OPTForCausalLM(config), byte_level_tokenizer())
    with pytest.raises(ExplorerError, match="Llama-style models .* Gemma 3, GPT-2 .* BERT-style"):
        steps.attention_steps(lm, SAMPLE_TEXT, 0, 0)


def test_switching_head_reuses_the_recorded_forward(monkeypatch):
    lm = tiny_llama(attn="eager")
    steps.attention_steps(lm, SAMPLE_TEXT, 0, 0)
    monkeypatch.setattr(trace, "_record", lambda *a: pytest.fail("ran the forward again"))
    steps.attention_steps(lm, SAMPLE_TEXT, 1, 3)
