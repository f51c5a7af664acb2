"""The Attention tab: the weights are the model's own, the logit lens reads the real prediction,
bad input is explained, and the views (heatmaps, mosaic, BertViz frames) are built from them."""

from __future__ import annotations

import html
import re

import gradio as gr
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from explorer import attention, models
from explorer.checks import ExplorerError
from explorer.views import attention as view
from explorer.views.common import payload

from conftest import tiny_llama, tiny_tokenizer

TEXT = "The capital of France is Paris. The capital of Italy is Rome."


@pytest.fixture(scope="module")
def tiny_eager() -> models.LoadedModel:
    lm = tiny_llama(seed=1)
    lm.model.set_attn_implementation("eager")
    return lm


@pytest.fixture(scope="module")
def tiny_bert() -> models.LoadedModel:
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    model = BertForMaskedLM(config).eval()
    model.set_attn_implementation("eager")
    spec = models.ModelSpec("tiny-bert", "tests/tiny-bert", "masked", model.num_parameters())
    return models.LoadedModel(spec, model, tokenizer, "bundled")


@pytest.fixture(scope="module")
def bundled_eager() -> models.LoadedModel:
    return models.get(attn="eager")


def own_attentions(lm: models.LoadedModel, text: str) -> torch.Tensor:
    """A separate forward, straight through transformers: (layers, heads, n, n)."""
    ids = torch.tensor([lm.tokenizer(text)["input_ids"]])
    with torch.inference_mode():
        return torch.stack(lm.model(input_ids=ids, output_attentions=True).attentions)[:, 0]


# ---------------------------------------------------------------- the weights are the model's own


def test_matrices_equal_the_models_own_attentions(tiny_eager):
    expected = own_attentions(tiny_eager, TEXT)
    for layer in range(2):
        for head in range(4):
            result = attention.attention(tiny_eager, TEXT, layer, head)
            assert torch.allclose(torch.tensor(result.matrix), expected[layer, head], atol=1e-5)
    assert result.num_layers == 2 and result.num_heads == 4 and result.num_key_value_heads == 2
    assert result.tokens == [tiny_eager.tokenizer.decode([i]) for i in tiny_eager.tokenizer(TEXT)["input_ids"]]


def test_head_minus_one_is_the_mean_and_rows_sum_to_one(tiny_eager):
    expected = own_attentions(tiny_eager, TEXT)
    mean = torch.tensor(attention.attention(tiny_eager, TEXT, 1, -1).matrix)
    assert torch.allclose(mean, expected[1].mean(0), atol=1e-6)
    for layer in range(2):
        for head in range(-1, 4):
            rows = torch.tensor(attention.attention(tiny_eager, TEXT, layer, head).matrix).sum(-1)
            assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)


def test_causal_matrices_are_lower_triangular_and_masked_ones_are_not(tiny_eager, tiny_bert):
    causal = attention.forward(tiny_eager, TEXT).attentions
    assert torch.count_nonzero(causal.triu(diagonal=1)) == 0
    assert torch.all(causal.diagonal(dim1=-2, dim2=-1)[..., 1:] > 0)
    full = attention.attention(tiny_bert, TEXT, 0, 0)
    assert not full.causal and attention.attention(tiny_eager, TEXT).causal
    matrix = torch.tensor(full.matrix)
    assert torch.all(matrix.triu(diagonal=1)[0, 1:] > 0)  # the first token reads the ones after it
    assert torch.allclose(matrix, own_attentions(tiny_bert, TEXT)[0, 0], atol=1e-5)


def test_bundled_matrix_equals_its_own_attention_and_reports_query_heads(bundled_eager):
    text = "Attention is all you need."
    result = attention.attention(bundled_eager, text, 7, 4)
    expected = own_attentions(bundled_eager, text)
    assert torch.allclose(torch.tensor(result.matrix), expected[7, 4], atol=1e-5)
    assert (result.num_layers, result.num_heads, result.num_key_value_heads) == (30, 9, 3)
    assert result.kv_group == 1  # query heads 3, 4, 5 share key/value head 1
    rows = torch.tensor(result.matrix).sum(-1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)


def test_switching_layer_or_head_reuses_the_forward(tiny_eager, monkeypatch):
    attention.forward(tiny_eager, TEXT)
    monkeypatch.setattr(attention, "_run", lambda *a: pytest.fail("recomputed the forward"))
    attention.attention(tiny_eager, TEXT, 1, 3)
    attention.attention(tiny_eager, TEXT, 0, -1)


