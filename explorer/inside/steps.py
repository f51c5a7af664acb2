"""One attention head, step by step, recomputed by hand from the module's own weights.

    x                    the hidden states entering the layer's attention (after its input norm)
    Q = x W_Q, K = x W_K, V = x W_V    (plus biases where the model has them)
    Gemma 3: Q, K ← RMSNorm(Q), RMSNorm(K)      (q_norm, k_norm)
    rotary models: Q, K ← RoPE(Q), RoPE(K)      (the model's own cos/sin for these positions)
    S = Q Kᵀ,  S' = S · scale        (scale = 1/√d_k, or the model's own, e.g. Gemma's)
    mask: key j is visible to query i if j ≤ i (causal) and i − j < window (sliding layers)
    A = softmax(S' + mask)           equal to the model's own attention weights for this head
    Z = A V,  out = Z W_O^h          (this head's slice of the output projection; the sum over heads,
                                      plus the projection's bias, is the attention's output)

Under grouped-query attention a query head reads the K and V of its key/value group.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models import LoadedModel
from . import anatomy
from .anatomy import LayerAttention
from .trace import trace


@dataclass
class AttentionSteps:
    """The /attention_steps payload: every matrix has one row per token (query rows for n × n ones)."""

    model: str
    tokens: list[str]
    labels: list[str]  # the tokens as the figures draw them, never "�" (segments.readable_tokens; an addition)
    layer: int
    head: int
    num_layers: int
    num_heads: int  # query heads
    num_key_value_heads: int
    kv_head: int  # the key/value head this query head reads (grouped-query attention)
    family: str  # "llama", "gemma3", "gpt2" or "bert"
    causal: bool
    sliding_window: int | None  # this layer's window, None if it attends to every earlier token
    rotary: bool  # q and k are rotated (RoPE); otherwise q == q_before_rope
    qk_norm: bool  # Gemma 3's q_norm/k_norm: q_projected → q_before_rope is that RMSNorm
    hidden: list[list[float]]  # (n, d) x
    q_projected: list[list[float]]  # (n, d_k) x W_Q + b_Q
    k_projected: list[list[float]]  # (n, d_k)
    q_before_rope: list[list[float]]  # (n, d_k) after q_norm where the model has one
    k_before_rope: list[list[float]]  # (n, d_k)
    q: list[list[float]]  # (n, d_k) what the scores use
    k: list[list[float]]  # (n, d_k)
    v: list[list[float]]  # (n, d_k)
    scores: list[list[float]]  # (n, n) Q Kᵀ
    scaled: list[list[float]]  # (n, n) Q Kᵀ · scale
    mask: list[list[bool]]  # (n, n) True where query i may read key j
    weights: list[list[float]]  # (n, n) softmax of the visible scaled scores (0 where masked)
    weighted_values: list[list[float]]  # (n, d_k) A V
    output: list[list[float]]  # (n, d) A V W_O^h: this head's part of the attention output
    shapes: dict[str, list[int]]
    scale: float
    scale_rule: str  # where the scale comes from
    max_abs_diff_vs_model: float  # |weights − the model's own attention weights|, max over cells


def queries_keys_values(attn: LayerAttention, head: int, x: torch.Tensor, rotation) -> dict[str, torch.Tensor]:
    """Q, K, V of one head, with every intermediate named as in the payload. x: (n, d)."""
    w = attn.head(head)
    q = x @ w.w_q.float() + (0 if w.b_q is None else w.b_q.float())  # (n, d_k)
    k = x @ w.w_k.float() + (0 if w.b_k is None else w.b_k.float())  # (n, d_k)
    v = x @ w.w_v.float() + (0 if w.b_v is None else w.b_v.float())  # (n, d_k)
    steps = {"q_projected": q, "k_projected": k, "v": v}
    if attn.q_norm is not None:
        q, k = anatomy.rms_norm(q, attn.q_norm), anatomy.rms_norm(k, attn.k_norm)
    steps.update(q_before_rope=q, k_before_rope=k)
    if rotation is not None:
        cos, sin = rotation  # (n, d_k) each
        q, k = anatomy.rotate(q, cos, sin), anatomy.rotate(k, cos, sin)
    steps.update(q=q, k=k)
    return steps


def visible(n: int, causal: bool, window: int | None) -> torch.Tensor:
    """(n, n) True where query i may read key j."""
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    allowed = j <= i if causal else torch.ones(n, n, dtype=torch.bool)
    return allowed & (i - j < window) if window else allowed


def softmax_visible(scaled: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the visible keys of each row: masked scores become −∞, i.e. weight 0."""
    return scaled.masked_fill(~mask, float("-inf")).softmax(-1)


def attention_steps(lm: LoadedModel, text: str, layer=0, head=0) -> AttentionSteps:
    """Every intermediate of query head `head` in layer `layer` for `text`."""
    layer = anatomy.check_layer(lm, layer)
    attn = anatomy.layer_attention(lm, layer)
    head = anatomy.check_head(attn, head)
    run = trace(lm, text)
    with torch.inference_mode():
        x = run.attention_inputs[layer]  # (n, d)
        qkv = queries_keys_values(attn, head, x, run.rotations[layer])
        scores = qkv["q"] @ qkv["k"].T  # (n, n)
        scaled = scores * attn.scale  # (n, n)
        mask = visible(len(run.ids), attn.causal, attn.sliding_window)  # (n, n)
        weights = softmax_visible(scaled, mask)  # (n, n)
        weighted = weights @ qkv["v"]  # (n, d_k)
        output = weighted @ attn.head(head).w_o.float()  # (n, d)
        diff = (weights - run.attentions[layer][head]).abs().max().item()
    n, d, d_k = x.shape[0], x.shape[1], attn.head_dim
    return AttentionSteps(
        model=lm.name,
        tokens=run.tokens,
        labels=run.labels,
        layer=layer,
        head=head,
        num_layers=len(run.attentions),
        num_heads=attn.num_heads,
        num_key_value_heads=attn.num_kv_heads,
        kv_head=attn.kv_head(head),
        family=attn.family,
        causal=attn.causal,
        sliding_window=attn.sliding_window,
        rotary=attn.rotary,
        qk_norm=attn.q_norm is not None,
        hidden=x.tolist(),
        **{name: value.tolist() for name, value in qkv.items()},
        scores=scores.tolist(),
        scaled=scaled.tolist(),
        mask=mask.tolist(),
        weights=weights.tolist(),
        weighted_values=weighted.tolist(),
        output=output.tolist(),
        shapes=shapes(n, d, d_k),
        scale=attn.scale,
        scale_rule=anatomy.scale_rule(lm, attn),
        max_abs_diff_vs_model=diff,
    )


def shapes(n: int, d: int, d_k: int) -> dict[str, list[int]]:
    """Every step's shape, the weight matrices' too (n tokens, model width d, head width d_k)."""
    tokens_by_head = [n, d_k]
    return {
        "hidden": [n, d],
        "W_Q": [d, d_k],
        "W_K": [d, d_k],
        "W_V": [d, d_k],
        **dict.fromkeys(
            ("q_projected", "k_projected", "q_before_rope", "k_before_rope", "q", "k", "v"), tokens_by_head
        ),
        **dict.fromkeys(("scores", "scaled", "mask", "weights"), [n, n]),
        "weighted_values": tokens_by_head,
        "W_O": [d_k, d],
        "output": [n, d],
    }
