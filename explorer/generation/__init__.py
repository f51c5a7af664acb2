"""Generation: next-token prediction step by step, with every sampling control made visible.

`sampling` holds the controls (transformers' logits processors, one table entry each); `loop`
the instrumented decode loop, one request's tokens streamed step by step; `sequence` one request's
picking (its controls, seed and stop conditions), fed logits by whoever runs the forward: `scheduler`,
which steps every request's sequence of a model together in one left-padded `batch`.
"""

from .loop import (
    MAX_NEW_TOKENS,
    Candidate,
    GenerationRequest,
    GenerationResult,
    NextTokenResult,
    Step,
    encode_prompt,
    generate,
    next_token,
    stream_generation,
)
from .sampling import CONTROLS, SamplingSettings
from .scheduler import MAX_BATCH

__all__ = [
    "CONTROLS",
    "MAX_BATCH",
    "MAX_NEW_TOKENS",
    "Candidate",
    "GenerationRequest",
    "GenerationResult",
    "NextTokenResult",
    "SamplingSettings",
    "Step",
    "encode_prompt",
    "generate",
    "next_token",
    "stream_generation",
]
