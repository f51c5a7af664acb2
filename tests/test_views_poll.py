"""The poll's views without a server: the API functions as Gradio calls them, and every user text
escaped in the lecturer's card, the live tally and the student page."""

from __future__ import annotations

import gradio as gr
import pytest

from explorer.poll import STORE
from explorer.views import poll

SCRIPT = "<script>alert(1)</script>"


def test_create_vote_and_reveal_through_the_api_functions():
    opened = poll.poll_create("Which token?", "Paris\nLyon\nthe", "0.7, 0.2, 0.1")
    assert opened["link"] == f"?poll={opened['code']}" and opened["options"] == ["Paris", "Lyon", "the"]
    assert poll.poll_vote(opened["code"], 2, "voter-0001") == {"code": opened["code"], "option": 2, "counted": True}
    with pytest.raises(gr.Error, match="already voted"):
        poll.poll_vote(opened["code"], 0, "voter-0001")
    before = poll.poll_results(opened["code"], opened["key"])
    assert before["votes"] == [0, 0, 1] and before["model_probs"] is None and before["open"]
    after = poll.poll_results(opened["code"], opened["key"], True)
    assert after["model_probs"] == [0.7, 0.2, 0.1] and after["model_answer"] == 0 and not after["open"]
    with pytest.raises(gr.Error, match="closed"):
        poll.poll_vote(opened["code"], 1, "voter-0002")
    with pytest.raises(gr.Error, match="key"):
        poll.poll_results(opened["code"], "forged")


def test_user_text_is_escaped_in_the_card_and_the_tally():
    opened = poll.poll_create(f"{SCRIPT} next?", f"{SCRIPT}\n<b>bold</b>")
    card = poll.card_html(opened)
    tally = poll.tally_html(STORE.tally(opened["code"], opened["key"]))
    for shown in (card, tally):
        assert "<script>" not in shown and "<b>bold" not in shown
        assert "&lt;script&gt;" in shown
    figure = poll.reveal_figure(STORE.tally(opened["code"], opened["key"], reveal=True))
    assert [trace.name for trace in figure.data][0].startswith("The class")


def test_the_student_page_escapes_the_question_and_shows_one_button_per_option():
    heading, *buttons, note = poll._ballot_update(SCRIPT, ["a", "b", "c"], "")
    assert "<script>" not in heading and "&lt;script&gt;" in heading
    assert [b.visible for b in buttons] == [True] * 3 + [False] * (len(buttons) - 3) and note == ""
    *_, note = poll._ballot_update(None, [], f"{SCRIPT} is not a poll code")
    assert "<script>" not in note
