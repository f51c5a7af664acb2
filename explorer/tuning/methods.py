"""The catalogue of tuning methods: one entry per method, carrying all that method needs.

Every method starts from the same frozen classifier (`classifier.shared_classifier`) and
trains its new head. A method is either hand-written (`set_up` unfreezes or adds what it
trains) or `peft`'s (`peft_config` builds the config; peft adds the modules and trains the
head through `modules_to_save`); `after_step` runs after each optimiser step if the method
needs one. A new delta-tuning method is one more `Method` in `METHODS` (plus its name, label
"tuning.method.<id>", and its note's translation in `explorer/locales/`, for the tab).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import peft
import torch
from torch import nn

from .. import checks, i18n
from ..checks import ExplorerError
from ..models import LoadedModel
from .adapters import add_bottleneck_adapters
from .classifier import head, shared_classifier

MAX_RANK = 256
MAX_ADAPTER_SIZE = 1024
MAX_VIRTUAL_TOKENS = 256
MAX_LABELS = 1000
ADALORA_TABLE_STEPS = 100  # AdaLoRA needs a schedule length to be built; the table assumes this many steps
SEQ_CLS = peft.TaskType.SEQ_CLS


@dataclass(frozen=True)
class TuningSettings:
    lora_r: int = 8  # rank of LoRA and VeRA, initial rank of AdaLoRA (which prunes towards half of it)
    adapter_size: int = 64  # bottleneck width of the Houlsby adapters
    prefix_tokens: int = 20  # virtual key/value vectors per layer (prefix tuning)
    prompt_tokens: int = 20  # virtual input embeddings (prompt tuning)
    num_labels: int = 2  # classes of the classifier head

    def validated(self) -> TuningSettings:
        return TuningSettings(
            lora_r=checks.number(self.lora_r, "lora_r", 1, MAX_RANK, integer=True),
            adapter_size=checks.number(self.adapter_size, "adapter_size", 1, MAX_ADAPTER_SIZE, integer=True),
            prefix_tokens=checks.number(self.prefix_tokens, "prefix_tokens", 1, MAX_VIRTUAL_TOKENS, integer=True),
            prompt_tokens=checks.number(self.prompt_tokens, "prompt_tokens", 1, MAX_VIRTUAL_TOKENS, integer=True),
            num_labels=checks.number(self.num_labels, "num_labels", 2, MAX_LABELS, integer=True),
        )


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    family: str  # Ding et al.'s families (`FAMILIES`): addition, specification, reparameterization (or full)
    summary: str  # what it trains, in a phrase (the tab's legend)
    # Hand-written methods: unfreezes or adds what the method trains (the head is already unfrozen)
    # and returns a note on what it did.
    set_up: Callable[[nn.Module, TuningSettings], str] | None = None
    # peft's methods: the config from the settings and the run's length in steps (peft picks its
    # default target modules for the architecture).
    peft_config: Callable[[TuningSettings, int], peft.PeftConfig] | None = None
    note: str = ""  # shown in the table, an English template translated in locales/*/messages; may name a setting, e.g. {lora_r}
    after_step: Callable[[nn.Module, int], None] | None = None  # (model, steps done) after each update


def train_everything(model: nn.Module, settings: TuningSettings) -> str:
    model.requires_grad_(True)
    return ""


def train_head_only(model: nn.Module, settings: TuningSettings) -> str:
    return ""


def bitfit(model: nn.Module, settings: TuningSettings) -> str:
    """BitFit (Ben Zaken et al.), written here because peft has no bias-only method. With no biases
    (Llama's and Gemma's linear layers have none) it trains what there is: the normalisation weights."""
    biases = [p for name, p in model.named_parameters() if name.endswith(".bias")]
    if biases:
        for bias in biases:
            bias.requires_grad_(True)
        return i18n.message("{n} bias vectors trained, plus the head.", {"n": len(biases)})
    norms = [m for m in model.modules() if "norm" in type(m).__name__.lower()]
    for norm in norms:
        norm.requires_grad_(True)
    return i18n.message(
        "This model has no bias terms at all, so BitFit has nothing to train; it trains what there is "
        "instead: the weights of its {n} normalisation layers, plus the head.",
        {"n": len(norms)},
    )


def bottleneck_adapters(model: nn.Module, settings: TuningSettings) -> str:
    add_bottleneck_adapters(model, settings.adapter_size)
    return ""


def adalora_config(settings: TuningSettings, total_steps: int) -> peft.PeftConfig:
    return peft.AdaLoraConfig(
        task_type=SEQ_CLS,
        init_r=settings.lora_r,
        target_r=max(1, settings.lora_r // 2),
        lora_alpha=2 * settings.lora_r,
        total_step=max(total_steps, 1),
    )


def adalora_step(model: nn.Module, steps_done: int) -> None:
    """AdaLoRA re-allocates its rank budget (prunes singular values) on its schedule, reaching the
    target rank when `steps_done` reaches the run's length (peft counts steps from 1, like Trainer)."""
    model.base_model.update_and_allocate(steps_done)


