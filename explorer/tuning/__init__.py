"""Full fine-tuning vs delta tuning, measured on a real model and trained for real.

Every method turns the chosen causal LM into a k-class classifier that shares the loaded
model's weights (`classifier`), then trains a part of it: an entry of the catalogue
(`methods`; Houlsby adapters in `adapters`) says which. `measure` builds the table of
trainable parameters, checkpoint sizes and training memory; `training` runs short seeded
trainings and measures accuracy before/after and forgetting (perplexity on general text).

The notes' experiments build on them: `remedies` (forgetting vs replay, L2-SP/EWC (`anchors`, `replay`)
and LoRA), `few_shot` (prompt-based fine-tuning through the LM head (`verbalizer`) vs a new head) and
`budget` (LoRA ranks and prompt lengths vs accuracy; `placement`: where trainable parameters sit).
"""

from .adapters import BottleneckAdapter
from .classifier import shared_classifier
from .measure import (
    BATCH_SIZE,
    MEMORY_SEQ_LEN,
    Row,
    TuningTable,
    checkpoint_bytes,
    table,
    trainable_state,
)
from .methods import (
    FAMILIES,
    MAX_ADAPTER_SIZE,
    MAX_LABELS,
    MAX_RANK,
    MAX_VIRTUAL_TOKENS,
    METHODS,
    PEFT_METHODS,
    Method,
    Prepared,
    TuningSettings,
    check_methods,
    prepare,
)
from .training import (
    GENERAL_TEXT,
    MAX_LEARNING_RATE,
    MAX_STEPS,
    LabelledData,
    Run,
    TrainingResult,
    sentiment_data,
    train,
)

__all__ = [
    "BATCH_SIZE",
    "FAMILIES",
    "GENERAL_TEXT",
    "MAX_ADAPTER_SIZE",
    "MAX_LABELS",
    "MAX_LEARNING_RATE",
    "MAX_RANK",
    "MAX_STEPS",
    "MAX_VIRTUAL_TOKENS",
    "MEMORY_SEQ_LEN",
    "METHODS",
    "PEFT_METHODS",
    "BottleneckAdapter",
    "LabelledData",
    "Method",
    "Prepared",
    "Row",
    "Run",
    "TrainingResult",
    "TuningSettings",
    "TuningTable",
    "check_methods",
    "checkpoint_bytes",
    "prepare",
    "sentiment_data",
    "shared_classifier",
    "table",
    "train",
    "trainable_state",
]
