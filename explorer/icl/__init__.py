"""In-context learning: templates, verbalizers, k demonstrations, label scoring and calibration.

- `tasks`: a built-in task with the user's edits or a pasted one; drawing demonstrations;
- `prompts`: the prompt's layout, plain or with the model's chat template;
- `scoring`: the KV-cache engine that scores every label's continuation after shared prompts;
- `calibration`: the labels' probabilities and contextual calibration against content-free queries;
- `one_query`: one query (`run_icl`): the exact prompt, each label's probability, the prediction;
- `label_modes`: what the demonstrations' labels show in a sweep (gold, random, shuffled, other-task);
- `shot_sweep`: the sweep of accuracy vs shots over random draws of demonstrations.
"""

from .calibration import CONTENT_FREE, calibrate, content_free_probs, normalise
from .one_query import MAX_SHOTS, IclResult, LabelScore, fitting_prompt, run_icl
from .prompts import Prompt, build_prompt, encode, shared_text
from .scoring import (
    BATCH_SIZE,
    MAX_NEW_TOKENS,
    ContinuationScore,
    Prefix,
    extend,
    greedy_answer,
    score_continuations,
    score_many,
    shared_prefix,
)
from .shot_sweep import DEFAULT_SHOTS, MAX_ITEMS, MAX_REPEATS, SweepPoint, SweepResult, parse_shots, sweep
from .tasks import (
    CUSTOM,
    CUSTOM_TEMPLATE,
    configure,
    custom_task,
    draw_demonstrations,
    parse_verbalizers,
    resolve_task,
    split_items,
    validate,
)

__all__ = [
    "BATCH_SIZE",
    "CONTENT_FREE",
    "CUSTOM",
    "CUSTOM_TEMPLATE",
    "DEFAULT_SHOTS",
    "MAX_ITEMS",
    "MAX_NEW_TOKENS",
    "MAX_REPEATS",
    "MAX_SHOTS",
    "ContinuationScore",
    "IclResult",
    "LabelScore",
    "Prefix",
    "Prompt",
    "SweepPoint",
    "SweepResult",
    "build_prompt",
    "calibrate",
    "configure",
    "content_free_probs",
    "custom_task",
    "draw_demonstrations",
    "encode",
    "extend",
    "fitting_prompt",
    "greedy_answer",
    "normalise",
    "parse_shots",
    "parse_verbalizers",
    "resolve_task",
    "run_icl",
    "score_continuations",
    "score_many",
    "shared_prefix",
    "shared_text",
    "split_items",
    "sweep",
    "validate",
]
