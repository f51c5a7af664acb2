"""The Masked-LM tab: a tiny BertForMaskedLM built here (random weights, the real code path), a
tiny Llama for causal rescoring's mechanics, and the bundled SmolLM2 for rescoring's quality."""

from __future__ import annotations

import collections
import contextlib
import json
from pathlib import Path

import gradio as gr
import pytest
import torch
from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

from explorer import masked_lm, models
from explorer.checks import ExplorerError
from explorer.views import masked_lm as view

CLOZE = [
    json.loads(line) for line in (Path(__file__).parent.parent / "assets" / "cloze.jsonl").read_text().splitlines()
]
BERT_CORPUS = [
    "the capital of france is paris . the capital of italy is rome .",
    "jupiter is the largest planet in the solar system and mars is red .",
    "monday tuesday wednesday thursday friday saturday sunday one two three four five",
    "the dog barked at the cat all night ; the opposite of hot is cold , of up is down .",
] * 3


def tiny_bert(mask_token: str = "[MASK]", seed: int = 0) -> models.LoadedModel:
    """A 2-layer BERT and a WordPiece tokenizer trained here; `mask_token` as RoBERTa's '<mask>' too."""
    torch.manual_seed(seed)
    wordpiece = BertWordPieceTokenizer(mask_token=mask_token)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", mask_token]
    wordpiece.train_from_iterator(BERT_CORPUS, vocab_size=200, min_frequency=1, special_tokens=specials)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=wordpiece._tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token=mask_token,
    )
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForMaskedLM(config).eval()
    spec = models.ModelSpec("tiny-bert", "tests/tiny-bert", "masked", model.num_parameters())
    return models.LoadedModel(spec, model, tokenizer, "bundled")


@pytest.fixture(scope="module")
def bert() -> models.LoadedModel:
    return tiny_bert()


@contextlib.contextmanager
def count_forwards(module: torch.nn.Module):
    calls = []
    handle = module.register_forward_hook(lambda *_: calls.append(1))
    try:
        yield calls
    finally:
        handle.remove()


# ---------------------------------------------------------------- masked-lm on a tiny BERT


def test_masked_lm_predicts_every_blank_in_one_forward(bert, tiny):
    with count_forwards(bert.model) as calls:
        result = masked_lm.fill(bert, tiny, "the capital of [MASK] is [MASK] .", top_k=5)
    assert len(calls) == 1
    assert result.method == "masked-lm" and [m.index for m in result.masks] == [0, 1]
    encoded = bert.tokenizer("the capital of [MASK] is [MASK] .", return_tensors="pt")
    with torch.no_grad():
        logits = bert.model(**encoded).logits[0]
    positions = (encoded["input_ids"][0] == bert.tokenizer.mask_token_id).nonzero().flatten()
    for mask, position in zip(result.masks, positions):
        probs = logits[position].softmax(-1)
        expected = probs.topk(5)
        assert [c.token for c in mask.candidates] == [bert.tokenizer.decode([int(i)]).strip() for i in expected.indices]
        assert [c.prob for c in mask.candidates] == pytest.approx(expected.values.tolist(), rel=1e-4)
    assert result.filled == masked_lm.fill_text(
        "the capital of [MASK] is [MASK] .", [m.candidates[0].token for m in result.masks]
    )


def test_user_types_mask_whatever_the_models_own_mask_token(tiny):
    roberta_like = tiny_bert(mask_token="<mask>")
    result = masked_lm.fill(roberta_like, tiny, "the dog barked at the [MASK] all night .", top_k=3)
    assert result.method == "masked-lm" and len(result.masks[0].candidates) == 3
    assert "<mask>" in result.note
    with pytest.raises(ExplorerError, match=r"\[MASK\]"):
        masked_lm.fill(roberta_like, tiny, "the <mask> barked at the [MASK] .", top_k=3)


@pytest.mark.parametrize("top_k", [0, 51, -1, 2.5, "ten", None])
def test_top_k_outside_1_to_50_is_refused(bert, tiny, top_k):
    with pytest.raises(ExplorerError, match="top_k"):
        masked_lm.fill(bert, tiny, "the capital of [MASK] is paris .", top_k=top_k)


