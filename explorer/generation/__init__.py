"""Generation: next-token prediction step by step, with every sampling control made visible.

`sampling` holds the controls (transformers' logits processors, one table entry each); `loop`
the instrumented decode loop, one request's tokens streamed step by step.
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

__all__ = [
    "CONTROLS",
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
