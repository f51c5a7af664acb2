"""The Tokenisation tab's snippet (`/tokenize`): the text as the model's tokenizer cuts it, each token's
id, its piece in the vocabulary and the text it decodes to."""

from __future__ import annotations

from .common import Code, fill, model_name, where

TEMPLATE = """\
${paths}from transformers import AutoTokenizer

$source
tokenizer = AutoTokenizer.from_pretrained(MODEL)
text = $text
ids = tokenizer(text, add_special_tokens=False)["input_ids"]  # the text's own tokens, no special tokens

print(f"{len(text)} characters, {len(ids)} tokens")
print("id      piece / text")
for token_id, piece in zip(ids, tokenizer.convert_ids_to_tokens(ids)):
    print(f"{token_id:6d}  {piece!r} {tokenizer.decode([token_id])!r}")
"""


def render(text: str = "Tokenisation, 分词", model: str = "") -> str:
    paths, source = where(model_name(model, None))
    return fill(TEMPLATE, paths=Code(paths + "\n" if paths else ""), source=Code(source), text=text)
