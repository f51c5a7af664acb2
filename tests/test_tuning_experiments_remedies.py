"""Forgetting and its remedies: replay really replays general text, the L2-SP/EWC pull has the textbook
gradient, every run is measured, drift is where the method trains, and bad input is refused."""

from __future__ import annotations

import math

import pytest
import torch

from explorer import datasets, tuning
from explorer.checks import ExplorerError
from explorer.datasets import Example
from explorer.lm import encode_document
from explorer.tuning import anchors, placement, remedies, replay, training
from explorer.tuning.remedies import RemediesConfig

from builders import tiny_llama


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(context=512)  # the general passage is ~300 of its tokens


def tiny_data() -> tuning.LabelledData:
    positive = ["great fun, I loved it", "lovely and kind staff", "the best day ever", "wonderful, works well"]
    negative = ["awful, it broke at once", "rude and slow service", "the worst day ever", "terrible, never again"]
    items = [Example(t, "positive") for t in positive] + [Example(t, "negative") for t in negative]
    return tuning.LabelledData(tuple(items), tuple(items), ("positive", "negative"))


def full_model(tiny):
    prepared = tuning.prepare(tiny, "full", tuning.TuningSettings())
    anchored = anchors.capture(prepared, tiny)
    training.own_trainable_copies(prepared, tiny)
    return prepared, anchored


def test_replay_batches_are_windows_of_the_general_corpus_and_never_the_task_or_the_measured_passage(tiny):
    corpus = "".join(replay.replay_texts("en"))
    batches = replay.replay_batches(tiny, steps=5, seed=3)
    assert len(batches) == 5 and all(batch.shape == (replay.WINDOWS_PER_STEP, replay.WINDOW) for batch in batches)
    for batch in batches:
        for row in batch.tolist():
            text = tiny.tokenizer.decode(row, skip_special_tokens=True).strip()
            assert text and text in corpus and text not in training.GENERAL_TEXT
            assert not any(text in item.text for item in tiny_data().train)
    assert [b.tolist() for b in batches] == [b.tolist() for b in replay.replay_batches(tiny, steps=5, seed=3)]


def test_a_chinese_page_replays_chinese_general_text(tiny):
    """Windows are slices of the encoded corpus in the data's language (compared as ids: a byte-level
    window may start inside a character), and that corpus is not the measured Chinese passage."""
    encoded = [t for text in replay.replay_texts("zh") for t in encode_document(tiny.tokenizer, text)]
    for row in (row for batch in replay.replay_batches(tiny, 4, 0, "zh") for row in batch.tolist()):
        assert any(encoded[i : i + len(row)] == row for i in range(len(encoded)))
    passages = replay.replay_texts("zh")
    assert len(passages) >= 5 and all("造纸" not in p for p in passages)
    assert datasets.general_passage("zh") not in "".join(passages)


def test_the_replay_run_trains_on_general_text_with_the_lm_loss(tiny, monkeypatch):
    """What the replay run's extra loss reads: the general-text windows, through the backbone."""
    seen = []
    original = replay.language_modelling_loss

    def spy(model, lm, input_ids):
        seen.append(input_ids)
        return original(model, lm, input_ids)

    monkeypatch.setattr(replay, "language_modelling_loss", spy)
    config = RemediesConfig(steps=3, replay_ratio=0.5)
    prepared, anchored = full_model(tiny)
    term = remedies.remedy_term(tiny, "replay", config.validated(), prepared, anchored, lambda f, m: None)
    assert term(prepared.model, 1).item() > 0
    assert torch.equal(seen[0], replay.replay_batches(tiny, 3, config.seed)[1])
    assert remedies.remedy_term(tiny, "full", config, prepared, anchored, lambda f, m: None) is None


def test_the_lm_loss_is_the_perplexity_probe_s(tiny):
    """Through the untouched backbone, the LM loss of the whole general passage is log(its perplexity)."""
    prepared, _ = full_model(tiny)
    ids = torch.tensor([encode_document(tiny.tokenizer, training.GENERAL_TEXT)])
    loss = replay.language_modelling_loss(prepared.model, tiny, ids).item()
    assert math.exp(loss) == pytest.approx(training.perplexity(prepared.model, tiny), rel=1e-4)


