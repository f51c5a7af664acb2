from urllib.parse import parse_qs, parse_qsl

import pytest

from explorer import i18n, permalinks
from explorer.checks import ExplorerError
from explorer.permalinks import Parameter

SCHEMAS = {
    "generation": [
        Parameter("prompt", "text"),
        Parameter("model", "choice", choices=("", "SmolLM2-135M-Instruct", "Gemma-3-270M")),
        Parameter("max_new_tokens", "integer", 1, 1024),
        Parameter("do_sample", "boolean"),
        Parameter("temperature", "number", 0.05, 3.0),
    ],
    "tokenisation": [
        Parameter("text", "text", max_chars=100),
        Parameter("compare_with", "choices", choices=("SmolLM2-135M-Instruct", "Gemma-3-270M")),
    ],
}


def test_link_names_the_tab_first_and_round_trips_its_inputs():
    query = permalinks.link("attention", text="台湾大学 & <b>", layer=3, head=None)
    assert query.startswith("?tab=attention&")
    assert parse_qs(query[1:]) == {"tab": ["attention"], "text": ["台湾大学 & <b>"], "layer": ["3"]}


def test_a_link_reads_back_as_the_values_it_was_written_from():
    values = dict(prompt="Once upon a time", model="Gemma-3-270M", max_new_tokens=16, do_sample=True, temperature=0.7)
    query = permalinks.link("generation", **values, projector=True)
    opened = permalinks.read(dict(parse_qsl(query[1:], keep_blank_values=True)), SCHEMAS)
    assert (opened.tab, opened.values, opened.projector, opened.notes) == ("generation", values, True, [])
    lists = permalinks.link("tokenisation", text="", compare_with=["SmolLM2-135M-Instruct", "Gemma-3-270M"])
    opened = permalinks.read(dict(parse_qsl(lists[1:], keep_blank_values=True)), SCHEMAS)
    assert opened.values == {"text": "", "compare_with": ["SmolLM2-135M-Instruct", "Gemma-3-270M"]}
    assert permalinks.read({"tab": "tokenisation", "compare_with": ""}, SCHEMAS).values == {"compare_with": []}


@pytest.mark.parametrize(
    "name, raw, note",
    [
        ("max_new_tokens", "many", "must be a number, got 'many'"),
        ("max_new_tokens", "2000", "out of range; allowed: a whole number in [1, 1024]"),
        ("max_new_tokens", "2.5", "must be a whole number"),
        ("temperature", "nan", "must be a finite number"),
        ("temperature", "9" * 500, "got '" + "9" * 40 + "…'"),  # a long value is quoted cut short
        ("do_sample", "maybe", "must be 1 or 0"),
        ("model", "<script>alert(1)</script>", "is not one of the allowed values"),
        ("prompt", "x" * 20_001, "20,001 characters long; the limit is 20,000"),
        ("bogus", "1", "'bogus' is not an input of this tab (its inputs: prompt, model, max_new_tokens"),
        ("x" * 500, "1", "'" + "x" * 40 + "…' is not an input"),
    ],
)
def test_each_bad_parameter_is_left_out_with_a_note_and_the_rest_is_kept(name, raw, note):
    opened = permalinks.read({"tab": "generation", "prompt": "kept", name: raw}, SCHEMAS)
    if name != "prompt":
        assert opened.values == {"prompt": "kept"}
    assert opened.tab == "generation" and name not in opened.values
    assert len(opened.notes) == 1 and note in opened.notes[0], opened.notes


def test_a_script_in_a_value_is_kept_as_text_and_never_rewritten():
    script = "<script>alert(1)</script>"
    assert permalinks.read({"tab": "generation", "prompt": script}, SCHEMAS).values == {"prompt": script}


def test_an_unknown_tab_or_no_tab_opens_the_app_as_it_is():
    opened = permalinks.read({"tab": "nope", "prompt": "x", "projector": "1"}, SCHEMAS)
    assert (opened.tab, opened.values, opened.projector) == (None, {}, True)
    assert "tab 'nope', which this app does not have (tabs: generation, tokenisation)" in opened.notes[0]
    plain = permalinks.read({"__theme": "dark"}, SCHEMAS)
    assert (plain.tab, plain.values, plain.projector, plain.notes) == (None, {}, False, [])
    assert permalinks.read({"projector": "loud"}, SCHEMAS).notes == [
        "The link's 'projector' was ignored: allowed: 1 or 0."
    ]


def test_notes_speak_the_language_being_served():
    with i18n.speaking("zh-CN"):
        note = permalinks.read({"tab": "generation", "bogus": "1"}, SCHEMAS).notes[0]
    assert "不是本标签页的输入" in note and "'bogus'" in note


def test_a_link_too_long_to_share_is_refused_naming_what_to_shorten():
    assert permalinks.checked_link("generation", prompt="short") == permalinks.link("generation", prompt="short")
    with pytest.raises(ExplorerError, match=r"links hold at most 8,000\. Shorten prompt \(its text is 9,000"):
        permalinks.checked_link("generation", prompt="x" * 9_000, seed=1)


def test_a_link_too_long_to_open_is_explained_and_offered_without_its_longest_values():
    assert permalinks.too_long(permalinks.link("generation", prompt="x" * 50_000)[1:]) is None
    query = permalinks.link("generation", prompt="台" * 40_000, seed=3, stop="y" * 30_000)[1:]
    refused = permalinks.too_long(query)
    assert len(query) > permalinks.MAX_QUERY_CHARS >= len(refused.shorter)
    assert parse_qs(refused.shorter[1:]) == {"tab": ["generation"], "seed": ["3"], "stop": ["y" * 30_000]}
    assert f"This link is {len(query):,} characters long; the app opens links up to 60,000" in refused.message
    assert "Its longest parameter, 'prompt', holds 40,000 characters: open the link without 'prompt'" in refused.message
    with i18n.speaking("zh-CN"):
        assert "最长的参数 'prompt' 有 40,000 个字符" in permalinks.too_long(query).message
    many = "&".join(f"p{i}=1" for i in range(20_000))  # many short parameters: still quick, and a short message
    refused = permalinks.too_long(many)
    assert len(refused.shorter) <= permalinks.MAX_QUERY_CHARS and len(refused.message) < 400
