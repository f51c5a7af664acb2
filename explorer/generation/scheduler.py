"""A lecture hall at once: one scheduler per loaded model steps every request's sequence together.

A small model's forward on a CPU reads every weight once whether it feeds one row or sixteen, so
the sequences of different users share forwards: sixteen rows cost a few times one, not sixteen
(bench/generation.py). The scheduler's thread (started by the first request, ended after a quiet
spell) repeats one round:

1. drop the rows whose reader left (a stream the browser closed);
2. feed every running row its last token in one forward; each row picks its next token (the rows
   with equal controls through them together);
3. pre-fill the waiting sequences (as many as fit; a prompt pre-filled before costs no forward), and
   they pick their first tokens; they join the batch, so they run with the others from the next round on;
4. drop the rows that finished (end of text, or their token budget).

Each request's own thread reads its picks from its ticket, so streaming to each user is unchanged.
Requests beyond the batch wait in Gradio's queue (the page shows their place), not here.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator

import torch

from .. import cache, cores, malloc
from ..models import LoadedModel
from .batch import PaddedBatch
from .sequence import Pick, Sequence, picked_together

# Batching by hand: transformers' continuous batching samples inside its runner with one global
# generator and returns only the chosen token's log-probability; each request here needs its own
# seeded generator and the distribution after every control.

# Sequences per forward; 1 = each alone. 64: a lecture hall's requests overlap by dozens, and every
# row beyond a forward waits a whole generation in Gradio's queue (32 students: p95 ~17x one user's
# latency at 16 rows, ~10x at 32). A forward of many rows is compute-bound (its time grows with its
# rows), but once a round's picks and numbers were made for all rows at once (`step_numbers`), 64 rows
# served 32 students 147.5 tok/s at a p95 of 5.9x one user's latency, against 134.5 and 6.5x with 32
# (bench/load.py, Intel Xeon; without Gradio 218 against 189 tok/s, p95 3.4x against 4.3x, bench/hall.py).
# Each running stream holds one of the web server's worker threads (app.py asks for MAX_BATCH + 8).
MAX_BATCH = int(os.environ.get("PLM_EXPLORER_MAX_BATCH", "64"))
# Torch threads of a round's forwards once it feeds MANY_ROWS rows or more: by default every core the
# process may use (`cores.available_cores`; 0 = the process's own count, the app's is 1). Forwards of
# many rows are compute-bound, and a Space's cores are the app's own: on an Intel Xeon here, beside the
# web server and the 32 students' clients, two threads served a hall 1.2x the tokens per second of one
# (119.0 against 97.8, bench/load.py; on an AMD CPU here 4-5 % more). A forward of a few rows is bound
# by reading the weights, as fast on one thread as on two, so it keeps the process's count. While they
# run, MKL's thread count (process-wide) is this for the other tabs' requests too.
BATCH_THREADS = int(os.environ.get("PLM_EXPLORER_BATCH_THREADS", str(cores.available_cores())))
MANY_ROWS = 8  # from here on a forward is compute-bound: 1, 4, 16, 32 rows take 49, 91, 129, 174 ms on a thread
BATCH_TOKENS = int(os.environ.get("PLM_EXPLORER_BATCH_TOKENS", "16384"))  # rows x columns of padded cache
IDLE_SECONDS = 10.0  # a scheduler's thread ends after this long without work; the next request starts it


class Ticket:
    """One sequence in a scheduler: its picks, in order, for the request's thread to read."""

    def __init__(self, sequence: Sequence):
        self.sequence = sequence
        self.picks: queue.SimpleQueue[Pick | BaseException] = queue.SimpleQueue()
        self.left = False  # the reader stopped reading: its row is dropped at the next round


