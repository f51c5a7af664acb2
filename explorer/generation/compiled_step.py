"""One row's decoding forward, compiled: the generation loop's step when a request runs alone.

`torch.compile` (inductor, its C++ backend) turns the forward of one new token into one graph: the
element-wise work between the products (norms, rotary embeddings, SiLU, residuals) fused into a few
loops, no Python between the layers. It needs shapes that do not change from token to token, so
the keys and values live in a static cache: `COLUMNS` columns per layer, allocated once; the token
at column c writes its keys there and attends to the columns before it (the model masks the rest).

- Freezing: the weights (and the static cache) become constants of the graph, so a call passes two
  small tensors instead of ~270 parameters; without it the compiled step is slower than eager.
  Weight prepacking is off: it would hold a second, MKL-packed copy of every weight.
- The siblings of `weight_layout` (q/k/v, gate/up) each multiply their input by their shared buffer
  under the compiler; its common-subexpression pass merges those products into one, as eager does.
- One row at a time owns the static cache (`take`): its keys and values are copied in, and copied
  back out (`give_back`) when its batch changes or it reaches `COLUMNS`.

Compiling takes ~30 s of CPU, so it runs in a background thread when a model loads (`start`). It
is mostly Python, and a 2 s generation beside it took 16 s (they share the interpreter's lock), so
it gives way (`cores.giving_way`): it pauses while a request computes or a page is served
(`views/traffic.py`) and goes on once the app has been quiet for QUIET_SECONDS (the generation then
took 1.4 s; the compile, twice its CPU). Its thread and its C++ builds run at the lowest CPU priority
(`cores.lowest_priority`), so a browser or a request on the same cores goes first. Until it is done the
steps are eager, and they stay eager if it fails (one log line). Only the steps of a batch of one
row use it: prefills, batches of several rows, and the Inside, Attention and hook views run the
model's own eager forward.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import types
import weakref

import torch
from torch._inductor import config as inductor_config
from transformers import DynamicCache
from transformers.cache_utils import Cache, StaticLayer

from .. import cache, cores, models
from .. import lm as lm_ops
from ..models import LoadedModel

ENABLED = os.environ.get("PLM_EXPLORER_COMPILE", "1") != "0"  # "0": nothing compiled, every step eager
# Static cache columns. A step reads all of them (the model repeats each key/value head for the query heads it
# serves, over every column): SmolLM2 at 128 columns 26 tok/s, 256 25, 1024 19 (eager 22). Rows longer than
# this (prompt and generated tokens) continue eager once they reach it.
COLUMNS = 128
QUIET_SECONDS = 3.0  # compiling runs only once no request has computed, nor page been served, for this long
LONGEST_PAUSE = 30.0  # ... or after pausing this long (under endless traffic it still gets done)
OPTIONS = {"freezing": True, "cpp.weight_prepack": False}  # inductor's settings while compiling (see above)

log = logging.getLogger(__name__)


class CompiledStep:
    """A model's compiled one-row forward over its own static cache, and who owns that cache."""

    def __init__(self, lm: LoadedModel):
        self.lm = lm
        self.columns = COLUMNS
        self.cache = Cache(layers=[StaticLayer(self.columns) for _ in lm_ops.decoder_layers(lm.model)])
        self._owner: weakref.ref | None = None  # the batch whose row is in the cache
        self._lock = threading.Lock()
        # torch keeps compiled graphs per code object, and a frozen graph holds its model's weights: each
        # step compiles its own copy of the code, so its graphs go when it goes (with its model)
        own = types.FunctionType(CompiledStep._eager_forward.__code__.replace(), globals())
        self._forward = torch.compile(types.MethodType(own, self), fullgraph=True, dynamic=False)

    def _eager_forward(self, ids: torch.Tensor, column: torch.Tensor) -> torch.Tensor:
        out = self.lm.model(
            input_ids=ids, past_key_values=self.cache, cache_position=column, position_ids=column[None],
            use_cache=True, logits_to_keep=1,
        )  # fmt: skip
        return out.logits[:, -1]  # (1, vocab)

    def compile(self) -> None:
        """Allocate the static cache and compile (the first call traces and builds the graph), in
        inference mode as the steps run. Shapes never change, so no later call compiles again."""
        with torch.inference_mode():
            seed = lm_ops.forward(self.lm, torch.zeros(1, 1, dtype=torch.long), DynamicCache()).past_key_values
            for layer, first in zip(self.cache.layers, seed.layers):
                layer.lazy_initialization(first.keys, first.values)  # (1, kv_heads, columns, head_dim) zeros
            while _hooked(self.lm.model):  # a view's hooks (Inside) would be traced into the graph
                time.sleep(1.0)
            with inductor_config.patch(OPTIONS):  # this thread's settings (torch.compile's `options` omit freezing)
                self._forward(torch.zeros(1, 1, dtype=torch.long), torch.tensor([0]))  # column 0: overwritten by `take`
            if _hooked(self.lm.model):  # (hooks added after it are not seen: the graph has no guard on them)
                raise RuntimeError("a view's hooks were on the model while it was traced")

    def take(self, owner: object, dynamic: DynamicCache) -> bool:
        """Load a one-row dynamic cache into the static one, for `owner` alone; False when the
        cache is another row's, or the row too long."""
        columns = dynamic.get_seq_length()
        if columns >= self.columns:
            return False
        with self._lock:
            if self._owner is not None and self._owner() is not None:
                return False
            self._owner = weakref.ref(owner)  # a batch dropped without giving back frees it too
        with torch.inference_mode():
            for static, layer in zip(self.cache.layers, dynamic.layers):
                static.keys[:, :, :columns] = layer.keys  # (1, kv_heads, columns, head_dim)
                static.values[:, :, :columns] = layer.values
                static.cumulative_length.fill_(columns)
        return True

    def step(self, token: int) -> torch.Tensor | None:
        """Feed the owner's next token: the logits after it (1, vocab); None when the cache is full."""
        column = int(self.cache.layers[0].cumulative_length)
        if column >= self.columns:
            return None
        with torch.inference_mode():
            return self._forward(torch.tensor([[token]]), torch.tensor([column]))

    def give_back(self, dynamic: Cache) -> None:
        """Copy the owner's columns back into its batch's cache (once, into buffers it grows in: `batch.
        GrowingLayer.hold`), and free the static one."""
        columns = int(self.cache.layers[0].cumulative_length)
        with torch.inference_mode():
            for static, layer in zip(self.cache.layers, dynamic.layers):  # (1, kv_heads, columns, head_dim) each
                layer.hold([static.keys[:, :, :columns]], [static.values[:, :, :columns]], columns)
        self._owner = None


