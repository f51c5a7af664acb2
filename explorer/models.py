"""The single model registry, loader and cache.

Every tab asks `get(name)` for a model; this module alone knows where models come from: the
bundled models (GGUF files in pip packages, de-quantised once and cached: `bundled.py`), the
local Hugging Face cache, or the hub when it is reachable. Loaded models live in a small,
thread-safe LRU so that memory stays bounded and eight users asking at once load a model once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from . import bundled, cache, hub, i18n, weight_layout
from .bundled import Progress
from .checks import ExplorerError

Kind = Literal["causal", "masked"]

BUNDLED_NAME = "SmolLM2-135M-Instruct"  # the default model, when its package is installed
GEMMA_NAME = "Gemma-3-270M"  # the multilingual pre-trained base model, also bundled
# The default causal model by interface language: a Chinese lecture gets the model that reads Chinese.
PREFERRED = {"zh-CN": GEMMA_NAME}
MAX_LOADED = int(os.environ.get("PLM_EXPLORER_MAX_MODELS", "3"))


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what users pick and pass as `model`
    hub_id: str  # where the weights live on the hub
    kind: Kind
    published_params: int  # the model card's figure, shown before the model is loaded
    chat: bool = False  # has a chat template worth offering
    base: bool = False  # a pre-trained base model: it continues text, it was never taught to chat
    licence: str | None = None  # the weights' licence, by name; None where unknown
    licence_url: str = ""  # where to read it; "" = the model card on the hub

    @property
    def bundled(self) -> bool:
        """Ships as a GGUF in pip packages (see `bundled.SOURCES`): works offline."""
        return self.name in bundled.SOURCES

    @property
    def licence_text(self) -> str | None:
        """The licence and where to read it."""
        return self.licence and f"{self.licence}: {self.licence_url or f'https://huggingface.co/{self.hub_id}'}"


SMOLLM2, QWEN, APACHE = "HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "Apache-2.0"
GEMMA_TERMS = "licenses/gemma/GEMMA_TERMS.html and NOTICE.md, shipped here (https://ai.google.dev/gemma/terms)"
REGISTRY: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(BUNDLED_NAME, SMOLLM2, "causal", 134_515_008, chat=True, licence=APACHE),
        ModelSpec(
            GEMMA_NAME,
            "google/gemma-3-270m",
            "causal",
            268_098_176,
            base=True,
            licence="Gemma Terms of Use",
            licence_url=GEMMA_TERMS,
        ),
        ModelSpec(SMOLLM2, SMOLLM2, "causal", 134_515_008, chat=True, licence=APACHE),
        ModelSpec("gpt2", "openai-community/gpt2", "causal", 124_439_808, base=True, licence="MIT"),
        ModelSpec("distilgpt2", "distilbert/distilgpt2", "causal", 81_912_576, base=True, licence=APACHE),
        ModelSpec(QWEN, QWEN, "causal", 494_032_768, chat=True, licence=APACHE),
        ModelSpec(
            "bert-base-uncased", "google-bert/bert-base-uncased", "masked", 109_514_298, base=True, licence=APACHE
        ),
        ModelSpec(
            "distilroberta-base", "distilbert/distilroberta-base", "masked", 82_170_201, base=True, licence=APACHE
        ),
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
    base: bool = False  # pre-trained only: no chat template
    licence: str | None = None  # the weights' licence and where to read it; None where unknown


# ---------------------------------------------------------------- registry look-ups


def resolve(name: str | None, kind: Kind | None = None) -> ModelSpec:
    """The spec for a user-given name; '' means the default of `kind` (causal if None)."""
    if not isinstance(name, str):
        raise ExplorerError("model must be a name (text), got {kind}.", kind=type(name).__name__)
    name = name.strip()
    if not name:
        default = default_model(kind or "causal")
        if default is None:
            raise ExplorerError(
                "No {kind} model is available here; pick one from: {names}.", kind=kind, names=", ".join(REGISTRY)
            )
        return REGISTRY[default]
    spec = REGISTRY.get(name)
    if spec is None:
        raise ExplorerError(
            "Unknown model {name!r}. Pick one of: {names} (empty means the default).",
            name=name[:80], names=", ".join(REGISTRY),
        )  # fmt: skip
    if kind is not None and spec.kind != kind:
        raise ExplorerError(
            "{name} is a {actual} model, but this needs a {kind} model. Pick one of: {names}.",
            name=name, actual=spec.kind, kind=kind, names=", ".join(s.name for s in REGISTRY.values() if s.kind == kind),
        )  # fmt: skip
    return spec


def default_model(kind: Kind) -> str | None:
    """The default of `kind`: for causal endpoints the interface language's preferred model (Chinese:
    Gemma-3-270M) or else the first available bundled one; the first available masked LM otherwise."""
    preferred = PREFERRED.get(i18n.current()) if kind == "causal" else None
    if preferred and source_of(REGISTRY[preferred]) is not None:
        return preferred
    candidates = [s for s in REGISTRY.values() if s.kind == kind]
    for spec in candidates:
        if source_of(spec) is not None:
            return spec.name
    return candidates[0].name if kind == "causal" else None


def source_of(spec: ModelSpec) -> Literal["bundled", "cache", "hub"] | None:
    """Where this model would load from now, or None if it cannot be had. A bundled model comes
    from its packages only (the hub's copy of it is another model: not quantised)."""
    if spec.bundled:
        return "bundled" if bundled.problem(spec.name) is None else None
    if hub.is_cached_on_disk(spec.hub_id):
        return "cache"
    if hub.reachable():
        return "hub"
    return None


def unavailable_reason(spec: ModelSpec) -> str:
    """Why `spec` cannot be had, and a bundled model that can (never `spec` itself)."""
    if spec.bundled:
        return bundled.unavailable(
            spec.name, bundled.problem(spec.name) or i18n.message("its packages cannot be read", {})
        )
    why = i18n.message(
        "the model hub cannot be reached from here and {hub_id} is not in the local Hugging Face cache. "
        "Run once with a network (it is cached then)",
        {"hub_id": spec.hub_id},
    )
    return bundled.unavailable(spec.name, why)


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
                base=spec.base,
                licence=spec.licence_text,
            )
        )
    return infos