def test_head_patterns_read_the_right_positions(tiny_eager):
    run = attention.forward(tiny_eager, TEXT)
    patterns = attention.head_patterns(run)
    a = run.attentions[1, 2]
    n = a.shape[0]
    assert patterns.first_token[1][2] == pytest.approx(float(a[1:, 0].mean()), abs=1e-6)
    assert patterns.previous_token[1][2] == pytest.approx(
        float(sum(a[i, i - 1] for i in range(1, n)) / (n - 1)), abs=1e-6
    )
    assert patterns.same_token[1][2] == pytest.approx(float(sum(a[i, i] for i in range(1, n)) / (n - 1)), abs=1e-6)


# ---------------------------------------------------------------- logit lens


def test_logit_lens_reads_each_layer_through_the_final_norm(tiny_eager):
    outputs = {}
    hook = tiny_eager.model.model.layers[0].register_forward_hook(lambda m, i, o: outputs.setdefault("block0", o))
    ids = torch.tensor([tiny_eager.tokenizer(TEXT)["input_ids"]])
    with torch.inference_mode():
        logits = tiny_eager.model(input_ids=ids).logits[0]
        hook.remove()
        block0 = outputs["block0"][0] if isinstance(outputs["block0"], tuple) else outputs["block0"]
        layer0 = tiny_eager.model.lm_head(tiny_eager.model.model.norm(block0))[0]
        embedded = tiny_eager.model.lm_head(tiny_eager.model.model.norm(tiny_eager.model.model.embed_tokens(ids)))[0]
    lens = attention.logit_lens(tiny_eager, TEXT, top_k=3)
    assert [row.layer for row in lens.layers] == [0, 1]
    for reading, expected in ((lens.layers[0].top, layer0), (lens.layers[-1].top, logits), (lens.embeddings, embedded)):
        probs, ids_ = expected.softmax(-1).topk(3)
        assert [[p.token_id for p in cell] for cell in reading] == ids_.tolist()
        assert torch.allclose(torch.tensor([[p.prob for p in cell] for cell in reading]), probs, atol=1e-5)


def test_logit_lens_last_layer_is_the_bundled_models_real_prediction(bundled):
    lm = models.get(attn="eager")
    text = "The capital of France is"
    with torch.inference_mode():  # the ordinary (sdpa) copy: the prediction generation uses
        logits = bundled.model(input_ids=torch.tensor([bundled.tokenizer(text)["input_ids"]])).logits[0]
    lens = attention.logit_lens(lm, text, top_k=5)
    probs, ids = logits.softmax(-1).topk(5)
    assert [[p.token_id for p in cell] for cell in lens.layers[-1].top] == ids.tolist()
    assert torch.allclose(torch.tensor([[p.prob for p in cell] for cell in lens.layers[-1].top]), probs, atol=1e-4)
    assert len(lens.layers) == 30 and lens.layers[-1].top[-1][0].token == bundled.tokenizer.decode([int(ids[-1, 0])])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("layer", "head", "says"),
    [
        (2, 0, r"layer = 2 is out of range; allowed: a whole number in \[0, 1\]"),
        (-1, 0, r"layer = -1 is out of range"),
        (0, 4, r"head = 4 is out of range; allowed: -1 \(the mean over the 4 heads\) or a whole number in \[0, 3\]"),
        (0, -2, r"head = -2"),
        (0.5, 0, r"layer must be a whole number"),
    ],
)
def test_layer_or_head_out_of_range_says_the_range(tiny_eager, layer, head, says):
    with pytest.raises(ExplorerError, match=says):
        attention.attention(tiny_eager, TEXT, layer, head)


def test_empty_text_and_texts_over_the_cap_are_refused(tiny_eager, bundled_eager):
    with pytest.raises(ExplorerError, match="empty"):
        attention.attention(tiny_eager, "   ")
    with pytest.raises(ExplorerError, match="at most 128 tokens"):  # the tiny model's context is shorter than the cap
        attention.attention(tiny_eager, "low " * 200)
    with pytest.raises(ExplorerError, match=r"The text is \d+ tokens; the attention views take at most 256 tokens"):
        attention.attention(bundled_eager, "one two three " * 100)
    with pytest.raises(ExplorerError, match="top_k"):
        attention.logit_lens(tiny_eager, TEXT, top_k=0)


def test_a_model_without_attention_weights_or_without_next_tokens_is_refused(tiny_bert):
    sdpa = tiny_llama(seed=2)  # transformers' default attention for it: sdpa, which returns no weights
    sdpa.model.set_attn_implementation("sdpa")
    with pytest.raises(ExplorerError, match="did not return attention weights"):
        attention.attention(sdpa, TEXT)
    with pytest.raises(ExplorerError, match="pick a causal model"):
        attention.logit_lens(tiny_bert, TEXT)


