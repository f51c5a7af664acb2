"""Replay: batches of general text, trained with the language-modelling loss alongside the task.

GPT-1 (Radford et al., 2018) kept the language-modelling objective while fine-tuning:
L = L_task + λ·L_LM. Computed on *general* text rather than the task's inputs, the auxiliary
loss is replay: at every step the model keeps practising what it knew. The general text is a
small corpus in the data's language, `replay_<language>.txt` beside this file (encyclopaedic
passages written for this app, never the passage whose perplexity measures forgetting), cut into
windows of `WINDOW` tokens; each step draws `WINDOWS_PER_STEP` of them, seeded.
The loss is the model's own pre-training objective (`lm_head`: the next token for a causal LM, the
masked tokens for a masked LM), read from the classifier's backbone through the pre-trained head, so
it trains exactly the weights the task trains.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..datasets import data_language
from ..lm import check_fits
from ..models import LoadedModel
from .classifier import backbone
from .lm_head import document_ids, lm_loss, lm_targets
from .training import batches

WINDOW = 32  # tokens per replayed window
WINDOWS_PER_STEP = 2  # windows of general text mixed into each task step


def replay_texts(language: str) -> list[str]:
    """The general passages to replay in `language` ('en' or 'zh'), one per paragraph."""
    text = (Path(__file__).parent / f"replay_{data_language(language)}.txt").read_text(encoding="utf-8")
    return [passage.strip() for passage in text.split("\n\n") if passage.strip()]


def windows(lm: LoadedModel, language: str) -> list[list[int]]:
    """The replay corpus as whole documents, concatenated and cut into windows of WINDOW tokens."""
    check_fits(lm, WINDOW)
    ids = [token for text in replay_texts(language) for token in document_ids(lm, text)]
    return [ids[start : start + WINDOW] for start in range(0, len(ids) - WINDOW + 1, WINDOW)]


def replay_batches(lm: LoadedModel, steps: int, seed: int, language: str = "en") -> list[torch.Tensor]:
    """One (WINDOWS_PER_STEP, WINDOW) batch of general-text ids per step, drawn through seeded shuffles."""
    return [torch.tensor(batch) for batch in batches(windows(lm, language), steps, seed, size=WINDOWS_PER_STEP)]


def language_modelling_loss(model: nn.Module, lm: LoadedModel, input_ids: torch.Tensor) -> torch.Tensor:
    """The model's own language-modelling loss on `input_ids` (batch, n), read through its backbone."""
    inputs, targets = lm_targets(lm, input_ids)  # (copies, n) each
    transformer = backbone(model)
    hidden = transformer(input_ids=inputs).last_hidden_state  # (copies, n, hidden)
    return lm_loss(transformer, lm, hidden, targets)
