"""Weights laid out for decoding: one row times a matrix, streamed from memory at full speed.

Decoding feeds one token per forward, so every linear layer is a matrix-vector product, and a
small model on a CPU spends its time reading weights: 538 MB per token for SmolLM2 in fp32.
`nn.Linear` stores its weight as (out, in) rows. For a wide layer (more outputs than inputs: the
query, gate and up projections, the vocabulary-wide LM head), MKL's one-row product reads that
layout at about half the memory bandwidth it reaches on the same numbers stored (in, out)
(bench/generation.py measures both; the LM head alone drops from ~10 ms to ~5 ms a token).

So a wide layer keeps its weight's shape and values but stores it (in, out): the parameter
becomes the transpose of a contiguous (in, out) tensor. `F.linear` then hands BLAS an untransposed
matrix; every other use of the weight (indexing, LoRA, the tied embedding) sees the same tensor.
Only the order of the additions inside each dot product changes: logits move by ~1e-4, token
probabilities by < 1e-5 (tests/test_weight_layout.py), the same size as the difference between
one row and a padded batch. Narrow layers (the output and down projections) are faster as they are.

Siblings go further: the projections a block computes from one input (query, key and value; gate
and up) are laid out side by side, one (in, out₁ + out₂ + …) buffer whose column blocks are their
weights. In inference the first sibling multiplies its input by the whole buffer, one long product
(it streams at the speed of a wide layer, where the narrow key and value alone stream slowly and
each product pays its own call), and the next siblings, given that same input tensor, take their
columns of it. Each sibling stays an `nn.Linear` with its own weight, so hooks, LoRA, the Inside
views and training see the model as before; a sibling computes alone whenever sharing could be
wrong: gradients enabled (training), another input, or a weight no longer in the buffer (replaced).
(It cannot see an input changed in place between two siblings' calls: transformers' blocks never
do that, and no hook here does.) Under `torch.compile` each sibling takes its columns of its own
product with the whole buffer, and the compiler's common-subexpression pass merges the identical
products into one.

A batch of several sequences (a lecture hall's, a cloze's candidates) goes through oneDNN, not MKL,
except on an Intel CPU: MKL is Intel's library and takes its fast code paths on Intel's CPUs only.
On an AMD CPU here torch's MKL products of a few rows ran well below the cores' speed and gained
little from a second thread, where oneDNN (in every torch build) multiplies the same (in, out)
weights, with no copy, 1.1-2x as fast on one thread and 1.2-3x on two (bench/products.py: 32 rows
times the LM head on two threads 14 ms against 28; a whole step of 32 rows 138 ms against 169 on one
thread). On an Intel Xeon here the other way round: a step of 32 rows 144 ms with MKL, 185 with
oneDNN (two threads: 78 against 119). One sequence stays with MKL: its one-row products are as fast
there, and one user's probabilities stay within 1e-5 of plain `generate`'s (oneDNN, adding in another
order, moves a long prompt's by ~1e-5). `PLM_EXPLORER_BATCH_PRODUCTS` ("mkl" or "onednn") overrides
the choice.

Memory: the loader maps the weights file (safetensors) into memory, so a weight read once counts
in the resident memory as a page of that file. A laid-out copy beside its mapped original would
count twice (both bundled models: 3.4 GiB instead of 2.2), so every other tensor is copied too:
then no tensor refers to the mapping any more, the file is unmapped, and each weight is held
once (bench/models.py reports the resident memory with both models loaded).
"""

from __future__ import annotations

import copy
import os
import types
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SIBLINGS = (("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))  # names of the projections of one input


def intel_cpu() -> bool:
    """Whether this machine's CPU is Intel's (Linux's /proc/cpuinfo; elsewhere, as if not)."""
    try:
        return "GenuineIntel" in Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False


def _onednn_for_batches() -> bool:
    """oneDNN multiplies batches of several sequences, but on an Intel CPU (see the module's docstring)."""
    chosen = os.environ.get("PLM_EXPLORER_BATCH_PRODUCTS", "mkl" if intel_cpu() else "onednn")
    return chosen == "onednn" and torch.backends.mkldnn.is_available()


ONEDNN = _onednn_for_batches()  # oneDNN multiplies batches of several sequences


class SharedBuffer:
    """Sibling weights side by side, and the last product of an input with all of them."""

    def __init__(self, buffer: torch.Tensor):
        self.buffer = buffer  # (in, total out)
        # (input, input @ buffer): one attribute, so a thread reads a pair another thread cannot split
        self.last: tuple[torch.Tensor, torch.Tensor] | None = None


@dataclass
class Sibling:
    shared: SharedBuffer
    columns: slice  # its weight's block of the buffer's columns
    offset: int  # where that block starts in the buffer's memory, bytes
    first: bool  # computes the product for all (the block calls the siblings in order)
    last: bool  # frees the product once it has taken its columns


def for_decoding(model: nn.Module) -> nn.Module:
    """Lay `model` out for decoding, in place (see the module's docstring); `model` back."""
    laid_out = {id(linear.weight) for group in _sibling_groups(model) for linear in _share_input(group)}
    wide = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear) and m.out_features >= m.in_features}
    for tensor in [*model.parameters(), *model.buffers()]:  # a tied weight is listed once
        if id(tensor) in laid_out:
            continue
        if id(tensor) in wide:
            tensor.data = tensor.data.T.contiguous().T  # (out, in) shape, (in, out) memory
        else:
            tensor.data = tensor.data.clone()  # its own memory, no longer the file's
    for module in model.modules():
        if type(module) is nn.Linear and not hasattr(module, "sibling"):
            module.forward = types.MethodType(_plain_forward, module)  # a copy rebinds it to its own
    return model


def as_loaded(model: nn.Module) -> nn.Module:
    """A copy of a laid-out `model` as transformers loads it: every weight contiguous (out, in), each
    linear layer its own product (what benchmarks and tests compare the layout with)."""
    plain = copy.deepcopy(model)
    for module in plain.modules():
        for name in ("forward", "sibling"):
            module.__dict__.pop(name, None)
    for parameter in plain.parameters():
        parameter.data = parameter.data.contiguous()
    return plain


def _sibling_groups(model: nn.Module) -> list[list[nn.Linear]]:
    """Every set of SIBLINGS a module holds as plain bias-free linear layers of one input width."""
    groups = []
    for module in model.modules():
        for names in SIBLINGS:
            linears = [getattr(module, name, None) for name in names]
            plain = all(type(m) is nn.Linear and m.bias is None for m in linears)
            if plain and len({(m.in_features, m.weight.dtype) for m in linears}) == 1:
                groups.append(linears)
    return groups


def _share_input(linears: list[nn.Linear]) -> list[nn.Linear]:
    """Copy the siblings' weights into one (in, total out) buffer, make each weight a view of its
    columns, and give each the forward that shares the product; the linears back."""
    shared = SharedBuffer(torch.cat([m.weight.data.T for m in linears], dim=1).contiguous())  # (in, total out)
    start = 0
    for index, linear in enumerate(linears):
        columns = slice(start, start + linear.out_features)
        linear.weight.data = shared.buffer[:, columns].T  # (out, in) shape, a view of the buffer
        offset = start * shared.buffer.element_size()
        linear.sibling = Sibling(shared, columns, offset, first=index == 0, last=index == len(linears) - 1)
        linear.forward = types.MethodType(_shared_forward, linear)  # a copy of the model rebinds it to its own
        start = columns.stop
    return linears


def product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """`F.linear(x, weight, bias)`: through oneDNN for a batch of several sequences in float32 without
    gradients (see the module's docstring), else torch's own (one sequence, training, other types)."""
    several = x.dim() == 3 and x.shape[0] > 1  # (sequences, tokens, in)
    if not several or not ONEDNN or x.dtype != torch.float32 or weight.dtype != x.dtype or torch.is_grad_enabled():
        return F.linear(x, weight, bias)
    rows = x.shape[0] * x.shape[1]
    out = torch.ops.mkldnn._linear_pointwise(x.reshape(rows, x.shape[-1]), weight, bias, "none", [], "")  # (rows, out)
    return out.view(*x.shape[:-1], weight.shape[0])


def _plain_forward(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if torch.compiler.is_compiling():
        return F.linear(x, linear.weight, linear.bias)
    return product(x, linear.weight, linear.bias)


def _shared_forward(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    sibling = linear.sibling
    shared = sibling.shared
    if torch.compiler.is_compiling():  # a graph: every sibling's product is the same, merged into one
        return (x @ shared.buffer)[..., sibling.columns]  # by the compiler (generation/compiled_step.py)
    if torch.is_grad_enabled() or linear.weight.data_ptr() != shared.buffer.data_ptr() + sibling.offset:
        return F.linear(x, linear.weight)
    if sibling.first:
        last = shared.last = (x, product(x, shared.buffer.T))  # (..., total out)
    else:
        last = shared.last
        if last is None or last[0] is not x:  # another thread's input came between: the whole product
            return product(x, shared.buffer.T)[..., sibling.columns]  # again (a block alone adds in another order)
    if sibling.last:
        shared.last = None
    return last[1][..., sibling.columns]
