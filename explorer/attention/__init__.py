"""Attention weights per layer and head, and a logit lens, from one cached forward pass per text.

- `forward.py`: the forward (the model's own weights, every hidden state), cached per text;
- `patterns.py`: reading it: one layer's matrix, key/value groups, sliding windows, head patterns;
- `logit_lens.py`: every layer's next-token guess through the final norm and the LM head;
- `focus.py`: one position and one token: its logit-lens trajectory and its attention row.
"""
