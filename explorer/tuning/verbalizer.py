"""The language model itself as a classifier: a template, and the label words' scores from the LM head.

Prompt-based fine-tuning (Gao et al., 2021, LM-BFF; Schick & Schütze's PET) adds no parameters: each
item is laid out in the task's template up to the label slot ("Review: … Sentiment:"), and the class
scores are the LM head's logits of each label word's first token (" positive", " negative") where the
label goes: a causal LM's last position; a masked LM's mask token, put in the label slot
("Review: … Sentiment: [MASK]", read through the MLM head, as LM-BFF does with RoBERTa). It is the head
the model was pre-trained with, restricted to the verbalizer. Training fine-tunes the network through
that head; with no training it is zero-shot prompting.
The template is the one the ICL tab uses (`icl.build_prompt` with no demonstrations).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from ..checks import ExplorerError
from ..datasets import Task
from ..icl import build_prompt
from ..models import LoadedModel
from .classifier import backbone
from .lm_head import is_masked, lm_logits, mask_id
from .methods import Prepared, TuningSettings, prepare
from .training import LabelledData


class VerbalizerClassifier(nn.Module):
    """k-class scores from the LM head's logits of the label words' first tokens, at the label slot."""

    base_model_prefix = "transformer"  # so `classifier.backbone` (and the perplexity probe) finds it

    def __init__(self, transformer: nn.Module, lm: LoadedModel, token_ids: list[int]):
        super().__init__()
        self.transformer = transformer
        self.lm = lm  # for its head: the backbone's embeddings if tied, else the cached, frozen head
        self.register_buffer("token_ids", torch.tensor(token_ids), persistent=False)  # (k,)

    def forward(self, input_ids, attention_mask=None, labels=None) -> SequenceClassifierOutput:
        states = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if is_masked(self.lm):  # the (first) mask token of each row
            slot = (input_ids == mask_id(self.lm)).int().argmax(-1)  # (batch,)
        else:  # left-padded batches (training.encode): the last position is every row's last real token
            slot = torch.full((len(input_ids),), input_ids.shape[1] - 1)
        hidden = states[torch.arange(len(input_ids)), slot]  # (batch, hidden)
        logits = lm_logits(self.transformer, self.lm, hidden)[:, self.token_ids]  # (batch, k)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def label_token_ids(lm: LoadedModel, task: Task) -> list[int]:
    """The first token of each label word as it follows the template's label slot; refuses words
    whose first tokens coincide (the head could not tell the labels apart)."""
    prompt = build_prompt(task, [], "x")
    start = lm.tokenizer(prompt.text, add_special_tokens=False)["input_ids"]
    firsts = []
    for word, continuation in zip(task.verbalizers, prompt.continuations):
        ids = lm.tokenizer(prompt.text + continuation, add_special_tokens=False)["input_ids"]
        if ids[: len(start)] != start or len(ids) == len(start):
            raise ExplorerError(
                "{model} cannot be tuned through its LM head with this template: the label word {word!r} "
                "merges with the text before it into one token.",
                model=lm.name,
                word=word,
            )
        firsts.append(ids[len(start)])
    if len(set(firsts)) < len(firsts):
        raise ExplorerError(
            "{model} cannot be tuned through its LM head with these label words: {words} start with the same "
            "token. Use label words that start differently.",
            model=lm.name,
            words=", ".join(task.verbalizers),
        )
    return firsts


def template_text(lm: LoadedModel, task: Task, text: str) -> str:
    """`text` laid out in the task's template up to the label slot; for a masked LM, with its mask token
    in the slot (after the space the label words start with, if they do)."""
    prompt = build_prompt(task, [], text)
    if not is_masked(lm):
        return prompt.text
    continuation = prompt.continuations[0]
    space = continuation[: len(continuation) - len(continuation.lstrip())]
    return prompt.text + space + lm.tokenizer.convert_ids_to_tokens(mask_id(lm))


def prompted(lm: LoadedModel, data: LabelledData, task: Task) -> LabelledData:
    """The items laid out in the task's template, up to the label slot (what the model reads)."""

    def lay_out(items):
        return tuple(dataclasses.replace(item, text=template_text(lm, task, item.text)) for item in items)

    return dataclasses.replace(data, train=lay_out(data.train), held_out=lay_out(data.held_out))


def prepare_prompt_based(lm: LoadedModel, task: Task, seed: int) -> Prepared:
    """Full fine-tuning through the LM head: every weight of the backbone trains, nothing is added."""
    token_ids = label_token_ids(lm, task)
    classifier = prepare(lm, "full", TuningSettings(num_labels=len(task.labels)), seed)
    model = VerbalizerClassifier(backbone(classifier.model), lm, token_ids)
    return Prepared("full", model, sum(p.numel() for p in model.parameters()))
