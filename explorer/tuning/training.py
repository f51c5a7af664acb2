"""Short real training runs of the tuning methods, on the same seeded batches.

Each run sets a method up on the shared classifier, clones whatever it trains (so the cached
model stays untouched), measures the held-out accuracy and the perplexity of a fixed general
passage, trains with Adam, and measures both again: accuracy shows what the task gained,
perplexity what the language model forgot.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .. import checks, datasets, i18n
from ..lm import check_fits, pad_id
from ..models import LoadedModel, Progress
from .classifier import backbone
from .lm_head import document_ids, is_masked, lm_loss, lm_targets
from .measure import BATCH_SIZE, SavedActivations, optimizer_bytes, parameter_bytes, tensor_bytes
from .methods import METHODS, Prepared, TuningSettings, check_methods, prepare

MAX_STEPS = 200
MAX_LEARNING_RATE = 1.0
ACCURACY_BATCH = 16  # held-out sentences per forward when measuring accuracy
# A fixed general-text passage: its perplexity before and after tuning shows forgetting.
GENERAL_TEXT = datasets.general_passage("en")


@dataclass
class Run:
    method: str
    trainable: int
    losses: list[float]
    accuracy: float  # on the held-out items, after training
    seconds_per_step: float
    peak_mem_mb: float  # weights + gradients + Adam state + saved activations, from the real tensors of the steps
    ppl_before: float  # perplexity of GENERAL_TEXT with the method set up, before training
    ppl_after: float
    accuracy_before: float
    name: str
    steps_done: int
    stopped: str | None  # why the run stopped early (e.g. NaN loss), None if it ran every step
    note: str
    step_seconds: list[float]  # each step's time (the first also pays for warming up)


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
    task: str = "sentiment"  # the data set's name
    passage: str = GENERAL_TEXT  # the general text whose perplexity shows forgetting, in the data's language


def sentiment_data(language: str = "en") -> LabelledData:
    """The sentiment set in `language` (a Chinese page trains on Chinese reviews and measures a Chinese
    passage): every 4th item of each label is held out (a stratified split)."""
    task = datasets.training_task(language)
    train, held_out = [], []
    for label in task.labels:
        items = [item for item in task.items if item.label == label]
        for index, item in enumerate(items):
            (held_out if index % 4 == 3 else train).append(item)
    return LabelledData(tuple(train), tuple(held_out), task.labels, task.name, datasets.general_passage(language))


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
    data = data or sentiment_data(i18n.current())
    check_passage(lm, data)
    settings = TuningSettings(**{**vars(settings.validated()), "num_labels": len(data.labels)})
    progress = progress or (lambda fraction, message: None)
    runs = []
    for index, method in enumerate(methods):

        def report(fraction: float, message: str, index=index, method=method) -> None:
            progress((index + fraction) / len(methods), f"{METHODS[method].name}: {message}")

        runs.append(train_one(lm, method, steps, learning_rate, seed, settings, data, report))
    progress(1.0, i18n.message("Training done", {}))
    return TrainingResult(
        lm.name,
        runs,
        steps,
        learning_rate,
        seed,
        BATCH_SIZE,
        len(data.train),
        len(data.held_out),
        data.task,
        data.passage,
    )


def check_passage(lm: LoadedModel, data: LabelledData) -> None:
    """Refuse a model whose context cannot hold the general passage whose perplexity is measured."""
    check_fits(lm, len(document_ids(lm, data.passage)))


def train_one(
    lm: LoadedModel,
    method: str,
    steps: int,
    learning_rate: float,
    seed: int,
    settings: TuningSettings,
    data: LabelledData,
    report: Progress,
) -> Run:
    """One method's run (arguments already checked by `train`)."""
    prepared = prepare(lm, method, settings, seed, total_steps=steps)
    own_trainable_copies(prepared, lm)
    return fit(lm, prepared, steps, learning_rate, seed, data, report)


