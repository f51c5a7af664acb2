"""Full fine-tuning vs delta tuning, measured on a real model.

Every method turns the chosen causal LM into a k-class classifier
(`AutoModelForSequenceClassification`) that *shares* the loaded model's weights: the
wrapper is built on the meta device and the cached tensors are assigned into it, so a
row costs no copy and the model is never loaded twice. `peft` then adds its modules;
only bottleneck adapters and BitFit are written here, because `peft` has neither.
Counts come from the instantiated modules (`requires_grad` after set-up), checkpoint
sizes from the trainable state really written to a temporary file, activation memory
from the tensors autograd really saves in a forward pass (run on the meta device, so
it costs no arithmetic). Training clones whatever a method trains, so the shared model
stays untouched.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import peft
import torch
from safetensors.torch import save_file
from torch import nn
from transformers import AutoModelForSequenceClassification

from . import checks, datasets
from .checks import ExplorerError
from .models import LoadedModel, Progress

MAX_RANK = 256
MAX_ADAPTER_SIZE = 1024
MAX_VIRTUAL_TOKENS = 256
MAX_LABELS = 1000
MAX_STEPS = 200
MAX_LEARNING_RATE = 1.0
BATCH_SIZE = 8  # sentences per training step
MEMORY_SEQ_LEN = 32  # tokens per sentence assumed by the table's memory estimate
ADALORA_TABLE_STEPS = 100  # AdaLoRA needs a schedule length to be built; the table assumes this many steps
# /dev/shm keeps the full row's half-gigabyte checkpoint in RAM instead of on the disk.
SCRATCH_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None

# A fixed general-text passage: its perplexity before and after tuning shows forgetting.
GENERAL_TEXT = (
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based ink and a wooden press adapted from those used for wine. "
    "Books became cheaper and more common, literacy spread across Europe, and scholars in different "
    "cities could read the same text and argue about it in letters."
)


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    family: str  # Ding et al.'s families: addition, specification, reparameterization (or full)
    summary: str


METHODS: dict[str, Method] = {
    m.id: m
    for m in (
        Method("full", "Full fine-tuning", "full", "every weight of the model, plus the new classifier head"),
        Method("head", "Classifier head only (linear probe)", "specification", "only the new classifier head"),
        Method("bitfit", "BitFit", "specification", "the bias terms (and the head)"),
        Method("ln_tuning", "LN tuning (peft)", "specification", "the normalisation layers' weights (and the head)"),
        Method(
            "adapter",
            "Bottleneck adapters (Houlsby)",
            "addition",
            "a down-project / nonlinearity / up-project block after each attention and feed-forward sublayer",
        ),
        Method("prefix", "Prefix tuning (peft)", "addition", "trained key/value vectors prepended in every layer"),
        Method(
            "prompt", "Prompt tuning (peft)", "addition", "trained embeddings of virtual tokens prepended to the input"
        ),
        Method(
            "ia3", "IA³ (peft)", "addition", "learned vectors that rescale keys, values and feed-forward activations"
        ),
        Method("lora", "LoRA (peft)", "reparameterization", "a low-rank update B·A added to chosen weight matrices"),
        Method(
            "adalora",
            "AdaLoRA (peft)",
            "reparameterization",
            "LoRA in SVD form whose rank budget is re-allocated while training",
        ),
        Method(
            "vera",
            "VeRA (peft)",
            "reparameterization",
            "frozen shared random low-rank matrices with trained scaling vectors",
        ),
    )
}
PEFT_METHODS = ("ln_tuning", "prefix", "prompt", "ia3", "lora", "adalora", "vera")
FAMILIES = {
    "full": "Full fine-tuning: a whole new copy of the model per task.",
    "addition": "Addition-based: new trainable modules or tokens; the original weights stay frozen.",
    "specification": "Specification-based: a chosen few of the original parameters are trained.",
    "reparameterization": "Reparameterization-based: the weight update is written in a low-dimensional form.",
}


@dataclass(frozen=True)
class TuningSettings:
    lora_r: int = 8
    adapter_size: int = 64
    prefix_tokens: int = 20
    prompt_tokens: int = 20
    num_labels: int = 2

    def validated(self) -> TuningSettings:
        return TuningSettings(
            lora_r=checks.number(self.lora_r, "lora_r", 1, MAX_RANK, integer=True),
            adapter_size=checks.number(self.adapter_size, "adapter_size", 1, MAX_ADAPTER_SIZE, integer=True),
            prefix_tokens=checks.number(self.prefix_tokens, "prefix_tokens", 1, MAX_VIRTUAL_TOKENS, integer=True),
            prompt_tokens=checks.number(self.prompt_tokens, "prompt_tokens", 1, MAX_VIRTUAL_TOKENS, integer=True),
            num_labels=checks.number(self.num_labels, "num_labels", 2, MAX_LABELS, integer=True),
        )


def check_methods(methods: Iterable[str] | str) -> list[str]:
    """Method ids from a list or a comma-separated string, each known, in the given order, no repeats."""
    if isinstance(methods, str):
        methods = [m for m in methods.replace(" ", "").split(",") if m]
    if not isinstance(methods, (list, tuple)) or not all(isinstance(m, str) for m in methods):
        raise ExplorerError(f"methods must be a list of method ids from: {', '.join(METHODS)}.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ExplorerError(f"Unknown method {unknown[0][:40]!r}; pick from: {', '.join(METHODS)}.")
    if not methods:
        raise ExplorerError(f"Pick at least one method from: {', '.join(METHODS)}.")
    return list(dict.fromkeys(methods))


# ---------------------------------------------------------------- building a classifier per method


@dataclass
class Prepared:
    """A classifier set up for one method: its model, what it trains and how to save that."""

    method: str
    model: nn.Module
    base_params: int  # parameters of the plain classifier (the model before any delta)
    note: str = ""

    @property
    def trainable(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    @property
    def is_peft(self) -> bool:
        return isinstance(self.model, peft.PeftModel)


def shared_classifier(lm: LoadedModel, num_labels: int) -> nn.Module:
    """`AutoModelForSequenceClassification` over the loaded model's own tensors (no copy).

    Built on the meta device, then the causal model's weights and buffers are assigned in;
    only the new classifier head gets fresh memory (initialised from the global torch seed).
    """
    config = copy.deepcopy(lm.model.config)
    config.num_labels = num_labels
    config.pad_token_id = _pad_id(lm)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    model.load_state_dict(lm.model.state_dict(), strict=False, assign=True)
    buffers = dict(lm.model.named_buffers())
    for module_name, module in model.named_modules():
        for name, buffer in module._buffers.items():
            if buffer is not None and buffer.is_meta:
                module._buffers[name] = buffers[f"{module_name}.{name}" if module_name else name]
    _initialise_new_parameters(model, config)
    model.requires_grad_(False)
    return model.eval()


def _initialise_new_parameters(model: nn.Module, config) -> None:
    """Give the parameters the causal LM lacks (the head) memory and transformers' usual init."""
    std = getattr(config, "initializer_range", 0.02)
    missing = []
    for module_name, module in model.named_modules():
        for name, parameter in module.named_parameters(recurse=False):
            if parameter.is_meta:
                missing.append(f"{module_name}.{name}")
                fresh = torch.empty_like(parameter, device="cpu")
                nn.init.zeros_(fresh) if name == "bias" else nn.init.normal_(fresh, std=std)
                setattr(module, name, nn.Parameter(fresh))
    head = _head_name(model)
    outside_head = [name for name in missing if not name.startswith(head + ".")]
    if outside_head:
        raise ExplorerError(
            f"Cannot build a classifier from this model: {len(outside_head)} of its parameters "
            f"(e.g. {outside_head[0]}) have no counterpart in the loaded language model."
        )


