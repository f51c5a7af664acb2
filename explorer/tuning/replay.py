"""Replay: batches of general text, trained with the language-modelling loss alongside the task.

GPT-1 (Radford et al., 2018) kept the language-modelling objective while fine-tuning:
L = L_task + λ·L_LM. Computed on *general* text rather than the task's inputs, the auxiliary
loss is replay: at every step the model keeps practising what it knew. The general text is the
small corpus below (never the passage whose perplexity measures forgetting, `training.GENERAL_TEXT`),
cut into windows of `WINDOW` tokens; each step draws `WINDOWS_PER_STEP` of them, seeded.
The loss reads the classifier's backbone through the LM head (`training.lm_head_weight`), so it
trains exactly the weights the task trains.
"""

from __future__ import annotations

import torch
from torch import nn

from ..lm import check_fits, encode_document
from ..models import LoadedModel
from .classifier import backbone
from .training import batches, lm_head_weight

WINDOW = 32  # tokens per replayed window
WINDOWS_PER_STEP = 2  # windows of general text mixed into each task step
# General text to replay: encyclopaedic prose on varied subjects (written for this app).
REPLAY_TEXTS = (
    "The water cycle moves water between the oceans, the air and the land. Sunlight warms the sea, "
    "water evaporates and rises, cools into clouds and falls again as rain or snow. Rivers carry it "
    "back to the sea, and some of it soaks into the ground, where it may stay for thousands of years.",
    "Bread is one of the oldest prepared foods. Flour and water are mixed into a dough, yeast or a "
    "sourdough starter makes it rise by releasing carbon dioxide, and baking sets the structure. "
    "Different grains, ovens and traditions give the flat breads, loaves and rolls found around the world.",
    "The violin has four strings tuned in fifths and is played with a bow strung with horsehair. It "
    "developed in northern Italy in the sixteenth century, and the instruments made by the Stradivari "
    "and Guarneri families are still prized for their sound.",
    "Mountains form where the plates of the Earth's crust collide. The Himalayas rose when the Indian "
    "plate pushed into Asia, and they are still rising by a few millimetres each year. Wind, ice and "
    "water wear mountains down, so the oldest ranges are often the lowest.",
    "A library lends books, journals and recordings to its readers and keeps them in order with a "
    "catalogue. Many towns opened public libraries in the nineteenth century, and today most also "
    "offer computers, quiet rooms for study and reading groups for children.",
    "Honey bees live in colonies of tens of thousands of workers, a few hundred drones and a single "
    "queen. Foragers tell their sisters where flowers are with a dance whose direction and length "
    "encode the direction and distance of the food.",
)


def windows(lm: LoadedModel) -> list[list[int]]:
    """The replay corpus as whole documents, concatenated and cut into windows of WINDOW tokens."""
    check_fits(lm, WINDOW)
    ids = [token for text in REPLAY_TEXTS for token in encode_document(lm.tokenizer, text)]
    return [ids[start : start + WINDOW] for start in range(0, len(ids) - WINDOW + 1, WINDOW)]


def replay_batches(lm: LoadedModel, steps: int, seed: int) -> list[torch.Tensor]:
    """One (WINDOWS_PER_STEP, WINDOW) batch of general-text ids per step, drawn through seeded shuffles."""
    return [torch.tensor(batch) for batch in batches(windows(lm), steps, seed, size=WINDOWS_PER_STEP)]


def language_modelling_loss(model: nn.Module, lm: LoadedModel, input_ids: torch.Tensor) -> torch.Tensor:
    """The mean next-token cross-entropy of `input_ids` (batch, n), read through the model's backbone."""
    transformer = backbone(model)
    hidden = transformer(input_ids=input_ids).last_hidden_state  # (batch, n, hidden)
    logits = hidden[:, :-1] @ lm_head_weight(transformer, lm).T  # (batch, n - 1, vocab)
    return nn.functional.cross_entropy(logits.flatten(0, 1).float(), input_ids[:, 1:].flatten())