@pytest.mark.parametrize(
    "text, message",
    [
        ("the capital of france is paris .", "no \\[MASK\\]"),
        ("the capital of france is <mask> .", "not <mask>"),
        (" ".join(["[MASK]"] * 6) + " is a sentence", "limit is 5"),
        ("[MASK]", "only \\[MASK\\]s"),
        ("[MASK] [MASK] .", "only \\[MASK\\]s"),
        ("", "empty"),
        ("   ", "empty"),
        ("a [MASK] " + "x" * 200_000, "limit is 600"),
    ],
)
def test_bad_text_is_explained(bert, tiny, text, message):
    with pytest.raises(ExplorerError, match=message):
        masked_lm.fill(bert, tiny, text)


def test_model_and_method_choices_are_checked():
    with pytest.raises(ExplorerError, match="causal .* cannot run masked-lm"):
        masked_lm.pick_model(models.BUNDLED_NAME, "masked-lm")
    with pytest.raises(ExplorerError, match="Unknown model"):
        masked_lm.pick_model("no-such-model", "auto")
    with pytest.raises(ExplorerError, match="needs a causal model"):
        masked_lm.pick_model("bert-base-uncased", "causal-rescoring")
    with pytest.raises(ExplorerError, match="method must be one of"):
        masked_lm.check_method("guess")
    assert masked_lm.pick_model(models.BUNDLED_NAME, "auto") == (models.BUNDLED_NAME, "causal-rescoring")
    assert masked_lm.pick_model("bert-base-uncased", "auto") == ("bert-base-uncased", "masked-lm")


def test_empty_model_picks_a_masked_lm_when_one_is_available(monkeypatch):
    monkeypatch.setattr(
        models, "default_model", lambda kind: "distilroberta-base" if kind == "masked" else models.BUNDLED_NAME
    )
    assert masked_lm.pick_model("", "auto") == ("distilroberta-base", "masked-lm")
    monkeypatch.setattr(models, "default_model", lambda kind: None if kind == "masked" else models.BUNDLED_NAME)
    assert masked_lm.pick_model("", "auto") == (models.BUNDLED_NAME, "causal-rescoring")
    with pytest.raises(ExplorerError, match="No masked model is available"):
        masked_lm.pick_model("", "masked-lm")


# ---------------------------------------------------------------- causal rescoring's mechanics on a tiny Llama


def test_batched_sentence_scores_equal_one_sentence_at_a_time(tiny):
    sentences = ["The capital of France is Paris.", "Paris.", "Once upon a time there was a little model."]
    with count_forwards(tiny.model.base_model) as calls:
        batched = masked_lm.sentence_logprobs(tiny, sentences)
    assert len(calls) == 1  # one padded forward for every sentence
    for sentence, score in zip(sentences, batched):
        ids = torch.tensor([masked_lm.start_ids(tiny.tokenizer) + tiny.tokenizer(sentence)["input_ids"]])
        with torch.no_grad():
            logprobs = tiny.model(input_ids=ids).logits[0, :-1].log_softmax(-1)
        assert score == pytest.approx(float(logprobs.gather(1, ids[0, 1:, None]).sum()), abs=1e-3)


def test_left_only_ignores_the_right_context_and_rescoring_does_not(tiny):
    short = masked_lm.fill(tiny, tiny, "The capital of France is [MASK].", top_k=5)
    longer = masked_lm.fill(tiny, tiny, "The capital of France is [MASK] and the capital of Italy is Rome.", top_k=5)
    assert short.method == longer.method == "causal-rescoring"
    assert short.masks[0].left_context == longer.masks[0].left_context == "The capital of France is "
    assert [(f.token, f.prob) for f in short.masks[0].left_only] == [
        (f.token, f.prob) for f in longer.masks[0].left_only
    ]
    assert [f.logprob for f in short.masks[0].candidates] != [f.logprob for f in longer.masks[0].candidates]
    for mask in short.masks + longer.masks:
        assert sum(f.prob for f in mask.candidates) <= 1 + 1e-6
        assert [f.logprob for f in mask.candidates] == sorted((f.logprob for f in mask.candidates), reverse=True)


def test_several_blanks_are_scored_in_one_batch(tiny, monkeypatch):
    batches = []
    score = masked_lm.sentence_logprobs
    monkeypatch.setattr(
        masked_lm, "sentence_logprobs", lambda lm, sentences: batches.append(sentences) or score(lm, sentences)
    )
    result = masked_lm.fill(tiny, tiny, "Once upon a [MASK] there was a [MASK] model.", top_k=4)
    assert len(batches) == 1 and len(batches[0]) == result.candidates_scored
    assert all("[MASK]" not in sentence for sentence in batches[0])  # complete sentences
    assert len(result.masks) == 2
    assert "[MASK]" not in result.filled and "[MASK]" not in result.left_only_filled
    assert all(1 <= len(m.candidates) <= 4 for m in result.masks)


