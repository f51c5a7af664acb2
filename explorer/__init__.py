"""PLM Explorer: see how pre-trained language models work, on a real model.

`models` is the single registry/loader/cache; the other modules are pure compute that return
dataclasses; `views/` turns those results into Gradio components.
"""
