"""The scheduler: a request's tokens and probabilities are the same batched with 15 or 31 others as alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from explorer import generation as g
from explorer import models
from explorer.generation import scheduler
from explorer.generation.sequence import Sequence

from builders import tiny_gemma, tiny_llama

SAMPLED = g.SamplingSettings(do_sample=True, temperature=0.8, top_k=30, top_p=0.95, repetition_penalty=1.2)
PROMPTS = ["Once", "The capital of France is Paris. The capital of", "low lower", "台湾大学是", "new wide 01"]


@pytest.fixture(scope="module", params=["llama", "gemma"])
def lm(request):
    return tiny_llama() if request.param == "llama" else tiny_gemma()


def make(lm, i: int, eos: frozenset[int] = frozenset()) -> Sequence:
    """The i-th of a varied lot: prompts of 2 to 14 tokens, greedy and sampled, a branch, a peek."""
    settings = SAMPLED if i % 2 else g.SamplingSettings()
    prompt_ids = g.encode_prompt(lm, PROMPTS[i % len(PROMPTS)])[1]
    if i % 7 == 3:  # a peek (/next_token)
        return Sequence(prompt_ids, SAMPLED.controls())
    forced = (5 + i, 9) if i % 5 == 2 else ()  # a branch
    return Sequence(
        prompt_ids,
        settings.controls(),
        forced_ids=forced,
        max_new_tokens=4 + 3 * (i % 6),
        do_sample=settings.do_sample,
        seed=i,
        eos_ids=eos,
    )


def drain(ticket) -> list:
    picks = []
    while not ticket.picks.empty():
        picks.append(ticket.picks.get())
    return picks


def assert_same(alone, batched, tolerance=1e-4):
    """Same tokens, same ends, and every step's numbers within `tolerance`: the chosen token's probability
    after every stage, the top candidates' (sorted: two candidates within a float's rounding of each
    other may trade places) and the entropies (which read every probability of the distribution)."""
    assert [(p.token_id, p.forced, p.finish) for p in batched] == [(p.token_id, p.forced, p.finish) for p in alone]
    for a, b in zip(alone, batched):
        mine, theirs = a.numbers, b.numbers
        assert (mine.chosen is None) == (theirs.chosen is None) and len(mine.top_ids) == len(theirs.top_ids)
        pairs = [(mine.chosen or [], theirs.chosen or []), (sorted(mine.top_probs), sorted(theirs.top_probs))]
        pairs.append(([mine.entropy_raw, mine.entropy], [theirs.entropy_raw, theirs.entropy]))
        for expected, got in pairs:
            assert torch.allclose(torch.tensor(got), torch.tensor(expected), atol=tolerance, rtol=0)


@pytest.mark.parametrize("size", [16, 32])
def test_many_joining_at_different_steps_equal_each_alone(lm, size):
    alone = [list(scheduler.decode_alone(lm, make(lm, i))) for i in range(size)]
    # Some stop early at an end-of-text id: the token each would pick third (or first) alone.
    eos = {i: frozenset({alone[i][-1].token_id if len(alone[i]) < 3 else alone[i][2].token_id}) for i in (0, 5, 9)}
    alone = [list(scheduler.decode_alone(lm, make(lm, i, eos.get(i, frozenset())))) for i in range(size)]
    assert {alone[i][-1].finish for i in eos} == {"eos"}
    batch = scheduler.Scheduler(lm, max_batch=size)
    tickets, joined_at = {}, {i: i // 3 for i in range(size)}  # three newcomers per round
    rows_seen = []
    for round_ in range(40):
        for i in [i for i, r in joined_at.items() if r == round_]:
            tickets[i] = batch.enqueue(make(lm, i, eos.get(i, frozenset())))
        batch.step()
        rows_seen.append(len(batch._rows))
    assert max(rows_seen) >= 8 and rows_seen[-1] == 0  # shared forwards, and every sequence left when done
    for i in range(size):
        assert_same(alone[i], drain(tickets[i]))


def test_a_full_batch_makes_newcomers_wait_for_a_free_row(lm):
    batch = scheduler.Scheduler(lm, max_batch=2)
    tickets = [batch.enqueue(make(lm, i)) for i in (0, 4, 6)]  # 4, 16 and 4 new tokens
    batch.step()
    assert len(batch._rows) == 2 and tickets[2].picks.empty()
    for _ in range(5):
        batch.step()
    assert len(drain(tickets[0])) == 4 and not tickets[2].picks.empty()  # the first left, the third joined


def test_the_rows_of_the_next_round_count_the_running_and_the_joining_up_to_the_batch(lm):
    """What picks the round's torch threads (BATCH_THREADS from MANY_ROWS rows on)."""
    batch = scheduler.Scheduler(lm, max_batch=3)
    assert batch.rows_to_feed() == 0
    for i in (0, 4):
        batch.enqueue(make(lm, i))
    assert batch.rows_to_feed() == 2
    batch.step()
    batch.enqueue(make(lm, 6))
    batch.enqueue(make(lm, 8))
    assert len(batch._rows) == 2 and batch.rows_to_feed() == 3