# ---------------------------------------------------------------- loading


def _load(spec: ModelSpec, attn: str, progress: Progress) -> LoadedModel:
    source = source_of(spec)
    if source is None:
        raise ExplorerError("{reason}", reason=unavailable_reason(spec))
    if source == "bundled":
        model, tokenizer = bundled.load(spec.name, attn, progress)
    else:
        try:
            model, tokenizer = hub.load(spec.hub_id, spec.kind, attn, progress)
        except OSError as error:
            raise ExplorerError(
                "{reason} ({kind})", reason=unavailable_reason(spec), kind=type(error).__name__
            ) from error
    model.eval()
    model.requires_grad_(False)
    if spec.kind == "causal":  # decoding feeds one row per forward: lay the weights out for it
        weight_layout.for_decoding(model)
    progress(1.0, f"{spec.name} ready")
    loaded = LoadedModel(spec, model, tokenizer, source)
    for hook in ON_LOAD:
        hook(loaded)
    return loaded


# Called with every model once it is loaded: the generation package starts compiling its decoding step.
ON_LOAD: list[Callable[[LoadedModel], object]] = []


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
        raise ExplorerError(
            "method must be one of {methods}; got {method!r}.", methods=", ".join(METHOD_KINDS), method=str(method)[:40]
        )
    needed = METHOD_KINDS[method]
    model = model or ""
    if isinstance(model, str) and not model.strip():
        return resolve("", needed) if needed else REGISTRY[default_model("masked") or default_model("causal")]
    spec = resolve(model)
    if needed and spec.kind != needed:
        other = next(m for m, kind in METHOD_KINDS.items() if kind == spec.kind)
        raise ExplorerError(
            "{name} is a {kind} model, so it cannot run {method}, which needs a {needed} model ({names}). "
            "Pick one of those, or the method {other}.",
            name=spec.name, kind=spec.kind, method=method, needed=needed, other=other,
            names=", ".join(s.name for s in REGISTRY.values() if s.kind == needed),
        )  # fmt: skip
    return spec


def warm_up(names: Sequence[str] | None = None) -> threading.Thread:
    """Load models in the background, one after another (by default every available bundled
    model, SmolLM2 first), so that the page never waits for them."""

    def load() -> None:
        for name in names or [name for name in bundled.SOURCES if bundled.problem(name) is None]:
            started = time.perf_counter()
            try:
                get(name)
                print(f"[plm-explorer] {name} loaded in {time.perf_counter() - started:.1f} s")
            except ExplorerError as error:
                print(f"[plm-explorer] warm-up of {name} skipped: {error}")

    thread = threading.Thread(target=load, name="model-warm-up", daemon=True)
    thread.start()
    return thread