def _hooked(model: torch.nn.Module) -> bool:
    return any(module._forward_hooks or module._forward_pre_hooks for module in model.modules())


_STEPS = cache.named("compiled decoding steps", capacity=8)
_ONE_AT_A_TIME = threading.Lock()  # models loaded together compile one after another


def start(lm: LoadedModel) -> threading.Thread | None:
    """Compile `lm`'s step in a background thread (if `ENABLED`); a failure leaves it eager."""
    if not ENABLED or lm.spec.kind != "causal" or lm.model.config._attn_implementation != "sdpa":
        return None  # (an "eager" attention copy serves the Attention tab, not generation)

    def work() -> None:
        torch.set_num_threads(cores.REQUEST_THREADS)  # the compiled loops are built for the scheduler thread's count
        cores.lowest_priority()  # its C++ builds too: they take the cores the requests leave
        try:
            with _ONE_AT_A_TIME, cores.RUNNING.giving_way(QUIET_SECONDS, LONGEST_PAUSE):
                started = time.perf_counter()
                step = CompiledStep(lm)
                step.compile()
            seconds = time.perf_counter() - started
            print(f"[plm-explorer] {lm.name}: decoding step compiled in {seconds:.0f} s", flush=True)
        except Exception as error:  # noqa: BLE001 - no compiler, an unsupported model: eager it is
            log.warning("%s: decoding stays eager, compiling its step failed: %s", lm.name, error)
            return
        _STEPS.put((lm.name, id(lm)), step)

    thread = threading.Thread(target=work, name=f"compile {lm.name}", daemon=True)
    thread.start()
    return thread


def ready(lm: LoadedModel) -> CompiledStep | None:
    """`lm`'s compiled step if it is ready and `ENABLED` (else the steps are eager)."""
    return _STEPS.peek((lm.name, id(lm))) if ENABLED else None


models.ON_LOAD.append(start)
