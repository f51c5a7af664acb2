"""ICL prompt layout: an optional instruction, k demonstrations, then the query up to its label slot.

Plain layout: each demonstration is the template filled with its text and label word, blocks
separated by a blank line. Chat layout: the instruction is the system turn and each demonstration
a user/assistant exchange, laid out by the model's own chat template.

Each label is scored by the log-probability of its *continuation* after the prompt: the template's
whitespace before `{label}` plus the verbalizer (" positive"), so the prompt never ends in a dangling
space that a BPE tokenizer would split off. A chat prompt's continuation is the bare word: the
assistant turn starts right after the template's generation prompt.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from ..checks import ExplorerError
from ..datasets import Example, Task
from ..lm import encode_document
from .tasks import verbalizer_of


@dataclass(frozen=True)
class Prompt:
    text: str  # exactly what the model reads
    continuations: tuple[str, ...]  # one per label (none for a generation task: its answer is generated)
    chat: bool  # a chat-template prompt: its special tokens are spelled in `text` already


def build_prompt(task: Task, demos: Sequence[Example], query: str, tokenizer=None, chat: bool = False) -> Prompt:
    """The exact prompt and the continuation to score for each label."""
    head, gap = _query_head(task.template, query)
    answers = list(task.verbalizers) if task.kind == "classification" else []
    if not chat:
        blocks = ([task.instruction] if task.instruction else []) + [
            _fill(task.template, demo.text, verbalizer_of(task, demo)) for demo in demos
        ]
        text = "".join(block + "\n\n" for block in blocks) + head
        return Prompt(text, tuple(gap + word for word in answers), chat=False)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ExplorerError("This model has no chat template; turn the chat template off.")
    messages = [{"role": "system", "content": task.instruction}] if task.instruction else []
    for demo in demos:
        messages.append({"role": "user", "content": _query_head(task.template, demo.text)[0]})
        messages.append({"role": "assistant", "content": verbalizer_of(task, demo)})
    messages.append({"role": "user", "content": head})
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return Prompt(text, tuple(answers), chat=True)


def encode(tokenizer, text: str, chat: bool) -> list[int]:
    """Token ids of a prompt (or prompt + continuation): a plain one as a whole document (the start
    every tab scores from, `lm.encode_document`), a chat one as is (its template spells its start)."""
    return tokenizer(text, add_special_tokens=False)["input_ids"] if chat else encode_document(tokenizer, text)


def shared_text(task: Task, demos: Sequence[Example], tokenizer, chat: bool) -> str:
    """What the prompt of every query shares for these demonstrations: instruction, demonstrations
    and the template up to the query's text (found as the common start of two queries' prompts)."""
    return os.path.commonprefix([build_prompt(task, demos, text, tokenizer, chat).text for text in ("a", "b")])


def _fill(template: str, text: str, label: str) -> str:
    return template.replace("{text}", text).replace("{label}", label)  # not str.format: user text may hold braces


def _query_head(template: str, text: str) -> tuple[str, str]:
    """The query laid out up to its label slot, split into (prompt end, whitespace before the label)."""
    head = _fill(template[: template.index("{label}")], text, "")
    stripped = head.rstrip()
    return stripped, head[len(stripped) :]
