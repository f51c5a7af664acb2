"""Filling every blank of a text: the method the model allows, and GPT's left-only guess beside it.

A masked LM runs masked-lm; a causal model runs causal rescoring. Either
way a causal model also predicts each blank from its left context alone, the contrast the tab
is about ("[MASK] is the largest planet": the left side says nothing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .. import checks, i18n
from ..head_rounds import heads_together
from ..models import LoadedModel, Progress
from .blanks import Filler, check_fill_text, fill_text, writes_cjk
from .left_only import left_only_steps
from .masked import masked_lm_predictions
from .rescoring import proposal_searches, proposals, rescore

MAX_TOP_K = 50
MIN_CANDIDATES_PER_SOURCE = 10  # each source proposes max(this, top_k) words per blank
CJK_SHARE = 2  # ... in Chinese a share of that: each word also competes as its shorter starts (北京市: 北京)


@dataclass
class MaskPrediction:
    index: int  # 0-based order of the mask in the text
    candidates: list[Filler]  # uses both sides of the blank, most likely first
    left_only: list[Filler]  # a left-to-right model's next word from the left context alone
    left_context: str  # exactly what the left-only prediction saw


@dataclass
class FillMaskResult:
    model: str
    method: str  # "masked-lm" | "causal-rescoring"
    masks: list[MaskPrediction]
    filled: str  # the text with every blank filled by its best candidate
    left_only_model: str  # the causal model behind `left_only`
    left_only_filled: str  # the text filled left to right, each blank from its left context only
    note: str  # what ran, in one or two plain sentences
    candidates_scored: int  # causal-rescoring: complete sentences scored, one batch per blank
    seconds: float


def fill_mask(
    lm: LoadedModel, causal: LoadedModel, text: str, top_k: int = 10, progress: Progress | None = None
) -> FillMaskResult:
    """Fill every [MASK] in `text` with `lm` (masked-lm if it is a masked LM, else causal
    rescoring), and predict each blank from its left context alone with the causal model `causal`."""
    progress = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    text, masks = check_fill_text(text)
    top_k = checks.number(top_k, "top_k", 1, MAX_TOP_K, integer=True)
    n = max(MIN_CANDIDATES_PER_SOURCE, top_k)
    progress(0.1, i18n.message("Left-to-right prediction from the left context only", {}))
    left_only_search = left_only_steps(causal, text, masks, n)
    if lm.spec.kind == "masked":  # not "has a mask token": Gemma 3's causal vocabulary has an unused <mask>
        method = "masked-lm"
        left_only, contexts = heads_together(causal, [left_only_search])[0]
        progress(
            0.5, i18n.message("{model}: one forward pass for all {n} blank(s)", {"model": lm.name, "n": len(masks)})
        )
        candidates, scored = masked_lm_predictions(lm, text, top_k), 0
        note = i18n.message(
            "masked-lm: {model} read the whole sentence with its mask token {mask} in each blank "
            "and predicted every blank in one forward pass, each blank independently of the others.",
            {"model": lm.name, "mask": lm.tokenizer.mask_token},
        )
    else:
        method = "causal-rescoring"
        per_source = n // CJK_SHARE if writes_cjk(text) else n
        blanks = ", ".join(str(index + 1) for index in range(len(masks)))
        progress(0.3, i18n.message("Asking {model} to fill blank {n}", {"model": lm.name, "n": blanks}))
        searches = proposal_searches(lm, text, masks, per_source)
        # One model makes both: its searches run in lockstep, one product with the LM head per step for all.
        together = [left_only_search] if causal is lm else []
        results = heads_together(lm, [*together, *searches.values()])
        left_only, contexts = results.pop(0) if together else heads_together(causal, [left_only_search])[0]
        found = dict(zip(searches, results))
        proposed, provisional = proposals(lm, text, masks, left_only, found, per_source)
        n_sentences = sum(len(words) for words in proposed)
        progress(0.75, i18n.message("Scoring {n} complete sentences, one batch per blank", {"n": n_sentences}))
        candidates, scored = rescore(lm, text, proposed, provisional)
        note = i18n.message(
            "causal-rescoring: no masked LM is used, so {model} (a left-to-right model) proposed words "
            "from the left context and when asked to fill the blank, then ranked the complete sentences by their "
            "likelihood ({n} sentences scored, one batch per blank), so the words after the blank count too. "
            "Probabilities are renormalised over the words scored.",
            {"model": lm.name, "n": scored},
        )
        if len(masks) > 1:
            note += i18n.message(
                " With several blanks, each blank was scored on its own while the others held the asked "
                "model's first guess ({guesses}), as BERT predicts each blank independently.",
                {"guesses": ", ".join(provisional)},
            )
    progress(1.0, i18n.message("Done", {}))
    predictions = [
        MaskPrediction(index, candidates[index][:top_k], left_only[index][:top_k], contexts[index])
        for index in range(len(masks))
    ]
    return FillMaskResult(
        model=lm.name,
        method=method,
        masks=predictions,
        filled=fill_text(text, [best(m.candidates) for m in predictions]),
        left_only_model=causal.name,
        left_only_filled=fill_text(text, [best(m.left_only) for m in predictions]),
        note=note,
        candidates_scored=scored,
        seconds=time.perf_counter() - started,
    )


def best(fillers: list[Filler]) -> str:
    return fillers[0].token if fillers else "…"
