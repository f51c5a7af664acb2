"""Shared fixtures: tiny models built from a config in the test (fast, offline, random
weights, the real code paths) and the bundled SmolLM2 (loaded once per test session)."""

from __future__ import annotations

import os

# No test pays compile time (test_generation_compiled_step turns it on); app subprocesses inherit it.
os.environ.setdefault("PLM_EXPLORER_COMPILE", "0")

import pytest  # noqa: E402
from gradio_client import Client  # noqa: E402

from explorer import cache, models  # noqa: E402

from builders import CORPUS, byte_level_tokenizer, launched, tiny_gemma, tiny_llama  # noqa: E402, F401 (re-exported to the test modules)

tiny_tokenizer = byte_level_tokenizer  # the name the older test modules use


@pytest.fixture(scope="session")
def tiny() -> models.LoadedModel:
    return tiny_llama()


@pytest.fixture(scope="module")
def llama() -> models.LoadedModel:
    """A tiny Llama with eager attention, so its forward returns attention weights."""
    return tiny_llama(attn="eager")


@pytest.fixture(scope="module")
def gemma() -> models.LoadedModel:
    """A tiny Gemma 3 with eager attention: one key/value head, sliding windows of 8 tokens."""
    return tiny_gemma(attn="eager", window=8)


@pytest.fixture(scope="session")
def bundled() -> models.LoadedModel:
    """The real default model (de-quantised once into the local cache, then loaded from it)."""
    return models.get()


@pytest.fixture(scope="session")
def app_url(bundled):
    """The real app (every tab) on a free port, started once per test session."""
    import app

    demo = app.build_app()
    port = launched(demo)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    return Client(app_url, verbose=False)


@pytest.fixture(autouse=True, scope="module")
def fresh_named_caches():
    """Tiny test models share names ("tiny-llama") across modules with different weights: start each
    module with empty derived caches (the registry's loaded models stay)."""
    cache.clear_all()
    yield
