"""One token, every view: the trajectory's last layer is the model's own prediction, ranks agree with
probabilities, the attention row is the Attention tab's row of the same cached forward, byte tokens
stay readable, and token ids a tab fed the model come back as the same text."""

from __future__ import annotations

import pytest
import torch

from explorer import cache, generation, lm, models
from explorer.attention import focus, forward, patterns
from explorer.checks import ExplorerError
from explorer.generation import GenerationRequest

from builders import SAMPLE_TEXT, tiny_bert, tiny_gemma, tiny_llama

BYTES_TEXT = "北京是中国的首都。台湾大学 ☃ 𝄞"  # ☃ and 𝄞 are in no tiny vocabulary: byte tokens


@pytest.fixture(scope="module", params=["llama", "gemma"])
def loaded(request) -> models.LoadedModel:
    return tiny_llama(attn="eager") if request.param == "llama" else tiny_gemma(attn="eager", window=4)


def own_probs(loaded: models.LoadedModel, text: str) -> torch.Tensor:
    """The model's own next-token distribution at every position of `text`: (n, vocab)."""
    with torch.inference_mode():
        ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
        return loaded.model(input_ids=ids).logits[0].float().softmax(-1)


@pytest.mark.parametrize("position", [0, 4, -1])
def test_the_last_layer_is_the_models_own_next_token_distribution(loaded, position):
    probs = own_probs(loaded, SAMPLE_TEXT)[position]  # (vocab,)
    result = focus.token_focus(loaded, SAMPLE_TEXT, position, token_id=7)
    last = result.trajectory[-1]
    assert last.layer == loaded.model.config.num_hidden_layers - 1
    assert abs(last.prob - float(probs[7])) < 1e-5
    best = probs.topk(focus.TOP)
    assert [p.token_id for p in last.top] == best.indices.tolist()
    assert torch.allclose(torch.tensor([p.prob for p in last.top]), best.values, atol=1e-5)
    assert last.rank == int((probs >= probs[7]).sum())


def test_the_trajectory_covers_the_embeddings_then_every_layer_and_ranks_agree_with_probabilities(loaded):
    result = focus.token_focus(loaded, SAMPLE_TEXT, 3)
    layers = loaded.model.config.num_hidden_layers
    assert [r.layer for r in result.trajectory] == list(range(-1, layers))
    for reading in result.trajectory:
        assert 0 <= reading.prob <= 1 and reading.rank >= 1
        assert [p.prob for p in reading.top] == sorted((p.prob for p in reading.top), reverse=True)
        if reading.rank <= focus.TOP:  # the token is among the state's best: it sits at its rank
            assert reading.top[reading.rank - 1].token_id == result.token_id
            assert abs(reading.top[reading.rank - 1].prob - reading.prob) < 1e-6
        else:
            assert result.token_id not in [p.token_id for p in reading.top]
            assert reading.prob <= reading.top[-1].prob


def test_the_focused_token_defaults_to_the_texts_next_token_then_to_the_models_guess(loaded):
    ids = loaded.tokenizer(SAMPLE_TEXT)["input_ids"]
    assert focus.token_focus(loaded, SAMPLE_TEXT, 2).token_id == ids[3]
    at_end = focus.token_focus(loaded, SAMPLE_TEXT)
    assert at_end.position == len(ids) - 1
    assert at_end.token_id == at_end.trajectory[-1].top[0].token_id
    assert at_end.trajectory[-1].rank == 1


def test_the_attention_row_sums_to_one_and_is_the_attention_tabs_row(loaded):
    position = 9
    result = focus.token_focus(loaded, SAMPLE_TEXT, position)
    row = torch.tensor(result.attention)  # (layers, heads, position + 1)
    assert row.shape == (result.num_layers, result.num_heads, position + 1)
    assert torch.allclose(row.sum(-1), torch.ones(result.num_layers, result.num_heads), atol=1e-5)
    for layer in range(result.num_layers):
        for head in range(result.num_heads):
            matrix = patterns.attention(loaded, SAMPLE_TEXT, layer, head).matrix
            assert matrix[position][: position + 1] == result.attention[layer][head]
            assert sum(matrix[position][position + 1 :]) == 0  # nothing after itself: causal


