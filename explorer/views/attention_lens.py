"""The Attention tab's logit-lens table: layers × positions, each cell the layer's top next-token guess."""

from __future__ import annotations

import html

from ..attention import logit_lens
from ..attention.logit_lens import LogitLens
from .attention_figures import token_label
from .common import t


def lens_html(lens: LogitLens) -> str:
    """The layers × positions table, each cell the layer's top next-token guess coloured by probability.
    Cells show each guess on its own (a piece of a character as its bytes ⟨e5 8f⟩); hits compare ids."""
    header = "".join(
        f'<th title="{html.escape(t("attention.lens_position", index=i))}">{html.escape(token_label(label))}</th>'
        for i, label in enumerate(lens.labels)
    )
    rows = [(t("attention.lens_embeddings"), lens.embeddings)]
    rows += [(t("attention.lens_layer", layer=row.layer), row.top) for row in lens.layers]
    body = []
    for name, top in rows:
        cells = []
        for predictions, hit in zip(top, logit_lens.hits(lens, top)):
            best = predictions[0]
            hover = "\n".join(f"{p.prob:.3f}  {p.label!r} (id {p.token_id})" for p in predictions)
            underline = ";text-decoration:underline;font-weight:600" if hit else ""
            ink = "#fff" if best.prob > 0.45 else "#111"
            cells.append(
                f'<td title="{html.escape(hover)}" style="background:rgba(37,99,235,{best.prob:.3f});color:{ink}{underline}">'
                f"{html.escape(token_label(best.label))}</td>"
            )
        body.append(f'<tr><th class="name">{html.escape(name)}</th>{"".join(cells)}</tr>')
    style = (
        "<style>.lens{border-collapse:collapse;font-family:monospace;font-size:12px}"
        ".lens td,.lens th{border:1px solid #e5e7eb;padding:2px 4px;white-space:pre}"
        ".lens thead th{position:sticky;top:0;background:#f9fafb}"
        ".lens th.name{position:sticky;left:0;background:#f9fafb;text-align:left}</style>"
    )
    corner = html.escape(t("attention.lens_corner"))
    return (
        f'{style}<div style="overflow:auto;max-height:640px"><table class="lens">'
        f'<thead><tr><th class="name">{corner}</th>{header}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )
