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
one row and a padded batch. Narrow layers (key/value, down projections) are faster as they are.

Memory: the loader maps the weights file (safetensors) into memory, so a weight read once counts
in the resident memory as a page of that file. A laid-out copy beside its mapped original would
count twice (both bundled models: 3.4 GiB instead of 2.2), so every other tensor is copied too:
then no tensor refers to the mapping any more, the file is unmapped, and each weight is held
once (bench/models.py reports the resident memory with both models loaded).
"""

from __future__ import annotations

from torch import nn


def for_decoding(model: nn.Module) -> nn.Module:
    """Store every wide linear weight (out ≥ in) as (in, out) in memory and every other tensor as
    a plain copy (the weights file is unmapped), in place; `model` back."""
    wide = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear) and m.out_features >= m.in_features}
    for tensor in [*model.parameters(), *model.buffers()]:  # a tied weight is listed once
        if id(tensor) in wide:
            tensor.data = tensor.data.T.contiguous().T  # (out, in) shape, (in, out) memory
        else:
            tensor.data = tensor.data.clone()  # its own memory, no longer the file's
    return model
