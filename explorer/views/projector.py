"""Projector mode, drawn in the browser.

Why in the browser: it restyles the plots already on screen without recomputing them, and no handler
needs to know about it. Large type and high contrast come through the theme's CSS variables, the dark
background from Gradio's dark theme (the class `dark`), and every plotly figure is relaid out with
large fonts on a dark background, again whenever a new figure is drawn. The mode is kept in the
address bar (`&projector=1`), so a copied link keeps it (views/links.py).
"""

from __future__ import annotations

import json

import gradio as gr

from .common import tr


def toggle() -> gr.Checkbox:
    """The projector mode checkbox; switching it restyles the page at once."""
    checkbox = gr.Checkbox(False, label=tr("links.projector"), container=False, scale=0, min_width=420)
    checkbox.change(None, checkbox, None, js=PROJECTOR_JS)
    return checkbox


CSS = """
:root.projector, :root.projector .dark {
  --text-xxs: 15px; --text-xs: 17px; --text-sm: 19px; --text-md: 22px;
  --text-lg: 26px; --text-xl: 32px; --text-xxl: 38px;
  --body-text-color: #ffffff; --body-text-color-subdued: #e4e4e7;
  --body-background-fill: #000000; --background-fill-primary: #000000; --background-fill-secondary: #111111;
  --block-background-fill: #0a0a0a; --block-label-text-color: #ffffff; --block-title-text-color: #ffffff;
  --block-info-text-color: #e4e4e7; --border-color-primary: #a1a1aa; --input-background-fill: #18181b;
  --table-even-background-fill: #111111; --table-odd-background-fill: #000000;
}
:root.projector .html-container table, :root.projector .prose table { font-size: var(--text-md) !important; }
:root.projector .html-container [style*="color:#6b7280"], :root.projector .html-container [style*="color:#4b5563"],
:root.projector .html-container [style*="color:#374151"] { color: #e4e4e7 !important; }
:root.projector .html-container [style*="background"], :root.projector .html-container [style*="background"] * {
  color: #111111 !important;
}
:root.projector .html-container th { background: #27272a !important; color: #ffffff !important; }
"""

# Projector mode on or off: the page's classes and CSS, the address bar, and every plotly figure
# (now, and each new one: Gradio redraws a figure from the server's layout, which drops the restyle).
PROJECTOR_JS = """(on) => {
  const P = window.__plm || (window.__plm = {});
  if (!P.restyle) {
    const style = document.createElement('style');
    style.textContent = CSS;
    document.head.appendChild(style);
    P.wasDark = document.body.classList.contains('dark');
    const get = (o, path) => path.split('.').reduce((x, k) => (x == null ? undefined : x[k]), o);
    P.restyle = () => {
      if (!window.Plotly) return;
      for (const gd of document.querySelectorAll('.js-plotly-plot')) {
        if (!gd.layout || !gd._fullLayout || gd.offsetParent === null) continue;
        const before = gd.layout._plmBefore;
        if (P.on && !before) {
          const update = {'font.size': 20, 'font.color': '#ffffff', 'paper_bgcolor': '#000000',
                          'plot_bgcolor': '#111111', 'title.font.size': 22, 'legend.font.size': 18};
          for (const axis of Object.keys(gd._fullLayout).filter(k => /^[xy]axis[0-9]*$/.test(k))) {
            update[axis + '.gridcolor'] = '#52525b';
            update[axis + '.zerolinecolor'] = '#a1a1aa';
          }
          (gd.layout.annotations || []).forEach((a, i) => {
            if (a.font && a.font.size) update['annotations[' + i + '].font.size'] = Math.round(a.font.size * 1.6);
          });
          const saved = {};
          for (const key in update) { const v = get(gd.layout, key); saved[key] = v === undefined ? null : v; }
          gd.layout._plmBefore = saved;
          window.Plotly.relayout(gd, update);
        } else if (!P.on && before) {
          delete gd.layout._plmBefore;
          window.Plotly.relayout(gd, before);
        }
      }
    };
    setInterval(P.restyle, 500);
  }
  P.on = !!on;
  document.documentElement.classList.toggle('projector', P.on);
  document.body.classList.toggle('dark', P.on || P.wasDark);
  const url = new URL(location.href);
  if (P.on) url.searchParams.set('projector', '1'); else url.searchParams.delete('projector');
  history.replaceState(null, '', url.toString());
  P.restyle();
}""".replace("CSS", json.dumps(CSS))
