"""Where a layer's attention lives in each supported architecture, and one head's weights.

Transformers names the same idea differently per family, so this is the one place that knows:
- Llama style (SmolLM2, Qwen2) and Gemma 3: `self_attn` with separate `q_proj`, `k_proj`, `v_proj`,
  `o_proj` (`nn.Linear`, weight (out, in)), rotary positions, grouped-query attention; Gemma 3 adds
  the RMSNorms `q_norm` and `k_norm` on every head's query and key;
- GPT-2: `attn` with one fused `c_attn` (a `Conv1D`, weight (in, out): columns [Q | K | V]) and `c_proj`;
- BERT style (BERT, RoBERTa): `attention.self` with `query`, `key`, `value`, and the output
  projection outside it, in `attention.output.dense`.

Each family's weights are turned into the notes' per-head matrices, which multiply a row vector x:
q = x W_Q + b_Q with W_Q of shape (d, d_k), and the head's output is z W_O with W_O (d_k, d).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import checks, i18n
from ..checks import ExplorerError
from ..lm import decoder_layers
from ..models import LoadedModel

# A message: written in the request's language where it is shown.
SUPPORTED = (
    "Llama-style models (SmolLM2, Qwen2), Gemma 3, GPT-2 (gpt2, distilgpt2) and BERT-style encoders (BERT, RoBERTa)"
)


@dataclass
class HeadWeights:
    """One query head's slices of the projections (the key/value ones of the KV head it reads)."""

    w_q: torch.Tensor  # (d, d_k)
    b_q: torch.Tensor | None  # (d_k,)
    w_k: torch.Tensor  # (d, d_k)
    b_k: torch.Tensor | None  # (d_k,)
    w_v: torch.Tensor  # (d, d_k)
    b_v: torch.Tensor | None  # (d_k,)
    w_o: torch.Tensor  # (d_k, d): this head's rows of the output projection (whose bias is added once, for all heads)


@dataclass
class LayerAttention:
    """One layer's attention: the module to hook and what its head computation needs."""

    family: str  # "llama" (Llama style), "gemma3", "gpt2" or "bert"
    module: nn.Module  # its input is the hidden states after the layer's input norm; it returns the weights
    out_proj: nn.Module  # the output projection W_O (all heads)
    num_heads: int  # query heads
    num_kv_heads: int  # key/value heads (fewer under grouped-query attention)
    head_dim: int  # d_k
    scale: float  # what the scores are multiplied by (the module's own `scaling`)
    causal: bool
    sliding_window: int | None  # keys further back than this are masked (Gemma 3's local layers)
    rotary: bool  # RoPE rotates q and k
    q_norm: nn.Module | None  # Gemma 3's RMSNorm on each head's query
    k_norm: nn.Module | None

    def kv_head(self, head: int) -> int:
        """The key/value head a query head reads: consecutive query heads share one (transformers' repeat_kv)."""
        return head // (self.num_heads // self.num_kv_heads)

    def head(self, head: int) -> HeadWeights:
        """Query head `head`'s weights, as (d, d_k) and (d_k, d) matrices."""
        if self.family == "gpt2":
            return self._fused_head(head)
        m = self.module
        q_proj, k_proj, v_proj = (m.q_proj, m.k_proj, m.v_proj) if self.family != "bert" else (m.query, m.key, m.value)
        q, kv = _rows(head, self.head_dim), _rows(self.kv_head(head), self.head_dim)
        return HeadWeights(
            w_q=q_proj.weight[q].T,  # nn.Linear stores (out, in): a head is a block of rows
            b_q=_bias(q_proj, q),
            w_k=k_proj.weight[kv].T,
            b_k=_bias(k_proj, kv),
            w_v=v_proj.weight[kv].T,
            b_v=_bias(v_proj, kv),
            w_o=self.out_proj.weight[:, q].T,  # (d, heads·d_k): a head is a block of input columns
        )

    def _fused_head(self, head: int) -> HeadWeights:
        """GPT-2's Conv1D stores (in, out): Q, K and V are three blocks of columns of `c_attn`."""
        d = self.num_heads * self.head_dim
        weight, bias = self.module.c_attn.weight, self.module.c_attn.bias  # (d, 3d), (3d,)
        q, k, v = (_rows(head, self.head_dim, offset) for offset in (0, d, 2 * d))
        return HeadWeights(
            w_q=weight[:, q],
            b_q=bias[q],
            w_k=weight[:, k],
            b_k=bias[k],
            w_v=weight[:, v],
            b_v=bias[v],
            w_o=self.out_proj.weight[_rows(head, self.head_dim)],  # c_proj (in, out): a head is a block of rows
        )


def _rows(index: int, size: int, offset: int = 0) -> slice:
    return slice(offset + index * size, offset + (index + 1) * size)


