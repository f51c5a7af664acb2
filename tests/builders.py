"""Tiny models built from a config in the test: fast, offline, random weights, the real code paths.

One builder per architecture family the app supports, each wrapped as a `LoadedModel` like the
registry's:
- `tiny_llama`: SmolLM2's family (byte-level BPE, grouped-query attention 4 query / 2 KV heads);
- `tiny_gemma`: Gemma 3's family (SentencePiece-style BPE with byte fallback and `▁` for spaces,
  1 KV head for 4 query heads, sliding-window layers with a global layer every third);
- `tiny_gpt2`: GPT-2's family (learned positions, biases, Conv1D);
- `tiny_bert`: a masked LM (WordPiece, [CLS] … [SEP], its own mask token).
"""

from __future__ import annotations

import torch
from tokenizers import (
    BertWordPieceTokenizer,
    ByteLevelBPETokenizer,
    Tokenizer,
    decoders,
    normalizers,
    pre_tokenizers,
    trainers,
)
from tokenizers import models as tk_models
from transformers import (
    BertConfig,
    BertForMaskedLM,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from explorer import models

SAMPLE_TEXT = "The capital of France is Paris. The capital of Italy is Rome."  # the attention and inside tests' text
CORPUS = [
    SAMPLE_TEXT,
    "Once upon a time there was a little model that predicted the next token.",
    "low lower lowest newest widest new wide 0123456789 , . ! ? ; : ' \" ( )",
    "台湾大学是一所大学。北京是中国的首都。",
]
BERT_CORPUS = [
    "the capital of france is paris . the capital of italy is rome .",
    "jupiter is the largest planet in the solar system and mars is red .",
    "monday tuesday wednesday thursday friday saturday sunday one two three four five",
    "the dog barked at the cat all night ; the opposite of hot is cold , of up is down .",
] * 3
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def wrap(name: str, kind: models.Kind, model: torch.nn.Module, tokenizer) -> models.LoadedModel:
    spec = models.ModelSpec(name, f"tests/{name}", kind, model.num_parameters())
    return models.LoadedModel(spec, model.eval(), tokenizer, "bundled")


# ---------------------------------------------------------------- tokenizers


def byte_level_tokenizer(vocab_size: int = 300, chat: bool = False) -> PreTrainedTokenizerFast:
    """GPT-2 / SmolLM2 style: byte-level BPE (every byte is a symbol, 'Ġ' marks a space)."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=vocab_size, min_frequency=1, special_tokens=["<eos>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<eos>")
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def byte_fallback_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """Gemma / Llama-2 style: SentencePiece BPE over characters with '▁' for spaces; a character
    outside the vocabulary falls back to its UTF-8 bytes as <0xNN> tokens. Adds <bos> like Gemma."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokenizer = Tokenizer(tk_models.BPE(byte_fallback=True, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size + len(specials), special_tokens=specials, show_progress=False)
    tokenizer.train_from_iterator(CORPUS, trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        add_bos_token=True,
    )
    wrapped._tokenizer.post_processor = _prepend_bos(wrapped)
    return wrapped


def _prepend_bos(tokenizer: PreTrainedTokenizerFast):
    from tokenizers import processors

    bos = ("<bos>", tokenizer.convert_tokens_to_ids("<bos>"))
    return processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A $B", special_tokens=[bos])


def wordpiece_tokenizer(mask_token: str = "[MASK]") -> PreTrainedTokenizerFast:
    """BERT style: WordPiece on lower-cased words, [CLS] … [SEP] around every text."""
    wordpiece = BertWordPieceTokenizer(mask_token=mask_token)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", mask_token]
    wordpiece.train_from_iterator(BERT_CORPUS, vocab_size=200, min_frequency=1, special_tokens=specials)
    return PreTrainedTokenizerFast(
        tokenizer_object=wordpiece._tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token=mask_token,
    )


# ---------------------------------------------------------------- models


def tiny_llama(seed: int = 0, context: int = 128, chat: bool = False, attn: str = "sdpa") -> models.LoadedModel:
    """A 2-layer Llama with grouped-query attention (4 query heads, 2 key/value heads)."""
    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer(chat=chat)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
        attn_implementation=attn,
    )
    return wrap("tiny-llama", "causal", LlamaForCausalLM(config), tokenizer)


def tiny_gemma(seed: int = 0, context: int = 256, window: int = 8, attn: str = "sdpa") -> models.LoadedModel:
    """A 3-layer Gemma 3: 4 query heads share 1 key/value head; layers 0 and 1 attend within a
    sliding window of `window` tokens, layer 2 globally (Gemma 3 270M: window 512, global every 6th)."""
    torch.manual_seed(seed)
    tokenizer = byte_fallback_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=context,
        sliding_window=window,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"],
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        tie_word_embeddings=True,
        attn_implementation=attn,
    )
    return wrap("tiny-gemma", "causal", Gemma3ForCausalLM(config), tokenizer)


def tiny_gpt2(seed: int = 0) -> models.LoadedModel:
    """A 2-layer GPT-2 (biases everywhere, learned positions, Conv1D projections)."""
    torch.manual_seed(seed)
    tokenizer = byte_level_tokenizer()
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=128,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id,
    )
    config.pad_token_id = tokenizer.eos_token_id
    return wrap("tiny-gpt2", "causal", GPT2LMHeadModel(config), tokenizer)


def tiny_bert(seed: int = 0, mask_token: str = "[MASK]", attn: str = "eager") -> models.LoadedModel:
    """A 2-layer BERT masked LM with its WordPiece tokenizer (`mask_token` as RoBERTa's '<mask>' too)."""
    torch.manual_seed(seed)
    tokenizer = wordpiece_tokenizer(mask_token)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation=attn,
    )
    return wrap("tiny-bert", "masked", BertForMaskedLM(config), tokenizer)


# ---------------------------------------------------------------- bundled tokenizers (tests skip what is not registered)

GEMMA = "Gemma-3-270M"  # the second bundled model, registered by its own branch


def registered_tokenizer(name: str):
    """A registered model's tokenizer (the registry loads the model), or a skip when `name` is not
    registered on this branch (e.g. Gemma-3-270M before the branches are merged)."""
    import pytest

    if name not in models.REGISTRY:
        pytest.skip(f"{name} is not registered in explorer/models.py on this branch")
    return models.get(name).tokenizer


def own_ids(tokenizer, text: str) -> list[int]:
    """The tokenizer's own encoding of `text`, no special tokens added."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def tiny_gpt2_eager(seed: int = 0) -> models.LoadedModel:
    """`tiny_gpt2` with eager attention, which returns its attention weights (Inside the Transformer tab)."""
    lm = tiny_gpt2(seed)
    lm.model.set_attn_implementation("eager")
    return lm


def tiny_bert_for_templates(seed: int = 0, context: int = 256) -> models.LoadedModel:
    """`tiny_bert` with room for a task's template (its tokenizer spells most words letter by letter)."""
    small = tiny_bert(seed)
    config = small.model.config
    config.max_position_embeddings = context
    torch.manual_seed(seed)
    return wrap("tiny-bert", "masked", BertForMaskedLM(config), small.tokenizer)


def launched(demo) -> int:
    """The app's Blocks `demo` served on a free local port (as app.launch serves it): the port."""
    import socket

    import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return port
