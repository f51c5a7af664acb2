"""A masked LM in the Tuning tab: the backbone read through the pre-trained head gives the model's own
logits, a masked LM's objective predicts every token once under its mask, its classifier head reads
[CLS], prompt-based tuning reads the [MASK] in the label slot through the MLM head (adding nothing),
the experiments run on it, and what a model cannot take is refused by name."""

from __future__ import annotations

import math

import pytest
import torch

from explorer import datasets, tuning
from explorer.checks import ExplorerError
from explorer.datasets import Example
from explorer.tuning import classifier, few_shot, lm_head, remedies, training, verbalizer
from explorer.tuning.few_shot import PromptVsHeadConfig
from explorer.tuning.remedies import RemediesConfig

from builders import tiny_bert, tiny_bert_for_templates, tiny_llama

SENTIMENT = datasets.load_task("sentiment")
PASSAGE = "the capital of france is paris . jupiter is the largest planet in the solar system ."


@pytest.fixture(scope="module")
def bert():
    return tiny_bert_for_templates()


def bert_data() -> tuning.LabelledData:
    positive = ["the dog is hot", "monday is red", "paris is the capital", "the sun is up"]
    negative = ["the cat is cold", "sunday is down", "rome barked all night", "mars is cold"]
    items = [Example(t, "positive") for t in positive] + [Example(t, "negative") for t in negative]
    return tuning.LabelledData(tuple(items), tuple(items[::2]), ("positive", "negative"), passage=PASSAGE)


@pytest.mark.parametrize("build", [tiny_llama, tiny_bert])
def test_the_backbone_through_the_pre_trained_head_gives_the_model_s_own_logits(build):
    lm = build()
    ids = torch.tensor([lm.tokenizer("the capital of france is paris")["input_ids"]])  # (1, n)
    transformer = classifier.backbone(tuning.prepare(lm, "full", tuning.TuningSettings()).model)
    with torch.no_grad():
        hidden = transformer(input_ids=ids).last_hidden_state  # (1, n, hidden)
        torch.testing.assert_close(lm_head.lm_logits(transformer, lm, hidden), lm.model(input_ids=ids).logits)


def test_a_masked_lm_predicts_every_ordinary_token_once_under_its_mask(bert):
    ids = torch.tensor([bert.tokenizer(PASSAGE)["input_ids"]])  # (1, n)
    inputs, targets = lm_head.lm_targets(bert, ids)
    assert inputs.shape == targets.shape == (lm_head.MASK_EVERY, ids.shape[1])
    predicted = targets != lm_head.IGNORE
    special = torch.isin(ids[0], torch.tensor(bert.tokenizer.all_special_ids))
    assert predicted.sum(0).tolist() == (~special).int().tolist()  # every ordinary token exactly once
    assert (inputs[predicted] == bert.tokenizer.mask_token_id).all()  # ... hidden under the mask
    assert (targets[predicted] == ids.expand_as(targets)[predicted]).all()  # ... to be predicted
    assert (inputs[~predicted] == ids.expand_as(inputs)[~predicted]).all()  # nothing else changed


def test_a_masked_lm_s_perplexity_is_its_pseudo_perplexity(bert):
    model = tuning.prepare(bert, "head", tuning.TuningSettings()).model
    inputs, targets = lm_head.lm_targets(bert, torch.tensor([bert.tokenizer(PASSAGE)["input_ids"]]))
    with torch.no_grad():
        logits = bert.model(input_ids=inputs).logits  # (copies, n, vocab): the cached MLM, head and all
    expected = math.exp(torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()).item())
    assert training.perplexity(model, bert, PASSAGE) == pytest.approx(expected, rel=1e-4)


def test_a_masked_lm_s_classifier_head_reads_cls(bert):
    prepared = tuning.prepare(bert, "head", tuning.TuningSettings())
    model = prepared.model
    assert isinstance(model.bert.pooler, classifier.ClsToken)  # no frozen, randomly drawn pooler
    hidden_size = bert.model.config.hidden_size
    assert prepared.trainable == 2 * hidden_size + 2  # the new head alone
    input_ids, mask = training.encode(bert, ["the dog barked", "the cat is cold tonight"])
    assert (mask[:, 0] == 1).all() and mask[0, -1] == 0  # right-padded: position 0 is always real
    with torch.no_grad():
        states = model.bert(input_ids=input_ids, attention_mask=mask).last_hidden_state  # (2, n, hidden)
        torch.testing.assert_close(
            model(input_ids=input_ids, attention_mask=mask).logits, model.classifier(states[:, 0])
        )


def test_prompt_based_tuning_reads_the_mask_through_the_mlm_head_and_adds_nothing(bert):
    prepared = verbalizer.prepare_prompt_based(bert, SENTIMENT, seed=0)
    own = {p.data_ptr() for p in bert.model.parameters()}
    assert all(p.data_ptr() in own for p in prepared.model.parameters())  # every weight is the MLM's own
    text = verbalizer.template_text(bert, SENTIMENT, "the dog is hot")
    assert text.endswith("Sentiment: [MASK]")
    input_ids, mask = training.encode(bert, [text, "the cat [MASK] is cold"])
    ids = verbalizer.label_token_ids(bert, SENTIMENT)
    with torch.no_grad():
        expected = bert.model(input_ids=input_ids, attention_mask=mask).logits  # (2, n, vocab)
        scores = prepared.model(input_ids=input_ids, attention_mask=mask).logits  # (2, k)
    slots = (input_ids == bert.tokenizer.mask_token_id).int().argmax(-1)
    torch.testing.assert_close(scores, expected[torch.arange(2), slots][:, ids], rtol=1e-4, atol=1e-4)


def test_prompt_vs_head_and_the_remedies_run_on_a_masked_lm(bert):
    config = PromptVsHeadConfig(sizes="4", repeats=1, steps=2, learning_rate=1e-3)
    result = few_shot.prompt_vs_head(bert, config, data=bert_data())
    assert "[MASK]" in result.template and {p.method for p in result.points} == set(few_shot.METHODS)
    runs = remedies.remedies(bert, RemediesConfig(steps=2, ewc=True), data=bert_data()).runs
    assert [run.method for run in runs] == ["full", "replay", "ewc", "lora"]
    assert all(math.isfinite(run.ppl_after) and math.isfinite(sum(run.drift)) for run in runs)
    assert runs[-1].ppl_update_removed == pytest.approx(runs[-1].ppl_before)  # LoRA off: the MLM is back


def test_a_method_the_model_cannot_take_is_refused_with_the_ones_it_can(bert):
    with pytest.raises(
        ExplorerError, match=r"cannot be tuned with ln_tuning.*every model: full, head, bitfit, adapter"
    ):
        tuning.prepare(bert, "ln_tuning", tuning.TuningSettings())
    table = tuning.table(bert)
    assert "ln_tuning" in table.unavailable and "ln_tuning" not in {row.method for row in table.rows}


def test_a_masked_lm_without_a_mask_token_cannot_be_tuned_through_its_head():
    lm = tiny_bert_for_templates()
    lm.tokenizer.mask_token = None
    with pytest.raises(ExplorerError, match="has no mask token.*pick a causal LM or a masked LM with a mask token"):
        verbalizer.template_text(lm, SENTIMENT, "the dog is hot")
