"""The class polls, in the app's memory: a question frozen by the lecturer, one vote per voter, revealed.

Nothing is written to disk and nothing identifies a voter beyond the random id its browser keeps
(an API voter chooses its own). Limits keep the store small whatever arrives:
- at most MAX_OPEN polls open at once: opening one more closes the oldest open one (its tally stays
  readable), so a lecture never gets stuck on a forgotten poll;
- at most MAX_VOTES votes a poll, one per voter id (a second vote is refused, never counted);
- a poll expires EXPIRY_SECONDS after it opened; its code then says "expired" for a day, and at most
  MAX_KEPT polls (open or closed) are kept at all.
A code is CODE_LENGTH characters of an alphabet without look-alikes (no 0/O, 1/I/L), drawn with
`secrets`: 31⁶ ≈ 887 million codes for at most MAX_KEPT live ones. Reading the tally and revealing it
needs the poll's `key`, a secret handed only to whoever opened it: students can vote, not peek.

Why not `cache.named` or `cache.Expiring`: an LRU evicts silently by recency and its keys start with
a model's name, and Expiring holds one value; a poll needs refusals that say why, a clock of its
own (tests inject one) and changes under the lock (votes), so the store is a dict behind one lock.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import checks
from ..checks import ExplorerError
from .questions import Question

MAX_OPEN = 10
MAX_KEPT = 50
MAX_VOTES = 500
EXPIRY_SECONDS = 2 * 60 * 60
REMEMBER_EXPIRED_SECONDS = 24 * 60 * 60  # how long an expired code still reads "expired", not "unknown"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a projector, typed on a phone
CODE_LENGTH = 6
MAX_VOTER_CHARS = 64
CODE_EXAMPLE = "K7QX2M"


@dataclass
class Poll:
    code: str
    key: str  # the lecturer's secret: needed to read the tally and to reveal
    question: Question
    opened: float  # on the store's clock
    votes: dict[str, int] = field(default_factory=dict)  # voter id -> option index
    open: bool = True


@dataclass
class Ballot:
    """What a student sees: the question and its options, nothing of the tally."""

    code: str
    question: str
    options: list[str]
    open: bool


@dataclass
class Tally:
    """What the lecturer sees: the votes per option and, once revealed, the model's own numbers."""

    code: str
    question: str
    options: list[str]
    votes: list[int]
    total: int
    open: bool
    revealed: bool
    expires_in: float  # seconds
    model_probs: list[float] | None = None  # set once revealed
    model_answer: int | None = None  # the option the model (or the algorithm) picks, once revealed
    measure: str = ""  # what `model_probs` are, once revealed


class PollStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._polls: dict[str, Poll] = {}  # in the order opened
        self._expired: dict[str, float] = {}  # code -> when it expired
        self._lock = threading.Lock()

    def open(self, question: Question) -> Poll:
        """A new poll of `question`, with a fresh code and key (closing the oldest open one past MAX_OPEN)."""
        with self._lock:
            self._forget_expired()
            code = _new_code(taken=self._polls.keys() | self._expired.keys())
            poll = Poll(code, secrets.token_urlsafe(16), question, self._clock())
            self._polls[code] = poll
            open_polls = [p for p in self._polls.values() if p.open]
            for oldest in open_polls[: max(0, len(open_polls) - MAX_OPEN)]:
                oldest.open = False
            while len(self._polls) > MAX_KEPT:
                dropped = next(iter(self._polls))
                self._expired[dropped] = self._clock()
                del self._polls[dropped]
            return poll

    def ballot(self, code) -> Ballot:
        with self._lock:
            poll = self._find(code)
            return Ballot(poll.code, poll.question.text, list(poll.question.options), poll.open)

    def vote(self, code, option, voter) -> int:
        """Count `voter`'s vote for option number `option` (0-based), once; the option counted."""
        voter = _voter_id(voter)
        with self._lock:
            poll = self._find(code)
            option = checks.number(option, "option", 0, len(poll.question.options) - 1, integer=True)
            if not poll.open:
                raise ExplorerError(
                    "Poll {code} is closed: its answers were revealed (or a newer poll replaced it); "
                    "votes are allowed only while a poll is open.",
                    code=poll.code,
                )
            if voter in poll.votes:
                raise ExplorerError(
                    "Voter {voter!r} has already voted in poll {code}; one vote is allowed per voter (per browser on the poll page).",
                    voter=voter,
                    code=poll.code,
                )
            if len(poll.votes) >= MAX_VOTES:
                raise ExplorerError(
                    "Poll {code} is full: it has {limit} votes, the limit for one poll.",
                    code=poll.code,
                    limit=MAX_VOTES,
                )
            poll.votes[voter] = option
            return option

    def has_voted(self, code, voter) -> bool:
        voter = _voter_id(voter)
        with self._lock:
            return voter in self._find(code).votes

    def tally(self, code, key, reveal: bool = False) -> Tally:
        """The votes so far; `reveal` closes the poll and adds the model's own numbers."""
        with self._lock:
            poll = self._find(code)
            if not isinstance(key, str) or not secrets.compare_digest(key.encode(), poll.key.encode()):
                raise ExplorerError(
                    "key does not match poll {code}: it must be the key /poll_create returned with the code "
                    "(only whoever opened a poll may read its tally).",
                    code=poll.code,
                )
            if reveal:
                poll.open = False
            question = poll.question
            counts = [0] * len(question.options)
            for option in poll.votes.values():
                counts[option] += 1
            revealed = not poll.open
            return Tally(
                code=poll.code,
                question=question.text,
                options=list(question.options),
                votes=counts,
                total=len(poll.votes),
                open=poll.open,
                revealed=revealed,
                expires_in=max(0.0, poll.opened + EXPIRY_SECONDS - self._clock()),
                model_probs=list(question.probs) if revealed else None,
                model_answer=question.answer if revealed else None,
                measure=question.measure if revealed else "",
            )

    # ------------------------------------------------------------ under the lock

    def _find(self, code) -> Poll:
        """The live poll with this code, or a message saying whether the code is malformed, expired or unknown."""
        self._forget_expired()
        code = _normalised(code)
        if code in self._expired:
            raise ExplorerError(
                "Poll {code} has expired (polls last {hours} hours); ask the lecturer for a new code.",
                code=code,
                hours=EXPIRY_SECONDS // 3600,
            )
        if code not in self._polls:
            raise ExplorerError(
                "No poll has the code {code}; check the code (it must be {n} letters or digits, e.g. {example}) "
                "or ask the lecturer for the current one.",
                code=code,
                n=CODE_LENGTH,
                example=CODE_EXAMPLE,
            )
        return self._polls[code]

    def _forget_expired(self) -> None:
        now = self._clock()
        for code in [c for c, p in self._polls.items() if now - p.opened > EXPIRY_SECONDS]:
            del self._polls[code]
            self._expired[code] = now
        for code in [c for c, when in self._expired.items() if now - when > REMEMBER_EXPIRED_SECONDS]:
            del self._expired[code]


def _new_code(taken) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken:
            return code


def _normalised(code) -> str:
    """A code as typed ('k7qx2m ', 'K7QX2M') in its one spelling, or a message if it cannot be one."""
    if isinstance(code, str):
        cleaned = code.strip().upper()
        if len(cleaned) == CODE_LENGTH and all(c in CODE_ALPHABET for c in cleaned):
            return cleaned
    raise ExplorerError(
        "{code!r} is not a poll code: a code must be {n} letters or digits (no 0, O, 1, I or L), e.g. {example}.",
        code=str(code)[:20],
        n=CODE_LENGTH,
        example=CODE_EXAMPLE,
    )


def is_voter_id(voter) -> bool:
    """8 to MAX_VOTER_CHARS letters, digits, '-' or '_': a browser's random id, or an API voter's own."""
    return (
        isinstance(voter, str)
        and 8 <= len(voter) <= MAX_VOTER_CHARS
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in voter)
    )


def _voter_id(voter) -> str:
    if is_voter_id(voter):
        return voter
    raise ExplorerError(
        "voter must be an id of 8 to {limit} letters, digits, '-' or '_' (e.g. a random UUID), "
        "the same for every vote of one person; got {voter!r}.",
        limit=MAX_VOTER_CHARS,
        voter=str(voter)[:20],
    )


STORE = PollStore()  # the app's polls