def _head_name(model: nn.Module) -> str:
    for name in ("score", "classifier"):
        if isinstance(getattr(model, name, None), nn.Module):
            return name
    raise ExplorerError(f"{type(model).__name__} has no classifier head called 'score' or 'classifier'.")


def _pad_id(lm: LoadedModel) -> int:
    for value in (lm.tokenizer.pad_token_id, lm.model.config.pad_token_id, lm.tokenizer.eos_token_id):
        if isinstance(value, int):
            return value
    return 0


def prepare(
    lm: LoadedModel, method: str, settings: TuningSettings, seed: int = 0, total_steps: int = ADALORA_TABLE_STEPS
) -> Prepared:
    """The shared classifier set up for `method`: trainable parameters unfrozen or added.

    New weights (head, adapters, LoRA, prompts) are drawn from `seed` in a forked RNG, so set-up is
    reproducible and leaves the process-wide RNG that other tabs use untouched.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _prepare(lm, method, settings, total_steps)


def _prepare(lm: LoadedModel, method: str, settings: TuningSettings, total_steps: int) -> Prepared:
    model = shared_classifier(lm, settings.num_labels)
    base_params = sum(p.numel() for p in model.parameters())
    head = getattr(model, _head_name(model))
    note = ""
    if method == "full":
        model.requires_grad_(True)
    elif method == "head":
        head.requires_grad_(True)
    elif method == "bitfit":
        note = unfreeze_biases(model)
        head.requires_grad_(True)
    elif method == "adapter":
        add_bottleneck_adapters(model, settings.adapter_size)
        head.requires_grad_(True)
        note = "Houlsby adapters after every attention and feed-forward sublayer (up-projection starts at zero)."
    else:
        model = peft.get_peft_model(model, peft_config(method, settings, total_steps))
        note = {
            "vera": "VeRA's checkpoint also stores its frozen shared random matrices (peft's save_projection=True).",
            "adalora": f"Counted at the initial rank {settings.lora_r}; training prunes towards half of it.",
        }.get(method, "")
    return Prepared(method, model, base_params, note)


def peft_config(method: str, settings: TuningSettings, total_steps: int) -> peft.PeftConfig:
    """`peft`'s defaults for the architecture (e.g. LoRA on q_proj and v_proj for Llama); the head is trained too."""
    task = peft.TaskType.SEQ_CLS
    if method == "lora":
        return peft.LoraConfig(task_type=task, r=settings.lora_r, lora_alpha=2 * settings.lora_r)
    if method == "adalora":
        return peft.AdaLoraConfig(
            task_type=task,
            init_r=settings.lora_r,
            target_r=max(1, settings.lora_r // 2),
            lora_alpha=2 * settings.lora_r,
            total_step=max(total_steps, 1),
        )
    if method == "vera":
        return peft.VeraConfig(task_type=task, r=settings.lora_r)
    if method == "ia3":
        return peft.IA3Config(task_type=task)
    if method == "ln_tuning":
        return peft.LNTuningConfig(task_type=task)
    if method == "prefix":
        return peft.PrefixTuningConfig(task_type=task, num_virtual_tokens=settings.prefix_tokens)
    if method == "prompt":
        return peft.PromptTuningConfig(task_type=task, num_virtual_tokens=settings.prompt_tokens)
    raise ExplorerError(f"Unknown method {method!r}; pick from: {', '.join(METHODS)}.")


def unfreeze_biases(model: nn.Module) -> str:
    """BitFit, written here because peft has no bias-only method. With no biases (SmolLM2's
    linear layers have none) it trains what there is: the normalisation weights."""
    biases = [p for name, p in model.named_parameters() if name.endswith(".bias")]
    if biases:
        for bias in biases:
            bias.requires_grad_(True)
        return f"{len(biases)} bias vectors trained, plus the head."
    norms = [m for m in model.modules() if "norm" in type(m).__name__.lower()]
    for norm in norms:
        norm.requires_grad_(True)
    return (
        "This model has no bias terms at all, so BitFit has nothing to train; it trains what there is "
        f"instead: the weights of its {len(norms)} normalisation layers, plus the head."
    )


class BottleneckAdapter(nn.Module):
    """Houlsby et al.'s adapter: x + up(act(down(x))), with `up` zero so training starts from the model."""

    def __init__(self, hidden_size: int, bottleneck: int):
        super().__init__()
        self.down = nn.Linear(hidden_size, bottleneck)
        self.act = nn.GELU()
        self.up = nn.Linear(bottleneck, hidden_size)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


def _apply_adapter(module: nn.Module, inputs, output):
    adapter = module.bottleneck_adapter
    if isinstance(output, tuple):
        return (adapter(output[0]), *output[1:])
    return adapter(output)


def add_bottleneck_adapters(model: nn.Module, bottleneck: int) -> list[BottleneckAdapter]:
    """Attach an adapter to the output of every layer's attention and feed-forward block.

    Hand-written because peft has no bottleneck adapters; AdapterHub's `adapters` package does,
    but it patches transformers' model classes and lags behind transformers 5.
    """
    hidden = model.config.hidden_size
    added = []
    for layer in decoder_layers(model):
        for block in _sublayers(layer):
            block.bottleneck_adapter = BottleneckAdapter(hidden, bottleneck)
            block.register_forward_hook(_apply_adapter)
            added.append(block.bottleneck_adapter)
    return added


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    count = model.config.num_hidden_layers
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) == count:
            return module
    raise ExplorerError(f"Cannot find the {count} transformer layers of {type(model).__name__} to put adapters in.")


