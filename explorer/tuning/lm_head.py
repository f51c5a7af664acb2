"""Reading a (tuned) backbone through the pre-trained LM head, for causal and masked LMs alike.

A classifier built from the LM (`classifier`) has no LM head. The perplexity probe, replay's loss and
prompt-based tuning read the backbone's hidden states through the cached model's own head module:
`lm_head` (GPT-2, Llama, Gemma, RoBERTa) or `cls` (BERT); for a masked LM that is a transform (dense,
activation, norm) and then the decoder. With tied embeddings the decoder's matrix is swapped for the
backbone's own, possibly tuned, input embeddings; otherwise the cached head is used (never trained).

The language-modelling objective is the model's own:
- a causal LM predicts every next token;
- a masked LM predicts the tokens hidden under its mask token. The text is copied MASK_EVERY times and
  copy g masks the positions p with p mod MASK_EVERY = g (about 15 %, as in BERT's pre-training), so
  every token is predicted once; a masked LM's perplexity is this pseudo-perplexity (Salazar et al.,
  2020, with 1 in MASK_EVERY tokens masked at a time instead of one).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from ..checks import ExplorerError
from ..lm import encode_document
from ..models import LoadedModel

MASK_EVERY = 7  # a masked LM sees 1 token in MASK_EVERY masked at a time
IGNORE = -100  # cross_entropy's "predict nothing here"


def is_masked(lm: LoadedModel) -> bool:
    return lm.spec.kind == "masked"


def document_ids(lm: LoadedModel, text: str) -> list[int]:
    """A text as the model scores it: a causal LM's document start then its tokens (`lm.encode_document`);
    a masked LM's own special tokens around it ([CLS] … [SEP])."""
    return lm.tokenizer(text)["input_ids"] if is_masked(lm) else encode_document(lm.tokenizer, text)


def mask_id(lm: LoadedModel) -> int:
    """The masked LM's mask token; refuses a masked LM that has none."""
    if lm.tokenizer.mask_token_id is None:
        raise ExplorerError(
            "{model} has no mask token, so it cannot be read through its masked-LM head; "
            "pick a causal LM or a masked LM with a mask token (BERT, RoBERTa).",
            model=lm.name,
        )
    return lm.tokenizer.mask_token_id


def head_module(lm: LoadedModel) -> nn.Module:
    """What the cached model puts after its backbone: hidden states in, vocabulary logits out."""
    heads = [module for name, module in lm.model.named_children() if name != lm.model.base_model_prefix]
    if len(heads) != 1:
        raise ExplorerError(
            "Where {architecture}'s LM head is is not known here; models with one head module after "
            "the backbone can be read (Llama, Gemma, GPT-2, BERT, RoBERTa).",
            architecture=type(lm.model).__name__,
        )
    return heads[0]


def lm_logits(transformer: nn.Module, lm: LoadedModel, hidden: torch.Tensor) -> torch.Tensor:
    """(..., hidden) -> (..., vocab): the pre-trained head applied to hidden states of `transformer`,
    a (tuned) backbone of `lm`; with tied embeddings its decoder is the backbone's own embedding matrix."""
    head = head_module(lm)
    if not getattr(lm.model.config, "tie_word_embeddings", False):
        return head(hidden)
    decoder = lm.model.get_output_embeddings()
    name = next(name for name, module in head.named_modules() if module is decoder)
    weight = f"{name}.weight" if name else "weight"
    return functional_call(head, {weight: transformer.get_input_embeddings().weight}, (hidden,))


def lm_targets(lm: LoadedModel, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What the model reads and what each position must predict (IGNORE: nothing), from ids (batch, n).
    Causal: the ids, each position's target the next id. Masked: MASK_EVERY masked copies (see above)."""
    if not is_masked(lm):
        targets = torch.full_like(ids, IGNORE)
        targets[:, :-1] = ids[:, 1:]  # position j predicts token j + 1
        return ids, targets
    special = torch.isin(ids, torch.tensor(lm.tokenizer.all_special_ids))  # (batch, n): never masked
    group = torch.arange(ids.shape[1]) % MASK_EVERY  # (n,)
    inputs, targets = [], []
    for g in range(MASK_EVERY):
        hidden_here = (group == g) & ~special  # (batch, n)
        inputs.append(ids.masked_fill(hidden_here, mask_id(lm)))
        targets.append(ids.masked_fill(~hidden_here, IGNORE))
    return torch.cat(inputs), torch.cat(targets)  # (MASK_EVERY · batch, n) each


def lm_loss(transformer: nn.Module, lm: LoadedModel, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy of the predicted positions; hidden (batch, n, hidden), targets (batch, n)."""
    predicted = targets != IGNORE  # (batch, n)
    logits = lm_logits(transformer, lm, hidden[predicted])  # (predicted positions, vocab)
    return nn.functional.cross_entropy(logits.float(), targets[predicted])
