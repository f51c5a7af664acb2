"""The loaded causal LM as a k-class classifier that shares the loaded model's weights.

`AutoModelForSequenceClassification` is built on the meta device (no memory), the cached
model's tensors are assigned into it (no copy, the model is never loaded twice), and only
the new classifier head gets fresh memory. A causal LM's classifier reads the hidden state of
the last real token, so a batch is padded with `explorer.lm.pad_id`; a masked LM's reads the
first position, [CLS] (BERT, RoBERTa), as in the notes' BERT + classifier.
"""

from __future__ import annotations

import copy

import peft
import torch
from torch import nn
from transformers import AutoModelForSequenceClassification

from ..checks import ExplorerError
from ..lm import pad_id
from ..models import LoadedModel

HEAD_NAMES = ("score", "classifier")  # what transformers calls the head of a sequence classifier


def shared_classifier(lm: LoadedModel, num_labels: int) -> nn.Module:
    """A frozen `num_labels`-class classifier over `lm`'s own tensors; its head drawn from the torch seed."""
    config = copy.deepcopy(lm.model.config)
    config.num_labels = num_labels
    config.pad_token_id = pad_id(lm)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    # Parameters are assigned by name; buffers (rotary frequencies, position ids) are not in
    # every state dict, so the meta ones left are taken from the loaded model by their path.
    model.load_state_dict(lm.model.state_dict(), strict=False, assign=True)
    read_cls_directly(model)
    buffers = dict(lm.model.named_buffers())
    for module_name, module in model.named_modules():
        for name, buffer in module._buffers.items():
            if buffer is not None and buffer.is_meta:
                module._buffers[name] = buffers[f"{module_name}.{name}" if module_name else name]
    _initialise_head(model, getattr(config, "initializer_range", 0.02))
    model.requires_grad_(False)
    return model.eval()


class ClsToken(nn.Module):
    """In place of BERT's pooler: the [CLS] position's hidden state, as it is."""

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:  # (batch, n, hidden) -> (batch, hidden)
        return hidden_states[:, 0]


def read_cls_directly(model: nn.Module) -> None:
    """A masked LM loaded with its MLM head has no pooler (BERT trained its tanh layer on next-sentence
    prediction, which that checkpoint drops): rather than a frozen random layer, the head reads [CLS]."""
    transformer = getattr(model, model.base_model_prefix)
    pooler = getattr(transformer, "pooler", None)
    if isinstance(pooler, nn.Module) and any(p.is_meta for p in pooler.parameters()):
        transformer.pooler = ClsToken()


def _initialise_head(model: nn.Module, std: float) -> None:
    """Give the parameters the causal LM lacks (the head's) memory and transformers' usual init;
    any other parameter still on meta means the two models do not match."""
    prefix = head_name(model) + "."
    for module_name, module in model.named_modules():
        for name, parameter in module.named_parameters(recurse=False):
            if not parameter.is_meta:
                continue
            if not f"{module_name}.{name}".startswith(prefix):
                raise ExplorerError(
                    "Cannot build a classifier from this model: its parameter {name} "
                    "has no counterpart in the loaded language model.",
                    name=f"{module_name}.{name}",
                )
            fresh = torch.empty_like(parameter, device="cpu")
            nn.init.zeros_(fresh) if name == "bias" else nn.init.normal_(fresh, std=std)
            setattr(module, name, nn.Parameter(fresh))


def head_name(model: nn.Module) -> str:
    for name in HEAD_NAMES:
        if isinstance(getattr(model, name, None), nn.Module):
            return name
    raise ExplorerError(
        "{model} has no classifier head called {names}.", model=type(model).__name__, names=" or ".join(HEAD_NAMES)
    )


def head(model: nn.Module) -> nn.Module:
    """The new classifier head (the one part every method trains)."""
    return getattr(model, head_name(model))


def backbone(model: nn.Module) -> nn.Module:
    """The transformer inside a classifier (or inside peft's wrapper around one), without the head."""
    classifier = model.get_base_model() if isinstance(model, peft.PeftModel) else model
    return getattr(classifier, classifier.base_model_prefix)
