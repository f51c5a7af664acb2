"""The attention forward: the weights are the model's own (Llama, BERT, Gemma 3's sliding windows),
one forward per text is cached and dropped with its model, and bad input is explained."""

from __future__ import annotations

import pytest
import torch

from explorer import cache, lm, models
from explorer.attention import forward
from explorer.checks import ExplorerError

from builders import SAMPLE_TEXT, tiny_bert, tiny_llama


@pytest.fixture(scope="module")
def bert() -> models.LoadedModel:
    return tiny_bert()


@pytest.fixture(scope="module")
def bundled_eager() -> models.LoadedModel:
    return models.get(attn="eager")


def own_attentions(loaded: models.LoadedModel, text: str) -> torch.Tensor:
    """A separate forward, straight through transformers: (layers, heads, n, n)."""
    ids = torch.tensor([loaded.tokenizer(text)["input_ids"]])
    with torch.inference_mode():
        return torch.stack(loaded.model(input_ids=ids, output_attentions=True).attentions)[:, 0]


@pytest.mark.parametrize("build", ["llama", "bert", "gemma"])
def test_the_weights_are_the_models_own(build, request):
    loaded = request.getfixturevalue(build)
    run = forward.forward(loaded, SAMPLE_TEXT)
    assert torch.allclose(run.attentions, own_attentions(loaded, SAMPLE_TEXT), atol=1e-5)
    assert run.tokens == lm.token_texts(loaded.tokenizer, loaded.tokenizer(SAMPLE_TEXT)["input_ids"])
    assert run.hidden_states.shape[:2] == (run.num_layers + 1, run.num_tokens)


def test_causal_matrices_are_lower_triangular_and_masked_ones_are_full(llama, bert):
    causal = forward.forward(llama, SAMPLE_TEXT)
    assert causal.causal and torch.count_nonzero(causal.attentions.triu(diagonal=1)) == 0
    assert torch.all(causal.attentions.diagonal(dim1=-2, dim2=-1)[..., 1:] > 0)
    full = forward.forward(bert, SAMPLE_TEXT)
    assert not full.causal and torch.all(full.attentions.triu(diagonal=1)[..., 0, 1:] > 0)  # the first reads ahead


def test_gemma_reports_its_layer_types_window_and_one_key_value_head(gemma, llama):
    run = forward.forward(gemma, SAMPLE_TEXT)
    assert run.layer_types == [forward.SLIDING, forward.SLIDING, forward.FULL]
    assert (run.sliding_window, run.num_heads, run.num_key_value_heads) == (8, 4, 1)
    plain = forward.forward(llama, SAMPLE_TEXT)
    assert plain.layer_types == [forward.FULL] * 2 and plain.sliding_window is None


def test_one_forward_per_text_is_cached_and_dropped_with_its_model(llama, monkeypatch):
    runs, real = [], forward._run
    monkeypatch.setattr(forward, "_run", lambda *a: runs.append(a) or real(*a))
    cache.evict(llama.name)
    first = forward.forward(llama, SAMPLE_TEXT)
    assert forward.forward(llama, SAMPLE_TEXT) is first and len(runs) == 1  # switching layer or head re-reads it
    cache.evict(llama.name)  # what the registry does when it evicts the model
    assert forward.forward(llama, SAMPLE_TEXT) is not first and len(runs) == 2


def test_the_cache_tells_eager_from_sdpa_copies(llama):
    forward.forward(llama, SAMPLE_TEXT)  # cached for the eager copy …
    sdpa = tiny_llama()  # … must not answer for the sdpa one, which returns no weights
    with pytest.raises(ExplorerError, match="did not return attention weights"):
        forward.forward(sdpa, SAMPLE_TEXT)


def test_empty_text_and_texts_over_the_cap_are_refused(llama, bundled_eager):
    with pytest.raises(ExplorerError, match="empty"):
        forward.forward(llama, "   ")
    with pytest.raises(ExplorerError, match=r"the limit is 128 \(tiny-llama's context\)"):  # shorter than the cap
        forward.forward(llama, "low " * 200)
    with pytest.raises(
        ExplorerError, match=r"The text is \d+ tokens; the limit is 256 \(the attention views draw an n × n matrix"
    ):
        forward.forward(bundled_eager, "one two three " * 100)


def test_the_counterpart_is_the_registrys_other_kind(llama, bert, monkeypatch):
    monkeypatch.setattr(models, "counterpart", lambda kind: "tiny-bert" if kind == "causal" else None)
    monkeypatch.setattr(models, "get", lambda name, *a, **k: {"tiny-bert": bert}[name])
    other = forward.counterpart_forward(llama, SAMPLE_TEXT)
    assert other.model == "tiny-bert" and not other.causal
    assert torch.allclose(other.attentions, own_attentions(bert, SAMPLE_TEXT), atol=1e-5)
    assert forward.counterpart_forward(bert, SAMPLE_TEXT) is None