def _sublayers(layer: nn.Module) -> list[nn.Module]:
    """The attention block and the feed-forward block of one transformer layer."""
    found = []
    for names in (("self_attn", "attn", "attention"), ("mlp", "ffn", "feed_forward")):
        block = next((getattr(layer, n) for n in names if isinstance(getattr(layer, n, None), nn.Module)), None)
        if block is None:
            raise ExplorerError(f"Cannot find where to put adapters in {type(layer).__name__}.")
        found.append(block)
    return found


# ---------------------------------------------------------------- measuring a prepared model


def trainable_state(prepared: Prepared) -> dict[str, torch.Tensor]:
    """What a task's checkpoint must hold: the trained tensors, each once."""
    seen: set[int] = set()
    state = {}
    for name, parameter in prepared.model.named_parameters():
        if parameter.requires_grad and id(parameter) not in seen:
            seen.add(id(parameter))
            state[name] = parameter.detach()
    return state


def checkpoint_bytes(prepared: Prepared) -> int:
    """Bytes of the real checkpoint, written to a temporary folder: peft's own
    `save_pretrained` for peft methods, the trainable state as safetensors otherwise."""
    with tempfile.TemporaryDirectory(dir=SCRATCH_DIR) as folder:
        if prepared.is_peft:
            prepared.model.save_pretrained(folder)
            path = Path(folder) / "adapter_model.safetensors"
        else:
            path = Path(folder) / "model.safetensors"
            save_file({k: v.contiguous() for k, v in trainable_state(prepared).items()}, path)
        return path.stat().st_size


