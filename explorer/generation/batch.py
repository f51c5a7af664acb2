"""Several sequences in one forward: a left-padded batch sharing one key/value cache.

Row i holds one sequence's tokens, right-aligned: pads on the left, then its real tokens, so the
newest token of every row sits in the last column and one forward feeds one new token per row.
Three tensors describe the batch:

- the cache: per layer, keys and values (rows, kv_heads, columns, head_dim), the first columns of
  wider buffers that each step writes its column into (`GrowingLayer`);
- `mask` (rows, columns): 1 over real tokens, 0 over pads, so no token attends to a pad;
- `positions` (rows,): the position id each row's next token gets (its count of real tokens), so
  a padded row computes exactly what it would alone.

Rows are pre-filled one by one (each prompt's forward kept: a hall's students share the lecturer's),
join (the shorter side padded on the left) and leave (their rows are dropped, then the columns that
became padding for every row) between steps.

A row alone steps through the model's compiled forward once it is ready (`compiled_step`): its
keys and values move into that forward's static cache until the batch changes.

The cache has a plain (full) layer for every layer, sliding-window ones included: the model builds
its own sliding-window mask over the cache's columns, and since a row's real tokens are contiguous,
column distances equal position distances. (A sliding cache layer would cut columns by count,
pads included.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers.cache_utils import Cache, DynamicLayer

from .. import lm as lm_ops
from ..models import LoadedModel
from . import compiled_step


class PaddedBatch:
    def __init__(self, lm: LoadedModel, cache: Cache, mask: torch.Tensor, positions: torch.Tensor):
        self.lm = lm
        self.cache = cache
        self.mask = mask  # (rows, columns) 1 = real token
        self.positions = positions  # (rows,) the next token's position id
        self._static: compiled_step.CompiledStep | None = None  # holds the cache while one row is alone

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    @classmethod
    def prefill(cls, lm: LoadedModel, token_lists: list[list[int]], keep: int = 1) -> tuple[PaddedBatch, torch.Tensor]:
        """Each list of tokens as one row, left-padded to the longest: the batch, and the logits of each
        row's last `keep` positions (rows, keep, vocab; zeros before a row's first token).

        Each row's forward runs alone and is kept (`lm.cached_prefill`): students who send the same
        prompt (the lecturer's) share one forward, which in a lecture hall is most of the pre-filling.
        The rows' keys and values are then padded on the left and stacked, as `join` does."""
        runs = [lm_ops.cached_prefill(lm, tokens, min(keep, len(tokens))) for tokens in token_lists]
        width = max(len(tokens) for tokens in token_lists)
        mask = torch.tensor([[0] * (width - len(t)) + [1] * len(t) for t in token_lists])  # (rows, width)
        cache = Cache(layers=[GrowingLayer() for _ in runs[0][1].layers])
        for layer, *rows in zip(cache.layers, *(past.layers for _, past in runs)):
            layer.hold([row.keys for row in rows], [row.values for row in rows], width)
        logits = torch.stack([_left_pad(logits, keep, 0) for logits, _ in runs])  # (rows, keep, vocab)
        return cls(lm, cache, mask, mask.sum(-1)), logits

    def step(self, tokens: list[int]) -> torch.Tensor:
        """Feed one token per row: the logits after it (rows, vocab)."""
        self.mask = F.pad(self.mask, (0, 1), value=1)  # (rows, columns + 1)
        logits = self._compiled_step(tokens)
        if logits is None:
            ids, positions = torch.tensor(tokens)[:, None], self.positions[:, None]  # (rows, 1) each
            out = lm_ops.forward(self.lm, ids, self.cache, attention_mask=self.mask, position_ids=positions)
            logits = out.logits[:, -1]  # (rows, vocab)
        self.positions = self.positions + 1
        return logits

    def _compiled_step(self, tokens: list[int]) -> torch.Tensor | None:
        """A lone row's step through its model's compiled forward, when that is ready and free
        (the row's keys and values move into its static cache for as long as the row is alone)."""
        if self._static is None:
            compiled = compiled_step.ready(self.lm)
            if self.rows > 1 or compiled is None or not compiled.take(self, self.cache):
                return None
            self._static = compiled
        logits = self._static.step(tokens[0])  # (1, vocab)
        if logits is None:  # the static cache is full: eager from here on
            self._leave_static()
        return logits

    def _leave_static(self) -> None:
        """Move the row's keys and values back into the dynamic cache (before the batch changes)."""
        if self._static is not None:
            self._static.give_back(self.cache)
            self._static = None

    def join(self, other: PaddedBatch) -> None:
        """Append `other`'s rows below these, padding whichever is shorter on the left."""
        self._leave_static()
        other._leave_static()
        columns = max(self.mask.shape[1], other.mask.shape[1])
        for mine, theirs in zip(self.cache.layers, other.cache.layers):
            mine.hold([mine.keys, theirs.keys], [mine.values, theirs.values], columns)
        self.mask = torch.cat([_left_pad(self.mask, columns, 1), _left_pad(other.mask, columns, 1)])
        self.positions = torch.cat([self.positions, other.positions])

    def keep_rows(self, rows: list[int]) -> None:
        """Drop every row not listed (at least one stays), then the leading columns no remaining row uses."""
        self._leave_static()
        index = torch.tensor(rows, dtype=torch.long)
        self.mask, self.positions = self.mask[index], self.positions[index]
        unused = int(self.mask.any(0).long().argmax())  # the first column some row uses
        self.mask = self.mask[:, unused:]
        for layer in self.cache.layers:
            layer.keep(index, unused)


def _left_pad(tensor: torch.Tensor, columns: int, dim: int) -> torch.Tensor:
    """Zeros on the left of `dim` up to `columns` (a mask's dim 1 is its columns, logits' dim 0 their positions)."""
    missing = columns - tensor.shape[dim]
    if not missing:
        return tensor
    widths = [0, 0] * (tensor.dim() - 1 - dim) + [missing, 0]  # F.pad lists the last dim first
    return F.pad(tensor, widths)


class GrowingLayer(DynamicLayer):
    """transformers' DynamicLayer, but its keys and values are the first columns of wider buffers, so a
    step writes its new column in place: DynamicLayer concatenates, copying the whole cache every step
    (13 % of a 32-row step of SmolLM2 at 50 columns). A layer is filled by `hold` (rows pre-filled,
    joining, or given back by the compiled step) and loses rows by `keep`, each copying once into new
    buffers with room for HEADROOM more columns; a step past that room copies into wider ones."""

    HEADROOM = 16
    _buffers: tuple[torch.Tensor, torch.Tensor]  # (keys, values), set by `hold` before any update

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        used, new = self.get_seq_length(), key_states.shape[-2]
        if used + new > self._buffers[0].shape[-2]:  # full: the used columns into wider buffers
            wider = tuple(_stacked([old], used, used + new + self.HEADROOM) for old in (self.keys, self.values))
            self._hold_first(wider, used)
        for buffer, fresh in zip(self._buffers, (key_states, value_states)):
            buffer[:, :, used : used + new] = fresh
        self._hold_first(self._buffers, used + new)
        return self.keys, self.values

    def hold(self, keys: list[torch.Tensor], values: list[torch.Tensor], columns: int) -> None:
        """Hold these blocks of rows (rows_i, kv_heads, columns_i, head_dim) stacked in order, each
        right-aligned in `columns` columns, zeros on its left (pads: masked, but never NaN)."""
        if not self.is_initialized:
            self.lazy_initialization(keys[0], values[0])
        buffers = tuple(_stacked(blocks, columns, columns + self.HEADROOM) for blocks in (keys, values))
        self._hold_first(buffers, columns)

    def keep(self, rows: torch.Tensor, unused: int) -> None:
        """Keep only these rows (ascending), without their first `unused` columns."""
        columns = self.get_seq_length() - unused
        buffers = tuple(
            old.new_empty(len(rows), old.shape[1], columns + self.HEADROOM, old.shape[3])
            for old in (self.keys, self.values)
        )  # (kept rows, kv_heads, columns + headroom, head_dim) each
        for buffer, old in zip(buffers, (self.keys, self.values)):
            torch.index_select(old[:, :, unused:], 0, rows, out=buffer[:, :, :columns])  # one copy, no temporary
        self._hold_first(buffers, columns)

    def _hold_first(self, buffers: tuple[torch.Tensor, torch.Tensor], columns: int) -> None:
        self._buffers = buffers
        self.keys, self.values = (buffer[:, :, :columns] for buffer in buffers)  # views: no copy


def _stacked(blocks: list[torch.Tensor], columns: int, width: int) -> torch.Tensor:
    """A new buffer of `width` columns: the blocks' rows in order, each block's columns ending at `columns`."""
    first = blocks[0]
    buffer = first.new_empty(sum(len(block) for block in blocks), first.shape[1], width, first.shape[3])
    row = 0
    for block in blocks:
        pads = columns - block.shape[2]
        buffer[row : row + len(block), :, :pads].zero_()
        buffer[row : row + len(block), :, pads:columns] = block
        row += len(block)
    return buffer