def _bias(linear: nn.Linear, rows: slice) -> torch.Tensor | None:
    return None if linear.bias is None else linear.bias[rows]


def attention_module(layer: nn.Module) -> tuple[str, nn.Module, nn.Module]:
    """(family, attention module, output projection) of one decoder/encoder layer."""
    attn = getattr(layer, "self_attn", None)
    if attn is not None and hasattr(attn, "q_proj"):
        return ("gemma3" if hasattr(attn, "q_norm") else "llama"), attn, attn.o_proj
    attn = getattr(layer, "attn", None)
    if attn is not None and hasattr(attn, "c_attn"):
        return "gpt2", attn, attn.c_proj
    attention = getattr(layer, "attention", None)
    if attention is not None and hasattr(getattr(attention, "self", None), "query"):
        return "bert", attention.self, attention.output.dense
    raise ExplorerError(
        "{kind} layers are not supported here; this tab reads {supported}.",
        kind=type(layer).__name__,
        supported=i18n.message(SUPPORTED, {}),
    )


def num_layers(lm: LoadedModel) -> int:
    try:
        return len(decoder_layers(lm.model))
    except ExplorerError:
        raise ExplorerError(
            "{model} ({kind}) is not supported here; this tab reads {supported}.",
            model=lm.name,
            kind=type(lm.model).__name__,
            supported=i18n.message(SUPPORTED, {}),
        ) from None


def check_layer(lm: LoadedModel, layer) -> int:
    return checks.number(layer, "layer", 0, num_layers(lm) - 1, integer=True)


def layer_attention(lm: LoadedModel, layer: int) -> LayerAttention:
    """Layer `layer`'s attention (a checked index)."""
    family, module, out_proj = attention_module(decoder_layers(lm.model)[layer])
    head_dim = int(getattr(module, "head_dim", None) or module.attention_head_size)
    num_heads = out_proj.weight.shape[1 if family != "gpt2" else 0] // head_dim
    kv_width = module.k_proj.out_features if family in ("llama", "gemma3") else num_heads * head_dim
    return LayerAttention(
        family=family,
        module=module,
        out_proj=out_proj,
        num_heads=num_heads,
        num_kv_heads=kv_width // head_dim,
        head_dim=head_dim,
        scale=float(module.scaling),
        causal=bool(getattr(module, "is_causal", True)),
        sliding_window=getattr(module, "sliding_window", None),
        rotary=family in ("llama", "gemma3"),
        q_norm=getattr(module, "q_norm", None),
        k_norm=getattr(module, "k_norm", None),
    )


def check_head(attn: LayerAttention, head) -> int:
    return checks.number(head, "head", 0, attn.num_heads - 1, integer=True)


def scale_rule(lm: LoadedModel, attn: LayerAttention) -> str:
    """Where the scale comes from, in the notes' terms."""
    scalar = getattr(lm.model.config, "query_pre_attn_scalar", None)
    d_k = attn.head_dim
    if scalar and abs(attn.scale - scalar**-0.5) < 1e-9:  # Gemma sets it in its config
        if scalar == d_k:
            return i18n.message(
                "1/√query_pre_attn_scalar = 1/√{scalar:g} (Gemma's own setting, equal to 1/√d_k here)",
                dict(scalar=scalar),
            )
        return i18n.message(
            "1/√query_pre_attn_scalar = 1/√{scalar:g} (Gemma's own setting, not 1/√d_k: d_k = {d_k})",
            dict(scalar=scalar, d_k=d_k),
        )
    if abs(attn.scale - d_k**-0.5) < 1e-9:
        return f"1/√d_k = 1/√{d_k}"
    return i18n.message("the model's own scaling, {scale:.4g} (d_k = {d_k})", dict(scale=attn.scale, d_k=d_k))


# ---------------------------------------------------------------- the per-head operations, by hand


def rms_norm(x: torch.Tensor, norm: nn.Module) -> torch.Tensor:
    """x / rms(x) times the norm's gain. Gemma's RMSNorm stores the gain minus one (its weights start
    at zero and it multiplies by 1 + w); Llama's stores the gain itself."""
    eps = getattr(norm, "variance_epsilon", None) or norm.eps
    gain = norm.weight.float() + (1.0 if "Gemma" in type(norm).__name__ else 0.0)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * gain


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE as transformers lays it out: dimension i is paired with i + d_k/2, and each pair is turned
    by its angle: (x₁, x₂) → (x₁ cos − x₂ sin, x₂ cos + x₁ sin). x, cos, sin: (n, d_k)."""
    half = x.shape[-1] // 2
    first, second = x[..., :half], x[..., half:]
    return x * cos + torch.cat((-second, first), dim=-1) * sin
