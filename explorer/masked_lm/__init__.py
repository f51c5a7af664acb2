"""Fill in the blank: BERT's cloze objective, and how it differs from GPT's left-to-right prediction.

Three computations, all on real models, one small module each:

* `masked.py` — **masked-lm**: a masked LM (BERT, RoBERTa, …) reads the whole sentence with its own
  mask token in every blank and predicts every blank in the same forward pass, each independently.
* `rescoring.py` — **causal-rescoring**: with only a causal model at hand (offline: the bundled
  SmolLM2; in Chinese, Gemma-3-270M), words are proposed for the blank (from the left context, and
  from the model asked to fill it) and each complete sentence is ranked by its log-likelihood, so
  the words after the blank count too.
* `left_only.py` — **left-only**: what a left-to-right model predicts from the words before the
  blank alone: the contrast the lecture is about.

`fill.py` runs the method the model allows and the left-only contrast beside it (`fill_mask`);
`blanks.py` reads the [MASK]s in the user's text; `words.py` cuts Chinese word by word where the
tokenizer's merges cross a word (中国的|首|都是 → 中国的|首都|是); `one_token_words.py` widens a
Chinese blank's proposals with one-token words the text after the blank picks; `corruption.py` is
BERT's training-time corruption (`corrupt`: ~15% of the tokens, 80% masked / 10% random / 10% kept).
Every function takes loaded models: which model runs is the registry's choice (`models.resolve_for`).
"""

from .blanks import MASK_PATTERN, MAX_FILL_CHARS, MAX_MASKS, Filler, fill_text
from .corruption import CorruptionResult, corrupt
from .fill import MAX_TOP_K, FillMaskResult, MaskPrediction, fill_mask
from .left_only import blank_ids

__all__ = [
    "MASK_PATTERN",
    "MAX_FILL_CHARS",
    "MAX_MASKS",
    "MAX_TOP_K",
    "CorruptionResult",
    "FillMaskResult",
    "Filler",
    "blank_ids",
    "MaskPrediction",
    "corrupt",
    "fill_mask",
    "fill_text",
]