def activation_bytes(model: nn.Module, batch: int = BATCH_SIZE, seq_len: int = MEMORY_SEQ_LEN) -> int:
    """Bytes autograd keeps for the backward pass of one batch, from a forward on the meta device.

    Moving the model to meta replaces only this wrapper's tensors (the shared weights stay), so
    call it last. Tensors that are (views of) parameters are weights, not activations.
    """
    model.to("meta")
    parameters = {id(p) for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor):
        base = tensor if tensor._base is None else tensor._base
        if id(base) not in parameters:
            saved[id(base)] = base.numel() * base.element_size()
        return tensor

    input_ids = torch.zeros(batch, seq_len, dtype=torch.long, device="meta")
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(input_ids=input_ids)
    return sum(saved.values())


def parameter_bytes(model: nn.Module, trainable_only: bool = False) -> int:
    unique = {id(p): p for p in model.parameters() if p.requires_grad or not trainable_only}
    return sum(p.numel() * p.element_size() for p in unique.values())


# ---------------------------------------------------------------- the table


@dataclass
class Row:
    method: str
    family: str
    trainable: int
    percent: float  # of the plain classifier's parameters
    checkpoint_mb: float
    name: str
    checkpoint_bytes: int
    memory_mb: float  # estimated training memory for a batch of BATCH_SIZE x MEMORY_SEQ_LEN tokens
    weights_mb: float
    gradients_mb: float
    adam_mb: float
    activations_mb: float
    tasks_per_full_copy: int  # checkpoints of this method that fit in the space of one full fine-tuned copy
    note: str


