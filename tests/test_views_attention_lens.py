"""The logit-lens table: a row per layer, hits underlined by token id (not by how a token looks)."""

from __future__ import annotations

from explorer.attention import logit_lens
from explorer.attention.logit_lens import LensLayer, LensPrediction, LogitLens
from explorer.views.attention_lens import lens_html
from explorer.views.common import payload

from builders import SAMPLE_TEXT


def test_logit_lens_table_and_payload(llama):
    lens = logit_lens.logit_lens(llama, SAMPLE_TEXT, top_k=2)
    table, result = lens_html(lens), payload(lens)
    assert table.count("<tr>") == 1 + 1 + 2  # header, embeddings, two layers
    assert [layer["layer"] for layer in result["layers"]] == [0, 1]
    assert all(len(cell) == 2 for cell in result["layers"][0]["top"])
    assert set(result["layers"][0]["top"][0][0]) >= {"token", "prob", "token_id"}
    assert result["token_ids"] == llama.tokenizer(SAMPLE_TEXT)["input_ids"]


def test_the_table_underlines_a_hit_by_token_id_not_by_how_it_looks():
    # two different byte tokens (ids 163 and 157) both show as "�": only the right id is a hit
    right, lookalike = LensPrediction("�", 0.5, 163, "⟨a3⟩"), LensPrediction("�", 0.5, 157, "⟨9d⟩")
    lens = LogitLens(
        "m",
        ["<bos>", "�", "�"],
        [LensLayer(0, [[right], [lookalike], [right]])],
        [],
        [2, 244, 163],
        ["<bos>", "台", "·"],
    )
    lens.embeddings = [[lookalike], [right], [lookalike]]
    rows = lens_html(lens).split("<tr>")[2:]  # the embeddings, then layer 0
    assert [row.count("text-decoration:underline") for row in rows] == [1, 0]
