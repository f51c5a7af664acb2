"""Class polls (predict, then reveal): a question frozen from a tab, answered by the class, revealed
beside the model's own probabilities.

- `questions`: a question and the model's answer built from a tab's compute (next token, ICL label,
  next BPE merge) or typed by the lecturer;
- `store`: the in-memory polls, their codes, limits and expiry, one vote per voter.
"""

from .questions import MAX_OPTIONS, Question, custom, icl_label, next_merge, next_token
from .store import EXPIRY_SECONDS, MAX_OPEN, MAX_VOTES, STORE, Ballot, Poll, PollStore, Tally

__all__ = [
    "EXPIRY_SECONDS",
    "MAX_OPEN",
    "MAX_OPTIONS",
    "MAX_VOTES",
    "STORE",
    "Ballot",
    "Poll",
    "PollStore",
    "Question",
    "Tally",
    "custom",
    "icl_label",
    "next_merge",
    "next_token",
]
