"""Causal rescoring: its mechanics on tiny models (a byte-level Llama, a '▁' SentencePiece Gemma),
its quality on the bundled SmolLM2 (the cloze set)."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import torch

from explorer import masked_lm
from explorer.head_rounds import heads_together
from explorer.lm import encode_document
from explorer.masked_lm import rescoring
from explorer.masked_lm.blanks import check_fill_text
from explorer.masked_lm.words import word_tokens

from builders import tiny_gemma, tiny_llama

# A byte-level BPE and a '▁' SentencePiece model, each long enough for the fill-in prompt around a sentence.
BUILDERS = {"llama": lambda: tiny_llama(context=512), "gemma": tiny_gemma}
CLOZE = [
    json.loads(line) for line in (Path(__file__).parent.parent / "assets" / "cloze.jsonl").read_text().splitlines()
]


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_each_blank_s_sentences_are_scored_in_one_batch_after_their_shared_start(build):
    lm = build()
    proposed = [{"Paris": {"left context"}, "Rome": {"instruct"}}, {"Italy": {"instruct"}, "France": {"instruct"}}]
    calls = []
    hook = lm.model.base_model.register_forward_hook(lambda *_: calls.append(1))
    try:
        ranked, scored = rescoring.rescore(lm, "The capital of [MASK] is [MASK].", proposed, ["Rome", "Italy"])
    finally:
        hook.remove()
    assert len(calls) == 2 * 2 and scored == 4  # per blank: its sentences' common start, then one padded batch
    sentences = {
        "Paris": "The capital of Paris is Italy.",
        "Rome": "The capital of Rome is Italy.",
        "Italy": "The capital of Rome is Italy.",
        "France": "The capital of Rome is France.",
    }
    for fillers in ranked:
        assert sum(f.prob for f in fillers) == pytest.approx(1.0)
        assert [f.logprob for f in fillers] == sorted((f.logprob for f in fillers), reverse=True)
        for filler in fillers:
            ids = torch.tensor([encode_document(lm.tokenizer, sentences[filler.token])])
            with torch.no_grad():
                logprobs = lm.model(input_ids=ids).logits[0, :-1].log_softmax(-1)
            assert filler.logprob == pytest.approx(float(logprobs.gather(1, ids[0, 1:, None]).sum()), abs=1e-3)
    assert {f.token: f.source for f in ranked[0]} == {"Paris": "left context", "Rome": "instruct"}


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_a_chinese_sentence_sums_its_two_tokenisations(build):
    """A Chinese sentence's likelihood is the sum over the tokenizer's tokens and its word-by-word
    tokens (`word_tokens`), each scored as a whole document; the same tokens count once."""
    lm = build()
    proposed = [{"北京": {"prompt"}, "中国": {"left context"}}]
    ranked, scored = rescoring.rescore(lm, "中国的首都是[MASK]。", proposed, ["北京"])
    assert scored == 2
    for filler in ranked[0]:
        sentence = f"中国的首都是{filler.token}。"
        rows = {
            tuple(encode_document(lm.tokenizer, sentence)),
            tuple(lm_start(lm) + word_tokens(lm.tokenizer, sentence)),
        }
        expected = torch.tensor([document_logprob(lm, list(row)) for row in rows], dtype=torch.float64).logsumexp(0)
        assert filler.logprob == pytest.approx(float(expected), abs=1e-3)


def lm_start(lm):
    return encode_document(lm.tokenizer, "")


def document_logprob(lm, ids: list[int]) -> float:
    with torch.no_grad():
        logprobs = lm.model(input_ids=torch.tensor([ids])).logits[0, :-1].log_softmax(-1)
    return float(logprobs.gather(1, torch.tensor(ids[1:])[:, None]).sum())


def test_left_only_ignores_the_right_context_and_rescoring_does_not():
    tiny = BUILDERS["llama"]()
    short = masked_lm.fill_mask(tiny, tiny, "The capital of France is [MASK].", top_k=5)
    longer = masked_lm.fill_mask(
        tiny, tiny, "The capital of France is [MASK] and the capital of Italy is Rome.", top_k=5
    )
    assert short.method == longer.method == "causal-rescoring"
    assert short.masks[0].left_context == longer.masks[0].left_context == "The capital of France is "
    assert [(f.token, f.prob) for f in short.masks[0].left_only] == [
        (f.token, f.prob) for f in longer.masks[0].left_only
    ]
    assert [f.logprob for f in short.masks[0].candidates] != [f.logprob for f in longer.masks[0].candidates]
    for mask in short.masks + longer.masks:
        assert sum(f.prob for f in mask.candidates) <= 1 + 1e-6
        assert [f.logprob for f in mask.candidates] == sorted((f.logprob for f in mask.candidates), reverse=True)


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_several_blanks_are_scored_one_batch_per_blank(build, monkeypatch):
    lm = build()
    batches = []
    score = rescoring.shared_prefix_logprobs
    monkeypatch.setattr(rescoring, "shared_prefix_logprobs", lambda lm, rows: batches.append(rows) or score(lm, rows))
    result = masked_lm.fill_mask(lm, lm, "Once upon a [MASK] there was a [MASK] model.", top_k=4)
    assert len(batches) == 2 and sum(map(len, batches)) == result.candidates_scored  # English: one tokenisation
    sentences = [lm.tokenizer.decode(row) for rows in batches for row in rows]
    assert all("[MASK]" not in sentence and "model." in sentence for sentence in sentences)  # complete sentences
    assert len(result.masks) == 2
    assert "[MASK]" not in result.filled and "[MASK]" not in result.left_only_filled
    assert all(1 <= len(m.candidates) <= 4 for m in result.masks)


def test_an_instruct_model_is_asked_in_a_chat_turn_and_a_base_model_in_a_plain_prompt(monkeypatch):
    seen = []
    ask = rescoring.word_steps
    monkeypatch.setattr(rescoring, "word_steps", lambda lm, ids, *rest: seen.append(ids) or ask(lm, ids, *rest))
    text, masks = check_fill_text("The capital of [MASK] is Paris.")
    chat = tiny_llama(context=512, chat=True)
    how, words = heads_together(chat, [rescoring.asked_steps(chat, text, masks, 0, 5)])[0]
    assert how == "instruct" and 1 <= len(words) <= 5
    assert chat.tokenizer.decode(seen[-1]).startswith("<|system|>You fill in blanks")
    assert chat.tokenizer.decode(seen[-1]).endswith("<|assistant|>Filled in: The capital of")
    base = tiny_gemma()  # no chat template, like Gemma 3 270M
    how, words = heads_together(base, [rescoring.asked_steps(base, text, masks, 0, 5)])[0]
    assert how == "prompt" and 1 <= len(words) <= 5
    assert seen[-1][0] == base.tokenizer.bos_token_id
    assert base.tokenizer.decode(seen[-1][1:]) == (
        "Fill in the blank (___) in this sentence with one word and write the whole sentence.\n"
        'Sentence: "The capital of ___ is Paris."\nFilled in: The capital of'
    )
    result = masked_lm.fill_mask(base, base, "The capital of [MASK] is Paris.", top_k=50)
    assert {"prompt", "left context"} <= {s for f in result.masks[0].candidates for s in f.source.split(" + ")}


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
    hits = sum(hit(masked_lm.fill_mask(bundled, bundled, row["text"], top_k=5), row["answers"]) for row in sample)
    assert hits >= 7, f"{hits}/10"


def test_a_chinese_blank_is_filled_with_whole_words_of_every_length():
    """A Chinese word proposed as 北京市 also competes as its starts that end between its tokens (this
    tokenizer: 北|京|⟨e5⟩⟨b8⟩⟨82⟩: 北 and 北京, never a cut character); every word is whole characters."""
    lm = tiny_gemma()
    assert rescoring.cjk_prefixes(lm.tokenizer, "北京市") == ["北", "北京", "北京市"]
    assert rescoring.cjk_prefixes(lm.tokenizer, "中国的") == ["中国", "中国的"]  # 中国 is one token: no 中
    assert rescoring.cjk_prefixes(lm.tokenizer, "Paris") == ["Paris"]
    assert rescoring.cjk_prefixes(lm.tokenizer, "7月") == ["7月"]
    result = masked_lm.fill_mask(lm, lm, "中国的首都是[MASK]。", top_k=5)
    words = [f.token for f in result.masks[0].candidates + result.masks[0].left_only]
    assert words and all(word and "\ufffd" not in word for word in words)
    assert "[MASK]" not in result.filled and "\ufffd" not in result.filled