@dataclass
class TuningTable:
    model: str
    total_params: int
    rows: list[Row]
    settings: dict
    seconds: float
    memory_batch: str = f"{BATCH_SIZE} sentences x {MEMORY_SEQ_LEN} tokens, fp32, Adam"


def measure(prepared: Prepared) -> dict:
    """Counts, checkpoint size and memory of one prepared method (leaves the model on meta)."""
    trainable_bytes = parameter_bytes(prepared.model, trainable_only=True)
    numbers = dict(
        trainable=prepared.trainable,
        checkpoint_bytes=checkpoint_bytes(prepared),
        weights=parameter_bytes(prepared.model),
        gradients=trainable_bytes,
        adam=2 * trainable_bytes,
    )
    numbers["activations"] = activation_bytes(prepared.model)
    return numbers


def table(
    lm: LoadedModel, settings: TuningSettings = TuningSettings(), progress: Progress | None = None
) -> TuningTable:
    """One row per method for `lm` as a `num_labels`-class classifier."""
    settings = settings.validated()
    return _table(lm, settings, progress or (lambda fraction, message: None))


def _table(lm: LoadedModel, settings: TuningSettings, progress: Progress) -> TuningTable:
    started = time.perf_counter()
    measured = {}
    total = 0
    for index, method in enumerate(METHODS):
        progress(index / len(METHODS), f"Setting up {METHODS[method].name}")
        prepared = prepare(lm, method, settings)
        total = prepared.base_params
        measured[method] = (measure(prepared), prepared.note)
    full_bytes = measured["full"][0]["checkpoint_bytes"]
    rows = [_row(method, numbers, note, total, full_bytes) for method, (numbers, note) in measured.items()]
    progress(1.0, "Table ready")
    return TuningTable(lm.name, total, rows, vars(settings), time.perf_counter() - started)


def _row(method: str, numbers: dict, note: str, total: int, full_bytes: int) -> Row:
    mb = 2**20
    memory = numbers["weights"] + numbers["gradients"] + numbers["adam"] + numbers["activations"]
    return Row(
        method=method,
        family=METHODS[method].family,
        trainable=numbers["trainable"],
        percent=100 * numbers["trainable"] / total,
        checkpoint_mb=numbers["checkpoint_bytes"] / mb,
        name=METHODS[method].name,
        checkpoint_bytes=numbers["checkpoint_bytes"],
        memory_mb=memory / mb,
        weights_mb=numbers["weights"] / mb,
        gradients_mb=numbers["gradients"] / mb,
        adam_mb=numbers["adam"] / mb,
        activations_mb=numbers["activations"] / mb,
        tasks_per_full_copy=full_bytes // numbers["checkpoint_bytes"],
        note=note,
    )


# ---------------------------------------------------------------- short real training runs


@dataclass
class Run:
    method: str
    trainable: int
    losses: list[float]
    accuracy: float  # on the held-out items, after training
    seconds_per_step: float
    peak_mem_mb: float  # weights + gradients + Adam state + saved activations, from the real tensors of a step
    ppl_before: float  # perplexity of GENERAL_TEXT with the method set up, before training
    ppl_after: float
    accuracy_before: float
    name: str
    steps_done: int
    stopped: str | None  # why the run stopped early (e.g. NaN loss), None if it ran every step
    note: str


