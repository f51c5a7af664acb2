"""How BERT is trained: its masked-LM corruption, as in google-research/bert's create_pretraining_data.py.

Exactly round(15%) of the positions (at least one) are picked, shuffled with the seed; each
picked token becomes the mask token 80% of the time, a random token 10%, stays itself 10%. The
model must predict the original at every picked position, so it cannot trust that an unmasked
token is right.

Written by hand because transformers' DataCollatorForLanguageModeling draws a Bernoulli per token
(a short sentence may get none) and does not report what it did at each position.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .. import checks, i18n
from ..checks import ExplorerError
from ..models import LoadedModel
from ..segments import token_labels

MAX_DEMO_CHARS = 5_000
PICKED = 0.15  # the share of positions BERT picks
MASKED = 0.8  # of the picked, the share masked; the rest split evenly between kept and random
PLACEHOLDER = "[MASK]"  # shown where a tokenizer without a mask token would put one


@dataclass
class CorruptionResult:
    tokens: list[str]
    corrupted: list[str]
    positions: list[int]  # the ~15% of positions chosen, ascending
    actions: list[str]  # per chosen position: "mask" | "random" | "keep"
    model: str  # whose tokenizer split the text
    mask_token: str  # what a masked position shows
    note: str
    seed: int
    replaced_by: list[str] = field(default_factory=list)  # per chosen position: what the model sees there


def corrupt(lm: LoadedModel, text: str, seed: int = 0) -> CorruptionResult:
    """BERT's corruption of `text` as split by `lm`'s tokenizer; the same seed, the same corruption."""
    text = checks.text(text, "text", MAX_DEMO_CHARS)
    seed = checks.seed(seed)
    tokenizer = lm.tokenizer
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ExplorerError("The text gives no tokens; type a sentence.")
    tokens = token_labels(tokenizer, ids)  # a cut character shows its bytes (⟨e5 8f⟩), never �
    masked_lm = lm.spec.kind == "masked"  # a causal vocabulary may hold an unused <mask> (Gemma 3's does)
    mask_token = tokenizer.mask_token if masked_lm else PLACEHOLDER
    # Pick the positions: a seeded shuffle, its first 15%.
    rng = random.Random(seed)
    positions = list(range(len(ids)))
    rng.shuffle(positions)
    chosen = sorted(positions[: max(1, round(len(ids) * PICKED))])
    # Corrupt each picked position: 80% mask, then of the rest half kept, half random.
    special = set(tokenizer.all_special_ids)
    corrupted, actions, replaced = list(tokens), [], []
    for position in chosen:
        if rng.random() < MASKED:
            action, shown = "mask", mask_token
        elif rng.random() < 0.5:
            action, shown = "keep", tokens[position]
        else:
            action, shown = "random", token_labels(tokenizer, [random_token(rng, len(tokenizer), special)])[0]
        corrupted[position] = shown
        actions.append(action)
        replaced.append(shown)
    if masked_lm:
        note = i18n.message(
            "Split by {model}'s own tokenizer; masked positions get its mask token {mask}.",
            {"model": lm.name, "mask": mask_token},
        )
    else:
        note = i18n.message(
            "Split by {model}'s tokenizer; {model} is a causal model, trained with no mask token, so "
            "{mask} marks where BERT would put its own. The 80/10/10 rule is the same.",
            {"model": lm.name, "mask": PLACEHOLDER},
        )
    return CorruptionResult(tokens, corrupted, chosen, actions, lm.name, mask_token, note, seed, replaced)


def random_token(rng: random.Random, vocab_size: int, special: set[int]) -> int:
    """A uniformly random token id that is not a special token."""
    while True:
        token_id = rng.randrange(vocab_size)
        if token_id not in special:
            return token_id