class Scheduler:
    """The batch of one model: its running rows, the sequences waiting to join, and the thread stepping them."""

    def __init__(self, lm: LoadedModel, max_batch: int = MAX_BATCH, batch_tokens: int = BATCH_TOKENS):
        self.lm = lm
        self.max_batch = max_batch  # rows in one forward
        self.batch_tokens = batch_tokens  # a newcomer waits while rows x columns would pass this
        self._waiting: deque[Ticket] = deque()
        self._rows: list[Ticket] = []  # the batch's rows, in order
        self._batch: PaddedBatch | None = None
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, sequence: Sequence) -> Ticket:
        """Queue a sequence for the next round, starting the thread if it is not running."""
        ticket = self.enqueue(sequence)
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"batch {self.lm.name}", daemon=True)
                self._thread.start()
        return ticket

    def enqueue(self, sequence: Sequence) -> Ticket:
        """Queue a sequence for the next round (run by the thread, or by calling `step`)."""
        ticket = Ticket(sequence)
        with self._lock:
            self._waiting.append(ticket)
            self._lock.notify()
        return ticket

    def step(self) -> None:
        """One round (see the module's docstring)."""
        self._keep(lambda ticket: not ticket.left)
        if self._rows:
            logits = self._batch.step([ticket.sequence.next_token for ticket in self._rows])  # (rows, vocab)
            for ticket, pick in zip(self._rows, picked_together([t.sequence for t in self._rows], logits)):
                ticket.picks.put(pick)
        joining = self._admit()
        if joining:
            try:
                self._join(joining)
            except Exception as error:  # noqa: BLE001 - the newcomers hear of it; the running rows go on
                for ticket in joining:
                    ticket.picks.put(error)
        self._keep(lambda ticket: not ticket.sequence.finished)

    def _join(self, joining: list[Ticket]) -> None:
        """Pre-fill the newcomers, hand them their first picks, and add their rows to the batch."""
        sequences = [ticket.sequence for ticket in joining]
        batch, logits = PaddedBatch.prefill(self.lm, [s.tokens for s in sequences], max(s.keep for s in sequences))
        for row, ticket in enumerate(joining):  # logits: (newcomers, keep, vocab)
            for pick in ticket.sequence.prefilled(logits[row, -ticket.sequence.keep :]):
                ticket.picks.put(pick)
        if self._batch is None:
            self._batch = batch
        else:
            self._batch.join(batch)
        self._rows = self._rows + joining

    def rows_to_feed(self) -> int:
        """The rows of the next round's forwards: the running ones and the waiting ones that may join."""
        with self._lock:
            return min(len(self._rows) + len(self._waiting), self.max_batch)

    def _admit(self) -> list[Ticket]:
        """The waiting sequences that fit, oldest first: rows up to `max_batch`, padded cache up to
        `batch_tokens` (a sequence alone always fits)."""
        rows = len(self._rows)
        columns = self._batch.mask.shape[1] if self._batch is not None else 0
        admitted = []
        with self._lock:
            while self._waiting and rows < self.max_batch:
                ticket = self._waiting[0]
                wider = max(columns, len(ticket.sequence.tokens))
                if not ticket.left and rows and (rows + 1) * wider > self.batch_tokens:
                    break
                self._waiting.popleft()
                if not ticket.left:
                    admitted.append(ticket)
                    rows, columns = rows + 1, wider
        return admitted

    def _keep(self, wanted: Callable[[Ticket], bool]) -> None:
        kept = [row for row, ticket in enumerate(self._rows) if wanted(ticket)]
        if len(kept) == len(self._rows):
            return
        self._rows = [self._rows[row] for row in kept]
        if kept:
            self._batch.keep_rows(kept)
        else:
            self._batch = None

    def _run(self) -> None:
        threads = cores.REQUEST_THREADS  # set, not inherited: see explorer/cores.py
        torch.set_num_threads(threads)
        while self._has_work():
            try:
                torch.set_num_threads((BATCH_THREADS or threads) if self.rows_to_feed() >= MANY_ROWS else threads)
                self.step()
            except Exception as error:  # noqa: BLE001 - every running sequence hears of it; the thread goes on
                for ticket in self._rows:
                    ticket.picks.put(error)
                self._rows, self._batch = [], None
            finally:
                torch.set_num_threads(threads)  # between rounds, the process's own count again

    def _has_work(self) -> bool:
        """Wait for work; after `IDLE_SECONDS` without any, end the thread (False), giving the freed
        caches back to the system (explorer/malloc.py; not sooner: re-faulting them would slow a hall)."""
        with self._lock:
            while not (self._rows or self._waiting):
                if not self._lock.wait(IDLE_SECONDS) and not self._waiting:
                    self._thread = None
                    malloc.give_back()
                    return False
            return True


_SCHEDULERS = cache.named("generation schedulers", capacity=8)


def for_model(lm: LoadedModel) -> Scheduler:
    """The model's scheduler (made on first use; dropped with the model, its thread ends when idle).
    Keyed by the loaded object too: test models share names, and one name may load twice (attention kinds)."""
    return _SCHEDULERS.get((lm.name, id(lm)), lambda: Scheduler(lm))


def decode(lm: LoadedModel, sequence: Sequence) -> Iterator[Pick]:
    """A sequence's picks as its forwards give them: batched with other requests' by the model's
    scheduler, or alone in the calling thread when `MAX_BATCH` is 1. Closing the iterator early
    (a client that left) frees the row at the scheduler's next round."""
    if MAX_BATCH <= 1:
        yield from decode_alone(lm, sequence)
        return
    ticket = for_model(lm).submit(sequence)
    try:
        while True:
            pick = ticket.picks.get()
            if isinstance(pick, BaseException):
                raise pick
            yield pick
            if pick.finish:
                return
    finally:
        ticket.left = True


def decode_alone(lm: LoadedModel, sequence: Sequence) -> Iterator[Pick]:
    """One sequence, one row per forward, in the calling thread."""
    batch, logits = PaddedBatch.prefill(lm, [sequence.tokens], sequence.keep)  # (1, keep, vocab)
    yield from sequence.prefilled(logits[0])
    while not sequence.finished:
        yield sequence.stepped(batch.step([sequence.next_token]))