@pytest.mark.parametrize("weighted", [False, True])
def test_the_penalty_s_gradient_is_lambda_times_the_displacement(tiny, weighted):
    prepared, anchored = full_model(tiny)
    torch.manual_seed(0)
    with torch.no_grad():
        for anchor in anchored.values():
            anchor.parameter.add_(torch.randn_like(anchor.parameter) * 0.01)
    fisher = {name: torch.rand_like(a.start) + 0.5 for name, a in anchored.items()} if weighted else None
    strength = 3.0
    anchors.penalty(anchored, strength, fisher).backward()
    for name, anchor in anchored.items():
        expected = strength * (anchor.parameter.detach() - anchor.start) * (fisher[name] if weighted else 1)
        torch.testing.assert_close(anchor.parameter.grad, expected)
    assert anchored and all(not torch.equal(a.parameter, a.start) for a in anchored.values())


def test_the_fisher_is_positive_where_the_lm_needs_weights_and_averages_one(tiny):
    prepared, anchored = full_model(tiny)
    windows = [batch[0] for batch in replay.replay_batches(tiny, 3, 0)]
    fisher = anchors.diagonal_fisher(prepared.model, tiny, anchored, windows)
    total = sum(f.sum().item() for f in fisher.values()) / sum(f.numel() for f in fisher.values())
    assert total == pytest.approx(1.0, rel=1e-4)
    assert all((f >= 0).all() for f in fisher.values()) and max(f.max().item() for f in fisher.values()) > 1
    assert all(p.grad is None for p in prepared.model.parameters())


def test_four_runs_on_the_same_batches_measured_and_the_shared_model_untouched(tiny):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    config = RemediesConfig(steps=3, learning_rate=1e-2, lora_learning_rate=1e-2, l2sp_strength=100.0)
    partial = list(remedies.iter_remedies(tiny, config, data=tiny_data()))
    result = partial[-1]
    assert [r.method for r in result.runs] == ["full", "replay", "l2sp", "lora"] and len(partial) == 4
    assert result.positions == placement.positions(2)
    for run in result.runs:
        numbers = [run.accuracy, run.accuracy_before, run.ppl_before, run.ppl_after, *run.drift, *run.losses]
        assert all(math.isfinite(x) for x in numbers) and run.steps_done == 3 and len(run.drift) == 4
    full, replayed, l2sp, lora = result.runs
    assert full.losses[0] == replayed.losses[0] == l2sp.losses[0]  # the same head and first batch
    assert full.ppl_before == pytest.approx(lora.ppl_before)
    assert sum(l2sp.drift) < sum(full.drift)  # the pull holds the weights nearer θ₀
    assert lora.drift[0] == lora.drift[-1] == 0 and all(d > 0 for d in lora.drift[1:-1])  # only its layers move
    assert lora.trainable < full.trainable
    after = tiny.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_ewc_takes_l2sp_s_place_and_its_term_is_fisher_weighted(tiny, monkeypatch):
    asked = []
    monkeypatch.setattr(remedies, "run_remedy", lambda lm, method, *rest: asked.append(method) or method)
    remedies.remedies(tiny, RemediesConfig(ewc=True), data=tiny_data())
    assert asked == ["full", "replay", "ewc", "lora"]
    prepared, anchored = full_model(tiny)
    with torch.no_grad():  # a uniform shift would cost the same under both: the Fisher averages 1
        for anchor in anchored.values():
            anchor.parameter.add_(0.01 * torch.rand_like(anchor.parameter))
    config = RemediesConfig().validated()
    ewc = remedies.remedy_term(tiny, "ewc", config, prepared, anchored, lambda f, m: None)(prepared.model, 0)
    l2sp = remedies.remedy_term(tiny, "l2sp", config, prepared, anchored, lambda f, m: None)(prepared.model, 0)
    squares = sum((a.parameter - a.start).pow(2).sum().item() for a in anchored.values())
    assert l2sp.item() == pytest.approx(config.l2sp_strength / 2 * squares, rel=1e-4)
    assert ewc.item() > 0 and ewc.item() != pytest.approx(l2sp.item(), rel=1e-2)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(replay_ratio=1.5), "replay_ratio"),
        (dict(replay_ratio=-0.1), r"replay_ratio.*\[0, 1\]"),
        (dict(l2sp_strength=-1), r"l2sp_strength.*\[0, 1e\+06\]"),
        (dict(steps=0), "steps"),
        (dict(learning_rate=0), "learning_rate"),
        (dict(lora_r=0), "lora_r"),
    ],
)
def test_bad_settings_are_refused_with_what_is_allowed(tiny, change, message):
    with pytest.raises(ExplorerError, match=message):
        remedies.remedies(tiny, RemediesConfig(**change), data=tiny_data())