def fit(
    lm: LoadedModel,
    prepared: Prepared,
    steps: int,
    learning_rate: float,
    seed: int,
    data: LabelledData,
    report: Progress,
    extra_loss: Callable[[nn.Module, int], torch.Tensor] | None = None,
) -> Run:
    """Measure, train and measure again a prepared model whose trained tensors are its own.
    `extra_loss(model, step)`, if given, is added to the task's loss at every step (a remedy's term)."""
    model, after_step = prepared.model, METHODS[prepared.method].after_step
    report(0.0, i18n.message("measuring before training", {}))
    accuracy_before, ppl_before = accuracy(model, lm, data), perplexity(model, lm, data.passage)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=learning_rate)
    losses, seconds, peak, stopped = [], [], 0, None
    model.train()
    for step, items in enumerate(batches(data.train, steps, seed)):
        started = time.perf_counter()
        input_ids, attention_mask = encode(lm, [item.text for item in items])  # (batch, n) each
        labels = torch.tensor([data.labels.index(item.label) for item in items])  # (batch,)
        with SavedActivations(model) as saved:
            outputs = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels)
            loss = outputs.loss + extra_loss(model, step) if extra_loss else outputs.loss
        if not math.isfinite(loss.item()):
            stopped = i18n.message(
                "loss became {loss} at step {step}; run stopped (try a smaller learning rate)",
                {"loss": loss.item(), "step": step + 1},
            )
            break
        loss.backward()
        optimizer.step()
        gradients = tensor_bytes(p.grad for p in parameters if p.grad is not None)
        peak = max(peak, parameter_bytes(model) + gradients + optimizer_bytes(optimizer) + saved.bytes)
        if after_step:
            after_step(model, step + 1)
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - started)
        # The curve shows the task's cross-entropy; AdaLoRA's training loss adds a regulariser.
        losses.append(nn.functional.cross_entropy(outputs.logits.detach(), labels).item())
        report(
            (step + 1) / (steps + 1),
            i18n.message(
                "step {step}/{steps}, loss {loss:.3f}", {"step": step + 1, "steps": steps, "loss": losses[-1]}
            ),
        )
    model.eval()
    report(steps / (steps + 1), i18n.message("measuring after training", {}))
    return Run(
        method=prepared.method,
        trainable=prepared.trainable,
        losses=losses,
        accuracy=accuracy(model, lm, data),
        seconds_per_step=sum(seconds) / len(seconds) if seconds else math.nan,
        peak_mem_mb=peak / 2**20 if peak else math.nan,
        ppl_before=ppl_before,
        ppl_after=perplexity(model, lm, data.passage),
        accuracy_before=accuracy_before,
        name=METHODS[prepared.method].name,
        steps_done=len(losses),
        stopped=stopped,
        note=prepared.note,
        step_seconds=seconds,
    )


def own_trainable_copies(prepared: Prepared, lm: LoadedModel) -> None:
    """Clone every trainable tensor still shared with the cached model, so training never changes it."""
    shared = {p.data_ptr() for p in lm.model.parameters()}
    for parameter in prepared.model.parameters():
        if parameter.requires_grad and parameter.data_ptr() in shared:
            parameter.data = parameter.data.clone()


def batches(items: Sequence, steps: int, seed: int, size: int = BATCH_SIZE) -> list[list]:
    """`steps` batches drawn through seeded shuffles of the items (the same for every method)."""
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    while len(order) < steps * size:
        order += torch.randperm(len(items), generator=generator).tolist()
    return [[items[i] for i in order[s * size : (s + 1) * size]] for s in range(steps)]


def encode(lm: LoadedModel, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ids and mask, (batch, n) each. A causal LM's rows are left-padded, so the last position is
    always a real token, which the classifier reads (prompt tuning feeds embeddings, so the model cannot
    find padding itself). A masked LM's rows are its tokenizer's own ([CLS] … [SEP]), right-padded: its
    classifier reads [CLS], the first position, and absolute positions stay where pre-training had them."""
    if is_masked(lm):
        encoded = lm.tokenizer(list(texts), padding=True, padding_side="right", return_tensors="pt")
        input_ids, attention_mask = encoded["input_ids"], encoded["attention_mask"]
    else:
        rows = [lm.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
        width = max(len(row) for row in rows)
        input_ids = torch.tensor([[pad_id(lm)] * (width - len(row)) + row for row in rows])
        attention_mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
    check_fits(lm, input_ids.shape[1])
    return input_ids, attention_mask


@torch.no_grad()
def accuracy(model: nn.Module, lm: LoadedModel, data: LabelledData) -> float:
    """The share of held-out items whose highest-scoring class is their label."""
    items = data.held_out
    correct = 0
    for start in range(0, len(items), ACCURACY_BATCH):
        chunk = items[start : start + ACCURACY_BATCH]
        input_ids, attention_mask = encode(lm, [item.text for item in chunk])
        predicted = model(input_ids=input_ids, attention_mask=attention_mask).logits.argmax(-1)  # (batch,)
        correct += sum(int(p) == data.labels.index(item.label) for p, item in zip(predicted, chunk))
    return correct / len(items)


@torch.no_grad()
def perplexity(model: nn.Module, lm: LoadedModel, text: str = GENERAL_TEXT) -> float:
    """The language model's perplexity on `text` (a whole document, as every tab scores one; for a
    masked LM its pseudo-perplexity, `lm_head`), read through the (tuned) classifier's backbone and
    the pre-trained LM head.

    The classifier has no LM head, so the backbone's final hidden states go through the original
    one (`lm_head.lm_logits`). Not `lm.sentence_logprobs`: that runs the cached model, and prompt and
    prefix tuning only act through the tuned model's own forward.
    """
    inputs, targets = lm_targets(lm, torch.tensor([document_ids(lm, text)]))  # (copies, n) each
    transformer = backbone(model)
    captured = []
    hook = transformer.register_forward_hook(lambda module, inputs, output: captured.append(output[0]))
    try:
        model(input_ids=inputs)
    finally:
        hook.remove()
    hidden = captured[0][:, -inputs.shape[1] :]  # (copies, n, hidden); prompt tuning prepends virtual tokens
    return math.exp(lm_loss(transformer, lm, hidden, targets).item())