@dataclass
class TrainingResult:
    model: str
    runs: list[Run]
    steps: int
    learning_rate: float
    seed: int
    batch_size: int
    train_items: int
    held_out_items: int
    task: str
    general_text: str = GENERAL_TEXT


@dataclass(frozen=True)
class LabelledData:
    train: tuple[datasets.Example, ...]
    held_out: tuple[datasets.Example, ...]
    labels: tuple[str, ...]


def sentiment_data() -> LabelledData:
    """The shared sentiment set: every 4th item of each label is held out (a stratified split)."""
    task = datasets.load_task("sentiment")
    train, held_out = [], []
    for label in task.labels:
        items = [item for item in task.items if item.label == label]
        for index, item in enumerate(items):
            (held_out if index % 4 == 3 else train).append(item)
    return LabelledData(tuple(train), tuple(held_out), task.labels)


def train(
    lm: LoadedModel,
    methods: Sequence[str] | str = ("head", "lora", "full"),
    steps: int = 20,
    learning_rate: float = 1e-3,
    seed: int = 0,
    settings: TuningSettings = TuningSettings(),
    data: LabelledData | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Train each method for `steps` steps of BATCH_SIZE sentences on the same seeded batches."""
    methods = check_methods(methods)
    steps = checks.number(steps, "steps", 1, MAX_STEPS, integer=True)
    learning_rate = checks.number(learning_rate, "learning_rate", 0, MAX_LEARNING_RATE, low_open=True)
    seed = checks.seed(seed)
    data = data or sentiment_data()
    settings = TuningSettings(**{**vars(settings.validated()), "num_labels": len(data.labels)})
    progress = progress or (lambda fraction, message: None)
    runs = []
    for index, method in enumerate(methods):

        def report(fraction: float, message: str, index=index, method=method) -> None:
            progress((index + fraction) / len(methods), f"{METHODS[method].name}: {message}")

        runs.append(train_one(lm, method, steps, learning_rate, seed, settings, data, report))
    progress(1.0, "Training done")
    return TrainingResult(
        lm.name, runs, steps, learning_rate, seed, BATCH_SIZE, len(data.train), len(data.held_out), "sentiment"
    )


def train_one(lm, method, steps, learning_rate, seed, settings, data: LabelledData, report: Progress) -> Run:
    prepared = prepare(lm, method, settings, seed, total_steps=steps)
    own_trainable_copies(prepared, lm)
    model = prepared.model
    report(0.0, "measuring before training")
    accuracy_before = accuracy(model, lm, data)
    ppl_before = perplexity(model, lm)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)
    batches = _batches(data.train, steps, seed)
    losses, seconds, peak, stopped = [], [], 0, None
    model.train()
    for step, items in enumerate(batches):
        started = time.perf_counter()
        input_ids, attention_mask = encode(lm, [item.text for item in items])
        labels = torch.tensor([data.labels.index(item.label) for item in items])
        with SavedActivations(model) if step == 0 else contextlib.nullcontext() as saved:
            outputs = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
        # The curve shows the task's cross-entropy; AdaLoRA's training loss adds a regulariser.
        loss = nn.functional.cross_entropy(outputs.logits.detach(), labels)
        if not math.isfinite(outputs.loss.item()):
            stopped = f"loss became {outputs.loss.item()} at step {step + 1}; run stopped (try a smaller learning rate)"
            break
        outputs.loss.backward()
        optimizer.step()
        if step == 0:
            peak = parameter_bytes(model) + _gradient_bytes(parameters) + _optimizer_bytes(optimizer) + saved.bytes
        if method == "adalora":
            model.base_model.update_and_allocate(step)
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - started)
        losses.append(loss.item())
        report((step + 1) / (steps + 1), f"step {step + 1}/{steps}, loss {loss.item():.3f}")
    model.eval()
    report(steps / (steps + 1), "measuring after training")
    return Run(
        method=method,
        trainable=prepared.trainable,
        losses=losses,
        accuracy=accuracy(model, lm, data),
        seconds_per_step=sum(seconds) / len(seconds) if seconds else math.nan,
        peak_mem_mb=peak / 2**20 if peak else math.nan,
        ppl_before=ppl_before,
        ppl_after=perplexity(model, lm),
        accuracy_before=accuracy_before,
        name=METHODS[method].name,
        steps_done=len(losses),
        stopped=stopped,
        note=prepared.note,
    )


def own_trainable_copies(prepared: Prepared, lm: LoadedModel) -> None:
    """Clone every trainable tensor still shared with the cached model, so training never changes it."""
    shared = {p.data_ptr() for p in lm.model.parameters()}
    for parameter in prepared.model.parameters():
        if parameter.requires_grad and parameter.data_ptr() in shared:
            parameter.data = parameter.data.clone()


def _batches(items: Sequence, steps: int, seed: int) -> list[list]:
    """`steps` batches drawn through seeded shuffles of the training items (the same for every method)."""
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    while len(order) < steps * BATCH_SIZE:
        order += torch.randperm(len(items), generator=generator).tolist()
    return [[items[i] for i in order[s * BATCH_SIZE : (s + 1) * BATCH_SIZE]] for s in range(steps)]


def encode(lm: LoadedModel, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded ids and mask: the last position is always a real token, which the
    classifier reads (prompt tuning feeds embeddings, so the model cannot find padding itself)."""
    rows = [lm.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
    width = max(len(row) for row in rows)
    pad = _pad_id(lm)
    input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in rows])
    attention_mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
    return input_ids, attention_mask