def test_the_focus_and_the_attention_tab_share_one_forward(loaded, monkeypatch):
    cache.clear_all()
    calls = []
    real = lm.forward
    monkeypatch.setattr(lm, "forward", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    focus.token_focus(loaded, SAMPLE_TEXT, 3)
    focus.token_focus(loaded, SAMPLE_TEXT, 8, token_id=5)
    patterns.attention(loaded, SAMPLE_TEXT, 0, -1)
    assert len(calls) == 1


def test_byte_tokens_are_readable(loaded):
    result = focus.token_focus(loaded, BYTES_TEXT, 2)
    shown = [result.token, *result.tokens] + [p.label for r in result.trajectory for p in r.top]
    assert not any("\ufffd" in label for label in shown)
    assert "".join(s.text for s in result.segments) == loaded.tokenizer.decode(result.token_ids)
    if loaded.name == "tiny-gemma":  # its vocabulary lacks ☃: byte-fallback tokens <0xE2> …
        assert any(s.spans_several for s in result.segments)


def test_a_generations_ids_come_back_as_the_same_text_and_position(loaded):
    """Every step's focus reads the tokens the step was predicted from (a random tiny model may write
    byte tokens that a re-encoding merges: then only those up to the step, in the text they make)."""
    result = generation.generate(loaded, GenerationRequest("The capital of", max_new_tokens=6))
    ids = result.prompt_token_ids + [s.token_id for s in result.steps]
    whole = focus.text_of(loaded, ids)
    round_trip = forward.encode(loaded, whole) == ids
    assert round_trip or loaded.name == "tiny-gemma"  # the byte-level BPE re-encodes its own output
    for step, taken in enumerate(result.steps):
        position = len(result.prompt_token_ids) + step - 1  # the position that predicted the step
        seen = focus.focus_on_ids(loaded, ids, position, taken.token_id)
        assert seen.token_id == taken.token_id
        if round_trip:
            assert (seen.text, seen.position, seen.token_ids) == (whole, position, ids)
        if seen.token_ids[: seen.position + 1] == ids[: position + 1]:
            assert abs(seen.trajectory[-1].prob - taken.raw_prob) < 1e-5
    assert seen.attention_link.startswith("?tab=attention&text=")


def test_ids_that_tokenise_differently_are_read_up_to_the_position():
    llama = tiny_llama(attn="eager")
    spelled = [llama.tokenizer.convert_tokens_to_ids(c) for c in "Ġcapital"]  # one byte token per letter
    assert forward.encode(llama, focus.text_of(llama, spelled)) != spelled  # the text merges them again
    seen = focus.focus_on_ids(llama, spelled, 3)
    assert seen.text == " cap"
    assert seen.position == len(seen.token_ids) - 1


def test_bad_input_is_refused_with_the_allowed_values(loaded):
    n = len(loaded.tokenizer(SAMPLE_TEXT)["input_ids"])
    with pytest.raises(ExplorerError, match="position"):
        focus.token_focus(loaded, SAMPLE_TEXT, n)
    with pytest.raises(ExplorerError, match="token_id"):
        focus.token_focus(loaded, SAMPLE_TEXT, 0, token_id=10**9)
    with pytest.raises(ExplorerError, match="causal"):
        focus.token_focus(tiny_bert(), "the capital of france is paris .", 1)


def test_smollm2_step_probabilities_are_the_focus_last_layer(bundled):
    smol = models.get(attn="eager")
    result = generation.generate(bundled, GenerationRequest("The capital of France is", max_new_tokens=5))
    ids = result.prompt_token_ids + [s.token_id for s in result.steps]
    for step, taken in enumerate(result.steps):
        seen = focus.focus_on_ids(smol, ids, len(result.prompt_token_ids) + step - 1, taken.token_id)
        assert seen.text.startswith("<|endoftext|>The capital of France is")
        assert seen.token_ids == ids
        assert abs(seen.trajectory[-1].prob - taken.raw_prob) < 1e-4
        assert seen.trajectory[-1].rank == 1  # greedy: the step is the model's best guess
