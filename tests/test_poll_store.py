"""The in-memory poll store: codes, one vote per voter, the limits, expiry on an injected clock, threads."""

from __future__ import annotations

import threading

import pytest

from explorer.checks import ExplorerError
from explorer.poll import store
from explorer.poll.questions import Question
from explorer.poll.store import MAX_OPEN, MAX_VOTES, PollStore

QUESTION = Question("Which token comes next?", ("Paris", "Lyon", "the"), (0.6, 0.1, 0.05), 0, "probability")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def polls(clock) -> PollStore:
    return PollStore(clock)


def voter(i: int) -> str:
    return f"voter-{i:04d}"


def test_codes_are_short_unambiguous_and_distinct(polls):
    codes = {polls.open(QUESTION).code for _ in range(40)}
    assert len(codes) == 40
    for code in codes:
        assert len(code) == store.CODE_LENGTH and set(code) <= set(store.CODE_ALPHABET)
        assert not set(code) & set("01OIL")


def test_votes_are_counted_per_option_and_a_code_may_be_typed_loosely(polls):
    poll = polls.open(QUESTION)
    polls.vote(poll.code, 0, voter(1))
    polls.vote(f" {poll.code.lower()} ", 2, voter(2))
    polls.vote(poll.code, 0, voter(3))
    tally = polls.tally(poll.code, poll.key)
    assert tally.votes == [2, 0, 1] and tally.total == 3 and tally.open
    assert tally.model_probs is None and tally.model_answer is None  # not before the reveal


def test_one_vote_per_voter(polls):
    poll = polls.open(QUESTION)
    polls.vote(poll.code, 0, voter(1))
    with pytest.raises(ExplorerError, match="already voted"):
        polls.vote(poll.code, 1, voter(1))
    assert polls.tally(poll.code, poll.key).votes == [1, 0, 0]
    assert polls.has_voted(poll.code, voter(1)) and not polls.has_voted(poll.code, voter(2))


def test_reveal_closes_the_poll_and_shows_the_models_numbers(polls):
    poll = polls.open(QUESTION)
    polls.vote(poll.code, 1, voter(1))
    tally = polls.tally(poll.code, poll.key, reveal=True)
    assert tally.revealed and not tally.open
    assert tally.model_probs == [0.6, 0.1, 0.05] and tally.model_answer == 0 and tally.measure == "probability"
    with pytest.raises(ExplorerError, match="closed"):
        polls.vote(poll.code, 0, voter(2))
    assert polls.tally(poll.code, poll.key).votes == [0, 1, 0]


def test_the_tally_needs_the_key(polls):
    poll = polls.open(QUESTION)
    for key in ("", "guess", poll.key[:-1], None, ["x"]):
        with pytest.raises(ExplorerError, match="key"):
            polls.tally(poll.code, key)


@pytest.mark.parametrize("code", ["", "ABC", "K7QX2O", "K7QX2MM", None, 12, ["K7QX2M"], "<script>"])
def test_a_malformed_code_is_refused_clearly(polls, code):
    with pytest.raises(ExplorerError, match="not a poll code.*e.g."):
        polls.ballot(code)


def test_a_forged_code_is_unknown(polls):
    real = polls.open(QUESTION).code
    forged = next(c for c in ("K7QX2M", "K7QX2N") if c != real)
    with pytest.raises(ExplorerError, match="No poll has the code"):
        polls.vote(forged, 0, voter(1))


@pytest.mark.parametrize("who", ["", "short", "x" * 65, "has space!", "<script>alert(1)</script>", None, 12345678])
def test_a_bad_voter_id_is_refused(polls, who):
    poll = polls.open(QUESTION)
    with pytest.raises(ExplorerError, match="voter must be"):
        polls.vote(poll.code, 0, who)
    assert polls.tally(poll.code, poll.key).total == 0


@pytest.mark.parametrize("option", [-1, 3, 1.5, "x", None, True])
def test_an_option_out_of_range_is_refused(polls, option):
    poll = polls.open(QUESTION)
    with pytest.raises(ExplorerError, match="option"):
        polls.vote(poll.code, option, voter(1))
    assert polls.tally(poll.code, poll.key).total == 0


def test_at_most_max_votes(polls):
    poll = polls.open(QUESTION)
    for i in range(MAX_VOTES):
        polls.vote(poll.code, i % 3, voter(i))
    with pytest.raises(ExplorerError, match="full"):
        polls.vote(poll.code, 0, voter(MAX_VOTES))
    assert polls.tally(poll.code, poll.key).total == MAX_VOTES


def test_opening_one_more_than_max_open_closes_the_oldest(polls):
    opened = [polls.open(QUESTION) for _ in range(MAX_OPEN + 1)]
    assert not polls.ballot(opened[0].code).open
    assert all(polls.ballot(p.code).open for p in opened[1:])
    with pytest.raises(ExplorerError, match="closed"):
        polls.vote(opened[0].code, 0, voter(1))
    assert polls.tally(opened[0].code, opened[0].key).total == 0  # still readable


def test_at_most_max_kept_polls(polls):
    first = polls.open(QUESTION)
    for _ in range(store.MAX_KEPT):
        polls.open(QUESTION)
    with pytest.raises(ExplorerError, match="expired"):
        polls.ballot(first.code)


def test_polls_expire_after_two_hours(polls, clock):
    poll = polls.open(QUESTION)
    clock.now += store.EXPIRY_SECONDS - 1
    polls.vote(poll.code, 0, voter(1))
    assert polls.tally(poll.code, poll.key).expires_in == pytest.approx(1)
    clock.now += 2
    with pytest.raises(ExplorerError, match="expired"):
        polls.vote(poll.code, 0, voter(2))
    with pytest.raises(ExplorerError, match="expired"):
        polls.tally(poll.code, poll.key)
    clock.now += store.REMEMBER_EXPIRED_SECONDS + 1  # long forgotten: an unknown code
    with pytest.raises(ExplorerError, match="No poll has the code"):
        polls.ballot(poll.code)


def test_concurrent_votes_are_counted_exactly(polls):
    poll = polls.open(QUESTION)
    n_threads, per_thread = 20, 25  # 500 votes, each voter voting twice at once
    barrier = threading.Barrier(n_threads)
    refused = []

    def cast(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            who = voter(t * per_thread + i)
            for _ in range(2):
                try:
                    polls.vote(poll.code, (t + i) % 3, who)
                except ExplorerError:
                    refused.append(who)

    threads = [threading.Thread(target=cast, args=(t,)) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally = polls.tally(poll.code, poll.key)
    assert tally.total == sum(tally.votes) == n_threads * per_thread == MAX_VOTES
    assert len(refused) == n_threads * per_thread  # every second vote, and nothing else
    expected = [sum(1 for t in range(n_threads) for i in range(per_thread) if (t + i) % 3 == k) for k in range(3)]
    assert tally.votes == expected