# ---------------------------------------------------------------- BERT's 80/10/10 corruption


def test_corruption_is_seeded_and_about_15_percent(bert):
    text = " ".join(BERT_CORPUS[:4])
    first, again = masked_lm.corrupt(bert, text, seed=3), masked_lm.corrupt(bert, text, seed=3)
    assert first == again
    assert masked_lm.corrupt(bert, text, seed=4).positions != first.positions
    assert len(first.positions) == round(0.15 * len(first.tokens))
    for position, action, shown in zip(first.positions, first.actions, first.replaced_by):
        assert first.corrupted[position] == shown
        if action == "mask":
            assert shown == "[MASK]"
        if action == "keep":
            assert shown == first.tokens[position]
    untouched = set(range(len(first.tokens))) - set(first.positions)
    assert all(first.corrupted[i] == first.tokens[i] for i in untouched)


def test_corruption_follows_80_10_10(bert):
    actions = collections.Counter()
    for seed in range(300):
        actions.update(masked_lm.corrupt(bert, " ".join(BERT_CORPUS[:4]), seed=seed).actions)
    total = sum(actions.values())
    assert total > 2000
    assert actions["mask"] / total == pytest.approx(0.8, abs=0.03)
    assert actions["random"] / total == pytest.approx(0.1, abs=0.03)
    assert actions["keep"] / total == pytest.approx(0.1, abs=0.03)


def test_corruption_without_a_mask_token_shows_a_placeholder_and_says_why(tiny):
    result = masked_lm.corrupt(tiny, "Once upon a time there was a little model that predicted the next token.", seed=0)
    assert result.mask_token == "[MASK]" and "no mask token" in result.note
    assert "".join(result.tokens) == "Once upon a time there was a little model that predicted the next token."
    with pytest.raises(ExplorerError, match="seed"):
        masked_lm.corrupt(tiny, "a sentence", seed=-1)
    with pytest.raises(ExplorerError, match="empty"):
        masked_lm.corrupt(tiny, "")


# ---------------------------------------------------------------- the bundled model


def test_cloze_set_is_varied():
    assert len(CLOZE) == 30
    assert all(row["text"].count("[MASK]") == 1 and row["answers"] for row in CLOZE)
    assert set(collections.Counter(r["category"] for r in CLOZE).values()) == {6}
    assert {r["position"] for r in CLOZE} == {"start", "middle", "end"}


def hit(result: masked_lm.FillMaskResult, answers: list[str]) -> bool:
    return any(c.token.lower() == a.lower() for c in result.masks[0].candidates for a in answers)


def test_causal_rescoring_finds_the_right_word_in_the_top_5(bundled):
    sample = CLOZE[::3]  # 10 sentences, every category, masks at the start, middle and end
    hits = sum(hit(masked_lm.fill(bundled, bundled, row["text"], top_k=5), row["answers"]) for row in sample)
    assert hits >= 7, f"{hits}/10"


def test_endpoints_offline(bundled):
    banner, contrast, figure, payload = view.fill_mask("The [MASK] barked at the [MASK] all night.", "", 5)
    assert payload["method"] == "causal-rescoring" and "causal-rescoring" in banner
    assert [m["index"] for m in payload["masks"]] == [0, 1]
    assert all(set(c) >= {"token", "prob"} and 0 <= c["prob"] <= 1 for m in payload["masks"] for c in m["candidates"])
    assert "[MASK]" not in payload["filled"] and "left context only" in contrast
    assert len([t for t in figure.data if t.type == "bar"]) == 2
    corrupted, demo = view.mask_demo("Jupiter is the largest planet in the solar system.", "", 7)
    assert set(demo) >= {"tokens", "corrupted", "positions", "actions"}
    assert "replaced by the mask token" in corrupted
    for bad in [("no blank here",), ("[MASK] is big", "bert-base-uncased", 10, "auto"), ("[MASK] is big", "", 0)]:
        with pytest.raises(gr.Error):
            view.fill_mask(*bad)


def test_the_tab_registers_its_endpoints():
    with gr.Blocks() as demo:
        view.build()
    assert {"fill_mask", "mask_demo"} <= {fn.api_name for fn in demo.fns.values()}
