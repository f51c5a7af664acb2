"""What a masked LM (BERT, RoBERTa, …) does with blanks: it reads the whole sentence, left and right
of every blank, with its own mask token in each, and predicts every blank in ONE forward pass,
each blank independently of the others (the cloze objective it was trained on)."""

from __future__ import annotations

import math

import torch

from ..checks import ExplorerError
from ..lm import check_fits
from ..models import LoadedModel
from ..segments import token_labels
from .blanks import MASK_PATTERN, Filler


def masked_lm_predictions(lm: LoadedModel, text: str, top_k: int) -> list[list[Filler]]:
    """Every blank's top-k words, from one forward pass of the masked LM `lm`."""
    tokenizer = lm.tokenizer
    # The user always types [MASK]; the model reads its own mask token there ('<mask>' for RoBERTa).
    encoded = tokenizer(MASK_PATTERN.sub(tokenizer.mask_token, text), return_tensors="pt")
    ids = encoded["input_ids"][0]  # (n,) with [CLS] … [SEP] around the text
    check_fits(lm, len(ids))
    positions = (ids == tokenizer.mask_token_id).nonzero().flatten()  # (n_blanks,)
    if len(positions) != len(MASK_PATTERN.findall(text)):
        raise ExplorerError(
            "The text already contains {model}'s own mask token {token!r}; write [MASK] for every blank and nothing else.",
            model=lm.name,
            token=tokenizer.mask_token,
        )
    with torch.inference_mode():
        logits = lm.model(**encoded).logits[0, positions]  # (n_blanks, vocab)
    top = logits.float().log_softmax(-1).topk(top_k, dim=-1)  # values, indices: (n_blanks, top_k)
    return [
        [
            Filler(word.strip(), math.exp(float(logprob)), float(logprob), "masked-lm")
            for logprob, word in zip(logprobs, token_labels(tokenizer, indices.tolist()))
        ]
        for logprobs, indices in zip(top.values, top.indices)
    ]