def test_handlers_turn_bad_input_into_gr_errors(bundled_eager):
    with pytest.raises(gr.Error, match="empty"):
        view.show_attention("")
    with pytest.raises(gr.Error, match=r"layer = 30 is out of range; allowed: a whole number in \[0, 29\]"):
        view.show_attention("Hello there", layer=30)
    with pytest.raises(gr.Error, match="Unknown model"):
        view.logit_lens("Hello", model="no-such-model")


# ---------------------------------------------------------------- the views


def test_show_attention_draws_every_view_and_returns_the_api_payload(bundled_eager):
    outputs = view.show_attention("The cat sat on the mat.", "", 2, -1)
    result = outputs[-1]
    assert set(result) >= {"model", "tokens", "layer", "head", "num_layers", "num_heads", "matrix"}
    assert (result["layer"], result["head"], result["num_heads"]) == (2, -1, 9)
    heatmap = outputs[0]
    assert torch.allclose(torch.tensor(heatmap.data[0].z), torch.tensor(result["matrix"]), atol=1e-6)
    mosaic = outputs[2]
    assert mosaic.size == (view.LEFT + 9 * (view.TILE + view.GAP), view.TOP + 30 * (view.TILE + view.GAP))
    assert "3 key/value heads" in outputs[4]
    switched = view.switch(outputs[-2], 5, 8)
    assert (switched[-1]["layer"], switched[-1]["head"], switched[-1]["kv_group"]) == (5, 8, 2)


def test_mosaic_clicks_map_back_to_their_tile():
    for layer, head in [(0, 0), (29, 8), (7, 3)]:
        y, x = view.mosaic_origin(layer, head)
        assert view.mosaic_cell(x + view.TILE // 2, y + view.TILE // 2, 30, 9) == (layer, head)
    assert view.mosaic_cell(3, 50, 30, 9) is None  # the layer labels' margin


def test_bertviz_frames_are_self_contained_and_escape_user_text(tiny_eager):
    text = "low </script><b>new</b>"
    run = attention.forward(tiny_eager, text)
    for kind in ("head", "model"):
        frame = view.bertviz_frame(run, kind, 1)
        document = html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))
        assert "cdnjs" not in document.split("require.config")[0]  # no script loaded from a CDN
        assert "<script src=" not in document and "d3js.org v5.7.0" in document and "jQuery v2.2.4" in document
        assert "define('d3'" in document and "Content-Security-Policy" in document
        assert document.count('"attn"') == 1  # BertViz's weights once (its template would put them in a comment too)
        script = document.split('<script type="text/javascript">')[1].rsplit("</script>", 1)[0]
        assert "</script" not in script  # the user's '</script>' cannot end BertViz's script early
    assert view.bertviz_layers(run, 1) == [0, 1]


def test_bertviz_gets_a_window_of_layers_for_long_texts(bundled_eager):
    run = attention.forward(bundled_eager, "word " * 120)
    layers = view.bertviz_layers(run, 29)
    assert layers[-1] == 29 and 1 <= len(layers) < 30
    assert len(layers) * 9 * run.attentions.shape[-1] ** 2 <= view.BERTVIZ_MAX_VALUES


def test_logit_lens_table_and_payload(tiny_eager):
    lens = attention.logit_lens(tiny_eager, TEXT, top_k=2)
    table, result = view.lens_html(lens), payload(lens)
    assert table.count("<tr>") == 1 + 1 + 2  # header, embeddings, two layers
    assert [layer["layer"] for layer in result["layers"]] == [0, 1]
    assert all(len(cell) == 2 for cell in result["layers"][0]["top"])
    assert set(result["layers"][0]["top"][0][0]) >= {"token", "prob"}


def test_a_masked_model_is_shown_beside_when_one_is_available(tiny_eager, tiny_bert, monkeypatch):
    monkeypatch.setattr(models, "default_model", lambda kind: "tiny-bert" if kind == "masked" else None)
    monkeypatch.setattr(models, "get", lambda name, *a, **k: {"tiny-bert": tiny_bert}[name])
    figure, note = view.comparison(tiny_eager, TEXT, 5, lambda f, m: None)
    assert "tiny-bert" in note and "layer 1" in figure.layout.title.text and "bidirectional" in figure.layout.title.text
    full = attention.forward(tiny_bert, TEXT).attentions[1].mean(0)
    assert torch.allclose(torch.tensor(figure.data[0].z), full, atol=1e-6)
    monkeypatch.setattr(models, "default_model", lambda kind: None)
    assert view.comparison(tiny_eager, TEXT, 0, lambda f, m: None) == (None, view.NO_MASKED)