METHODS: dict[str, Method] = {
    m.id: m
    for m in (
        Method(
            "full",
            "Full fine-tuning",
            "full",
            "every weight of the model, plus the new classifier head",
            set_up=train_everything,
        ),
        Method(
            "head",
            "Classifier head only (linear probe)",
            "specification",
            "only the new classifier head",
            set_up=train_head_only,
        ),
        Method("bitfit", "BitFit", "specification", "the bias terms (and the head)", set_up=bitfit),
        Method(
            "ln_tuning",
            "LN tuning (peft)",
            "specification",
            "the normalisation layers' weights (and the head)",
            peft_config=lambda s, steps: peft.LNTuningConfig(task_type=SEQ_CLS),
        ),
        Method(
            "adapter",
            "Bottleneck adapters (Houlsby)",
            "addition",
            "a down-project / nonlinearity / up-project block after each attention and feed-forward sublayer",
            set_up=bottleneck_adapters,
            note="Houlsby adapters after every attention and feed-forward sublayer (up-projection starts at zero).",
        ),
        Method(
            "prefix",
            "Prefix tuning (peft)",
            "addition",
            "trained key/value vectors prepended in every layer",
            peft_config=lambda s, steps: peft.PrefixTuningConfig(task_type=SEQ_CLS, num_virtual_tokens=s.prefix_tokens),
        ),
        Method(
            "prompt",
            "Prompt tuning (peft)",
            "addition",
            "trained embeddings of virtual tokens prepended to the input",
            peft_config=lambda s, steps: peft.PromptTuningConfig(task_type=SEQ_CLS, num_virtual_tokens=s.prompt_tokens),
        ),
        Method(
            "ia3",
            "IA³ (peft)",
            "addition",
            "learned vectors that rescale keys, values and feed-forward activations",
            peft_config=lambda s, steps: peft.IA3Config(task_type=SEQ_CLS),
        ),
        Method(
            "lora",
            "LoRA (peft)",
            "reparameterization",
            "a low-rank update B·A added to chosen weight matrices",
            peft_config=lambda s, steps: peft.LoraConfig(task_type=SEQ_CLS, r=s.lora_r, lora_alpha=2 * s.lora_r),
        ),
        Method(
            "adalora",
            "AdaLoRA (peft)",
            "reparameterization",
            "LoRA in SVD form whose rank budget is re-allocated while training",
            peft_config=adalora_config,
            note="Counted at the initial rank {lora_r}; training prunes towards half of it.",
            after_step=adalora_step,
        ),
        Method(
            "vera",
            "VeRA (peft)",
            "reparameterization",
            "frozen shared random low-rank matrices with trained scaling vectors",
            peft_config=lambda s, steps: peft.VeraConfig(task_type=SEQ_CLS, r=s.lora_r),
            note="VeRA's checkpoint also stores its frozen shared random matrices (peft's save_projection=True).",
        ),
    )
}
PEFT_METHODS = tuple(m.id for m in METHODS.values() if m.peft_config)
FAMILIES = {
    "full": "Full fine-tuning: a whole new copy of the model per task.",
    "addition": "Addition-based: new trainable modules or tokens; the original weights stay frozen.",
    "specification": "Specification-based: a chosen few of the original parameters are trained.",
    "reparameterization": "Reparameterization-based: the weight update is written in a low-dimensional form.",
}


def check_methods(methods: Iterable[str] | str) -> list[str]:
    """Method ids from a list or a comma-separated string, each known, in the given order, no repeats."""
    if isinstance(methods, str):
        methods = [m for m in methods.replace(" ", "").split(",") if m]
    if not isinstance(methods, (list, tuple)) or not all(isinstance(m, str) for m in methods):
        raise ExplorerError("methods must be a list of method ids from: {allowed}.", allowed=", ".join(METHODS))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ExplorerError(
            "Unknown method {method!r}; pick from: {allowed}.", method=unknown[0][:40], allowed=", ".join(METHODS)
        )
    if not methods:
        raise ExplorerError("Pick at least one method from: {allowed}.", allowed=", ".join(METHODS))
    return list(dict.fromkeys(methods))


@dataclass
class Prepared:
    """A classifier set up for one method: its model, what it trains and how to save that."""

    method: str
    model: nn.Module
    base_params: int  # parameters of the plain classifier (the model before any delta)
    note: str = ""

    @property
    def trainable(self) -> int:
        """Counted from the instantiated modules: the parameters that will get gradients."""
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    @property
    def is_peft(self) -> bool:
        return isinstance(self.model, peft.PeftModel)


def prepare(
    lm: LoadedModel, method: str, settings: TuningSettings, seed: int = 0, total_steps: int = ADALORA_TABLE_STEPS
) -> Prepared:
    """The shared classifier set up for `method`: its trainable parameters unfrozen or added.

    New weights (head, adapters, LoRA, prompts) are drawn from `seed` in a forked RNG, so set-up is
    reproducible and leaves the process-wide RNG that other tabs use untouched.
    """
    entry = METHODS[method]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = shared_classifier(lm, settings.num_labels)
        base_params = sum(p.numel() for p in model.parameters())
        if entry.peft_config:
            model, said = with_peft(lm, entry, model, settings, total_steps), ""
        else:
            head(model).requires_grad_(True)
            said = entry.set_up(model, settings)
    note = " ".join(part for part in (said, i18n.message(entry.note, vars(settings))) if part)
    return Prepared(method, model, base_params, note)


def with_peft(lm: LoadedModel, entry: Method, model: nn.Module, settings: TuningSettings, steps: int) -> nn.Module:
    """peft's method added to the classifier; refused when peft knows no modules to put it on."""
    try:
        return peft.get_peft_model(model, entry.peft_config(settings, steps))
    except ValueError as error:  # e.g. no default target modules for this architecture
        raise ExplorerError(
            "{model} cannot be tuned with {method}: {reason}. Methods that need no target modules "
            "work on every model: {allowed}.",
            model=lm.name,
            method=entry.id,
            reason=str(error)[:200],
            allowed=", ".join(m.id for m in METHODS.values() if m.set_up),
        ) from None
