"""The experiments on the bundled SmolLM2: a tiny seeded run is finite and repeats exactly; its label words
are single tokens."""

from __future__ import annotations

import dataclasses
import math

from explorer import datasets, tuning
from explorer.tuning import few_shot, remedies, verbalizer
from explorer.tuning.remedies import RemediesConfig


def few_reviews() -> tuning.LabelledData:
    full = tuning.sentiment_data()
    return tuning.LabelledData(full.train[:8], full.held_out[:4], full.labels)


def test_a_replay_run_is_finite_and_reproducible(bundled):
    config = RemediesConfig(steps=1).validated()
    runs = [remedies.run_remedy(bundled, "replay", config, few_reviews(), 30, lambda f, m: None) for _ in range(2)]
    first, second = (dataclasses.asdict(run) for run in runs)
    first.pop("seconds"), second.pop("seconds")
    assert first == second
    assert all(math.isfinite(x) for x in (first["ppl_before"], first["ppl_after"], *first["drift"], *first["losses"]))
    assert 10 < first["ppl_before"] < 100  # SmolLM2 reads the general passage fluently


def test_prompt_based_tuning_reads_single_token_label_words(bundled):
    sentiment = datasets.load_task("sentiment")
    ids = verbalizer.label_token_ids(bundled, sentiment)
    assert bundled.tokenizer.convert_ids_to_tokens(ids) == ["Ġpositive", "Ġnegative"]
    config = few_shot.PromptVsHeadConfig(sizes=(2,), repeats=1, steps=1)
    result = few_shot.prompt_vs_head(bundled, config, data=few_reviews())
    assert len(result.points) == 3 and all(0 <= a <= 1 for p in result.points for a in p.accuracies)
