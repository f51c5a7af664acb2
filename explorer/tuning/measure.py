"""What each method costs, measured on the prepared model: the comparison table.

Counts come from the instantiated modules (`requires_grad` after set-up), checkpoint sizes from
the trainable state really written to a temporary file, activation memory from the tensors
autograd really saves in a forward pass (run on the meta device, so it costs no arithmetic).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from .. import i18n
from ..checks import ExplorerError
from ..models import LoadedModel, Progress
from .methods import METHODS, Prepared, TuningSettings, prepare

BATCH_SIZE = 8  # sentences per training step
MEMORY_SEQ_LEN = 32  # tokens per sentence assumed by the table's memory estimate
MB = 2**20
# /dev/shm keeps the full row's half-gigabyte checkpoint in RAM instead of on the disk.
SCRATCH_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


# ---------------------------------------------------------------- bytes of tensors


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def parameter_bytes(model: nn.Module, trainable_only: bool = False) -> int:
    """Bytes of the model's parameters (each once: tied weights are one tensor)."""
    unique = {id(p): p for p in model.parameters() if p.requires_grad or not trainable_only}
    return tensor_bytes(unique.values())


def optimizer_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the optimiser's state (Adam: two moments per trained parameter, and a step count)."""
    return tensor_bytes(v for state in optimizer.state.values() for v in state.values() if isinstance(v, torch.Tensor))


class SavedActivations:
    """Counts the bytes autograd saves for backward while it is entered (each storage once, weights
    excluded). Storages are told apart by their C++ object, which works on the meta device too."""

    def __init__(self, model: nn.Module):
        self.weights = {_storage(p) for p in model.parameters()}
        self.storages: dict[int, int] = {}
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        key = _storage(tensor)
        if key not in self.weights:
            self.storages[key] = tensor.untyped_storage().nbytes()
        return tensor

    @property
    def bytes(self) -> int:
        return sum(self.storages.values())

    def __enter__(self) -> SavedActivations:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)


def _storage(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage()._cdata  # the storage's identity: the same for every view of it


def activation_bytes(model: nn.Module, batch: int = BATCH_SIZE, seq_len: int = MEMORY_SEQ_LEN) -> int:
    """Bytes autograd keeps for the backward pass of one batch, from a forward on the meta device.

    Moving the model to meta replaces only this wrapper's tensors (the shared weights stay), so
    call it last.
    """
    model.to("meta")
    input_ids = torch.zeros(batch, seq_len, dtype=torch.long, device="meta")  # (batch, n)
    with torch.enable_grad(), SavedActivations(model) as saved:
        model(input_ids=input_ids)
    return saved.bytes


# ---------------------------------------------------------------- checkpoints


def trainable_state(prepared: Prepared) -> dict[str, torch.Tensor]:
    """What a task's checkpoint must hold: the trained tensors, each once."""
    state = {}
    for name, parameter in prepared.model.named_parameters():  # yields a shared parameter once
        if parameter.requires_grad:
            state[name] = parameter.detach().contiguous()
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
            save_file(trainable_state(prepared), path)
        return path.stat().st_size


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
    gradients_mb: float  # one gradient per trained parameter
    adam_mb: float  # Adam's two moments per trained parameter
    activations_mb: float  # what autograd saves for backward
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
    unavailable: dict[str, str] = field(default_factory=dict)  # method -> why this model cannot take it


def measure(prepared: Prepared, full_checkpoint: int | None = None) -> Row:
    """One row of the table (leaves the model on meta). `full_checkpoint`: the bytes of full
    fine-tuning's checkpoint, which the row compares its own with (none: this is that row)."""
    method = METHODS[prepared.method]
    checkpoint = checkpoint_bytes(prepared)
    trained = parameter_bytes(prepared.model, trainable_only=True)
    weights, activations = parameter_bytes(prepared.model), activation_bytes(prepared.model)
    return Row(
        method=method.id,
        family=method.family,
        trainable=prepared.trainable,
        percent=100 * prepared.trainable / prepared.base_params,
        checkpoint_mb=checkpoint / MB,
        name=method.name,
        checkpoint_bytes=checkpoint,
        memory_mb=(weights + 3 * trained + activations) / MB,
        weights_mb=weights / MB,
        gradients_mb=trained / MB,
        adam_mb=2 * trained / MB,
        activations_mb=activations / MB,
        tasks_per_full_copy=(full_checkpoint or checkpoint) // checkpoint,
        note=prepared.note,
    )


def table(
    lm: LoadedModel, settings: TuningSettings = TuningSettings(), progress: Progress | None = None
) -> TuningTable:
    """One row per method (full fine-tuning first) for `lm` as a `num_labels`-class classifier."""
    settings = settings.validated()
    progress = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    rows: list[Row] = []
    unavailable = {}
    for index, method in enumerate(METHODS.values()):  # full fine-tuning is the first entry
        progress(index / len(METHODS), i18n.message("Setting up {method}", {"method": method.name}))
        try:
            prepared = prepare(lm, method.id, settings)
        except ExplorerError as error:  # a peft method with no target modules for this architecture
            unavailable[method.id] = str(error)
            continue
        base_params = prepared.base_params
        rows.append(measure(prepared, rows[0].checkpoint_bytes if rows else None))
    progress(1.0, i18n.message("Table ready", {}))
    seconds = time.perf_counter() - started
    return TuningTable(lm.name, base_params, rows, vars(settings), seconds, unavailable=unavailable)