def test_the_padded_cache_budget_holds_back_a_long_newcomer(lm):
    short, long = make(lm, 0), make(lm, 1)
    batch = scheduler.Scheduler(lm, max_batch=16, batch_tokens=2 * len(long.tokens) - 1)
    batch.enqueue(short)
    second = batch.enqueue(long)
    batch.step()
    assert len(batch._rows) == 1 and second.picks.empty()  # 2 rows as wide as the long one would not fit
    while batch._rows:
        batch.step()
    batch.step()
    assert not second.picks.empty()  # alone, it always fits


def test_a_reader_that_leaves_frees_its_row_at_the_next_step(lm):
    batch = scheduler.Scheduler(lm, max_batch=4)
    stays, leaves = batch.enqueue(make(lm, 4)), batch.enqueue(make(lm, 16))  # 16 new tokens each
    batch.step()
    batch.step()
    leaves.left = True
    batch.step()
    assert batch._rows == [stays]
    assert_same(list(scheduler.decode_alone(lm, make(lm, 4)))[:3], drain(stays))


def test_a_failing_forward_reaches_its_readers_and_the_scheduler_goes_on(lm):
    batch = scheduler.Scheduler(lm)
    bad = Sequence([len(lm.tokenizer) + 50], [], max_new_tokens=2)  # an id past the embedding table
    with pytest.raises(IndexError):
        list(_read(batch, bad))
    assert [p.token_id for p in _read(batch, make(lm, 0))] == [
        p.token_id for p in scheduler.decode_alone(lm, make(lm, 0))
    ]


def _read(batch, sequence):
    ticket = batch.submit(sequence)
    while True:
        pick = ticket.picks.get(timeout=30)
        if isinstance(pick, BaseException):
            raise pick
        yield pick
        if pick.finish:
            return


@pytest.mark.parametrize("batch_threads", [1, 2])
def test_streams_from_many_threads_equal_their_lone_runs(lm, monkeypatch, batch_threads):
    """Through the scheduler's thread, as the app runs it: eight readers at once (their rounds on one
    thread, or on two: PLM_EXPLORER_BATCH_THREADS; the rounds of fewer than MANY_ROWS on the process's count)."""
    monkeypatch.setattr(scheduler, "BATCH_THREADS", batch_threads)
    monkeypatch.setattr(scheduler, "MANY_ROWS", 4)
    threads = torch.get_num_threads()
    requests = [
        g.GenerationRequest(PROMPTS[i % 5], SAMPLED if i % 2 else g.SamplingSettings(), 5 + i, seed=i) for i in range(8)
    ]
    monkeypatch.setattr(scheduler, "MAX_BATCH", 1)
    alone = [g.generate(lm, r) for r in requests]
    monkeypatch.setattr(scheduler, "MAX_BATCH", 16)
    start = threading.Barrier(8)

    def run(request):
        start.wait()
        return g.generate(lm, request)

    with ThreadPoolExecutor(8) as pool:
        batched = list(pool.map(run, requests))
    for a, b in zip(alone, batched):
        assert [s.token_id for s in b.steps] == [s.token_id for s in a.steps]
        assert [s.prob for s in b.steps] == pytest.approx([s.prob for s in a.steps], abs=1e-4)
        assert b.text == a.text and b.finish_reason == a.finish_reason
    assert torch.get_num_threads() == threads  # the readers' own count is untouched


def test_a_closed_stream_leaves_the_batch(lm):
    stream = g.stream_generation(lm, g.GenerationRequest("Once", max_new_tokens=100))
    next(stream)
    running = scheduler.for_model(lm)
    stream.close()  # what Gradio does when the browser goes away
    for _ in range(100):
        if not running._rows:
            break
        threading.Event().wait(0.05)
    assert not running._rows


@pytest.fixture
def one_thread():
    """One torch thread, as the app runs (two fight over a busy machine's cores: ten times slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", [models.BUNDLED_NAME, models.GEMMA_NAME])
def test_bundled_models_batched_equal_alone(name, one_thread):
    """SmolLM2 and Gemma 3 270M (sliding-window layers): four sequences, two joining a round later."""
    bundled = models.get(name)
    alone = [list(scheduler.decode_alone(bundled, make(bundled, i))) for i in range(4)]
    batch = scheduler.Scheduler(bundled)
    tickets = [batch.enqueue(make(bundled, i)) for i in range(2)]
    batch.step()
    tickets += [batch.enqueue(make(bundled, i)) for i in range(2, 4)]
    while batch._rows or len(batch._waiting):
        batch.step()
    for i in range(4):
        assert_same(alone[i], drain(tickets[i]))
