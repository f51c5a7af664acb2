"""The logit lens reads each layer through the model's own final norm and head (Gemma's soft-capping
included), its last layer is the model's real prediction, and hits compare token ids."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from explorer import models, segments
from explorer.attention import logit_lens
from explorer.attention.logit_lens import LensPrediction, LogitLens
from explorer.checks import ExplorerError

from builders import SAMPLE_TEXT, tiny_bert, tiny_gemma


def own_logits(loaded: models.LoadedModel, text: str) -> torch.Tensor:
    """The model's own logits at every position: (n, vocab)."""
    with torch.inference_mode():
        return loaded.model(input_ids=torch.tensor([loaded.tokenizer(text)["input_ids"]])).logits[0]


def assert_reads(cells: list[list[LensPrediction]], logits: torch.Tensor, k: int) -> None:
    """The lens's cells are the top-k of these logits' softmax: the same ids, the same probabilities."""
    probs, ids = logits.float().softmax(-1).topk(k)
    assert [[p.token_id for p in cell] for cell in cells] == ids.tolist()
    assert torch.allclose(torch.tensor([[p.prob for p in cell] for cell in cells]), probs, atol=1e-5)


def test_each_layer_is_read_through_the_final_norm_and_the_head(llama):
    outputs = {}
    hook = llama.model.model.layers[0].register_forward_hook(lambda m, i, o: outputs.setdefault("block0", o))
    ids = torch.tensor([llama.tokenizer(SAMPLE_TEXT)["input_ids"]])
    with torch.inference_mode():
        logits = llama.model(input_ids=ids).logits[0]
        hook.remove()
        block0 = outputs["block0"][0] if isinstance(outputs["block0"], tuple) else outputs["block0"]
        layer0 = llama.model.lm_head(llama.model.model.norm(block0))[0]
        embedded = llama.model.lm_head(llama.model.model.norm(llama.model.model.embed_tokens(ids)))[0]
    lens = logit_lens.logit_lens(llama, SAMPLE_TEXT, top_k=3)
    assert [row.layer for row in lens.layers] == [0, 1]
    for reading, expected in ((lens.layers[0].top, layer0), (lens.layers[-1].top, logits), (lens.embeddings, embedded)):
        assert_reads(reading, expected, 3)


@pytest.mark.parametrize("cap", [None, 2.0])
def test_gemmas_last_layer_is_its_own_prediction_soft_capped_or_not(cap):
    gemma = tiny_gemma(attn="eager", window=8)
    gemma.spec = dataclasses.replace(gemma.spec, name=f"tiny-gemma-cap-{cap}")  # its own cache entries
    gemma.model.config.final_logit_softcapping = cap  # Gemma 3 sets none; Gemma 2 caps at 30
    lens = logit_lens.logit_lens(gemma, SAMPLE_TEXT, top_k=4)
    assert len(lens.layers) == 3
    assert_reads(lens.layers[-1].top, own_logits(gemma, SAMPLE_TEXT), 4)
    with torch.inference_mode():  # a middle layer: Gemma's own norm (1 + weight), then the tied head
        hidden = gemma.model(input_ids=torch.tensor([lens.token_ids]), output_hidden_states=True).hidden_states[1][0]
        logits = gemma.model.lm_head(gemma.model.model.norm(hidden))
        if cap:
            logits = torch.tanh(logits / cap) * cap
    assert_reads(lens.layers[0].top, logits, 4)


def test_the_lens_is_cached_for_any_top_k(llama, monkeypatch):
    first = logit_lens.logit_lens(llama, SAMPLE_TEXT, top_k=5)
    monkeypatch.setattr(logit_lens, "_read_layers", lambda *a: pytest.fail("read the layers again"))
    again = logit_lens.logit_lens(llama, SAMPLE_TEXT, top_k=2)
    assert [cell[:2] for cell in first.layers[1].top] == again.layers[1].top


def test_hits_compare_token_ids_not_the_text_they_show():
    gemma = tiny_gemma(attn="eager", window=8)
    ids = gemma.tokenizer("🙂")["input_ids"]  # <bos>, then 4 byte-fallback tokens that each show as "�"
    assert len(set(ids[1:])) == 4 and set(gemma.tokenizer.batch_decode([[i] for i in ids[1:]])) == {"�"}
    labels = segments.token_labels(gemma.tokenizer, ids)  # ⟨f0⟩, ⟨9f⟩, …: each byte token on its own
    guess = [LensPrediction("�", 0.9, ids[2], labels[2]), LensPrediction("�", 0.9, ids[3], labels[3])]
    guess.append(LensPrediction("x", 0.9, 7, "x"))
    lens = LogitLens("tiny-gemma", ["<bos>", "�", "�"], [], [], token_ids=ids[:3], labels=["<bos>", "🙂", "·"])
    # position 0 guesses the right byte token, position 1 a different byte token that looks the same,
    # and the last position has no next token in the text
    assert logit_lens.hits(lens, [[g] for g in guess]) == [False, False, False]
    right = LensPrediction("�", 0.9, ids[1], labels[1])
    assert logit_lens.hits(lens, [[right], [guess[0]], [guess[2]]]) == [True, True, False]


def test_the_bundled_models_last_layer_is_its_real_prediction(bundled):
    loaded = models.get(attn="eager")
    text = "The capital of France is"
    lens = logit_lens.logit_lens(loaded, text, top_k=5)
    logits = own_logits(bundled, text)  # the ordinary (sdpa) copy: the prediction generation uses
    probs, ids = logits.softmax(-1).topk(5)
    assert [[p.token_id for p in cell] for cell in lens.layers[-1].top] == ids.tolist()
    assert torch.allclose(torch.tensor([[p.prob for p in cell] for cell in lens.layers[-1].top]), probs, atol=1e-4)
    assert len(lens.layers) == 30 and lens.layers[-1].top[-1][0].token == bundled.tokenizer.decode([int(ids[-1, 0])])


def test_bad_top_k_and_masked_models_are_refused(llama):
    with pytest.raises(ExplorerError, match=r"top_k = 0 is out of range; allowed: a whole number in \[1, 20\]"):
        logit_lens.logit_lens(llama, SAMPLE_TEXT, top_k=0)
    with pytest.raises(ExplorerError, match="pick a causal model"):
        logit_lens.logit_lens(tiny_bert(), SAMPLE_TEXT)