@torch.no_grad()
def accuracy(model: nn.Module, lm: LoadedModel, data: LabelledData, batch: int = 16) -> float:
    items = data.held_out
    correct = 0
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        input_ids, attention_mask = encode(lm, [item.text for item in chunk])
        predicted = model(input_ids=input_ids, attention_mask=attention_mask).logits.argmax(-1)
        correct += sum(int(p) == data.labels.index(item.label) for p, item in zip(predicted, chunk))
    return correct / len(items)


@torch.no_grad()
def perplexity(model: nn.Module, lm: LoadedModel, text: str = GENERAL_TEXT) -> float:
    """The language model's perplexity on `text`, read through the (tuned) backbone and the LM head.

    The classifier has no LM head, so the backbone's final hidden states go through the original
    one (with tied embeddings: the backbone's own, possibly tuned, embedding matrix).
    """
    input_ids = torch.tensor([lm.tokenizer(text, add_special_tokens=False)["input_ids"]])
    classifier = model.get_base_model() if isinstance(model, peft.PeftModel) else model
    backbone = getattr(classifier, classifier.base_model_prefix)
    captured = []
    hook = backbone.register_forward_hook(lambda module, inputs, output: captured.append(output[0]))
    try:
        model(input_ids=input_ids)
    finally:
        hook.remove()
    hidden = captured[0][:, -input_ids.shape[1] :]  # prompt tuning prepends virtual tokens
    tied = getattr(lm.model.config, "tie_word_embeddings", False)
    head = backbone.get_input_embeddings().weight if tied else lm.model.get_output_embeddings().weight
    logits = hidden @ head.T
    loss = nn.functional.cross_entropy(logits[0, :-1], input_ids[0, 1:])
    return math.exp(loss.item())


class SavedActivations:
    """Counts the bytes autograd saves for backward (each storage once, weights excluded)."""

    def __init__(self, model: nn.Module):
        self.weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.storages: dict[int, int] = {}
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self.weights:
            self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    @property
    def bytes(self) -> int:
        return sum(self.storages.values())

    def __enter__(self) -> SavedActivations:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def _gradient_bytes(parameters: Sequence[nn.Parameter]) -> int:
    return sum(p.grad.numel() * p.grad.element_size() for p in parameters if p.grad is not None)


def _optimizer_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(
        value.numel() * value.element_size()
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, torch.Tensor)
    )
