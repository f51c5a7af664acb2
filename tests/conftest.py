"""Shared fixtures: tiny models built from a config in the test (fast, offline, random
weights, the real code paths) and the bundled SmolLM2 (loaded once per test session)."""

from __future__ import annotations

import socket

import pytest
import torch
from gradio_client import Client
from tokenizers import ByteLevelBPETokenizer
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from explorer import models

CORPUS = [
    "The capital of France is Paris. The capital of Italy is Rome.",
    "Once upon a time there was a little model that predicted the next token.",
    "low lower lowest newest widest new wide 0123456789 , . ! ? ; : ' \" ( )",
]


def tiny_tokenizer(vocab_size: int = 300) -> PreTrainedTokenizerFast:
    """A byte-level BPE trained here on a few sentences, wrapped like any hub tokenizer."""
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=vocab_size, min_frequency=1, special_tokens=["<eos>"])
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<eos>")


def tiny_llama(vocab_size: int = 300, seed: int = 0) -> models.LoadedModel:
    """A 2-layer Llama with grouped-query attention (4 query heads, 2 key/value heads)."""
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    spec = models.ModelSpec("tiny-llama", "tests/tiny-llama", "causal", model.num_parameters())
    return models.LoadedModel(spec, model, tokenizer, "bundled")


@pytest.fixture(scope="session")
def tiny() -> models.LoadedModel:
    return tiny_llama()


@pytest.fixture(scope="session")
def bundled() -> models.LoadedModel:
    """The real default model (de-quantised once into the local cache, then loaded from it)."""
    return models.get()


@pytest.fixture(scope="session")
def app_url(bundled):
    """The real app (every tab) on a free port, started once per test session."""
    import app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = app.build_app()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    return Client(app_url, verbose=False)
