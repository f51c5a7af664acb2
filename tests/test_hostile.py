"""Hostile input on every endpoint the running app exposes, through its public API.

The cases are generated from the app's own API description (`get_api_info()`, the same data
`gradio_client`'s `view_api` returns), so a tab wired in later is covered without editing this
file. Every parameter gets the hostile values of its type, one parameter at a time, on top of a
cheap baseline call (2 new tokens, 1 training step, ...), so that no case can start a long run by
accident. Each case must end within CASE_TIMEOUT seconds in either

- a valid result (the last output is a JSON payload), or
- an error whose message names what was wrong (the parameter, its label or the value) and what is
  allowed, with no traceback and no "something went wrong" fallback,

and the app must answer a normal request afterwards. NaN and Infinity cannot be sent by
`gradio_client` (it writes strict JSON), but any HTTP client can send them: those cases go through
Gradio's plain HTTP route (`/gradio_api/call/<endpoint>`) in the same session.

Known misbehaviours are listed in KNOWN_BAD (case id -> reason) and run as non-strict xfail:
once fixed they show up as XPASS and the entry can go.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import contract
import httpx
import pytest
import torch
from gradio_client.exceptions import AppError

from explorer import generation

CASE_TIMEOUT = 60.0  # a hang detector, not a speed target: refusals take well under a second; valid cases a few

# Parameters whose defaults start long work: the baseline of every case uses these cheap values.
CHEAP = {
    "max_new_tokens": 2,
    "steps": 1,
    "repeats": 1,
    "max_items": 4,
    "shots_list": "0",
    "shots": 1,
    "methods": ["head"],
    "num_merges": 5,
    "token_id": 0,
    "sizes": "2",  # /tuning_prompt_vs_head: one training-set size of two items
    "ranks": "1",  # /tuning_rank_sweep: one LoRA rank and one prompt length
    "prompt_lengths": "1",
}
# Endpoints that work on the session's earlier result: the request that makes one first.
SETUP = {
    "/branch": ("/generate", {"prompt": "The capital of France is", "max_new_tokens": 2}),
    "/poll_vote": ("/poll_create", {}),
    "/poll_results": ("/poll_create", {}),
}
# Endpoints whose baseline takes fields of their set-up's payload (a fresh one for every case: a poll's
# votes and its reveal change it) and a new voter id for every vote.
FROM_SETUP = {"/poll_vote": ("code",), "/poll_results": ("code", "key")}
HEALTH = ("/models", {})  # after every case: the app still answers (cheap; a model forward is checked at the end)
FORWARD = ("/next_token", {"prompt": "The capital of France is"})

# Control, zero-width, bidi and byte-order characters, then emoji sequences held together by joiners.
CONTROL_ZERO_WIDTH_EMOJI = "a\x00b\x07c\x1b[31md\u200be\u200df\ufeffg\u202eh\r\n\x7f 👩‍👩‍👧‍👦 🏳️‍🌈 👩🏽‍💻 🧑🏿‍🤝‍🧑🏻"
FORMAT_STRING = "{} {0} {text.__init__.__globals__} {label!r:>99999}"  # for templates filled with str.format
OVER_CONTEXT = "0123456789" * 900  # 9,000 characters, one token per digit: past SmolLM2's 8,192-token context

TEXT = {
    "empty": "",
    "whitespace": " \t\n \u3000 ",
    "200kB": "lorem ipsum " * 16_667,
    "control-zero-width-emoji": CONTROL_ZERO_WIDTH_EMOJI,
    "over-context": OVER_CONTEXT,
    "list": ["a", "b"],
}
NUMBER = {
    "negative": -7,
    "zero": 0,
    "huge": 10**15,
    "nan": math.nan,
    "text": "12abc",
    "list": [1, 2],
}
MODEL = {
    "unknown": "no-such-model",
    "hub-id-not-allowed": "someone/some-model",
    "path-traversal": "../../etc/passwd",
    "url": "http://127.0.0.1:9/model",
    "list": ["SmolLM2-135M-Instruct"],
}
CHOICE = {"unknown": "no-such-choice", "empty": "", "list": ["no-such-choice"]}
CHOICES = {"unknown": ["no-such-choice"], "string-not-list": "no-such-choice", "nested": [["no-such-choice"]]}
BOOL = {"list": [True]}

# The message must name the range or the allowed values (or the limit, or what to type instead).
ALLOWED_WORDS = re.compile(
    r"allowed|limit|at most|at least|must|pick|one of|between|range|shorten|type|put|choices|e\.g\.|like '",
    re.IGNORECASE,
)
TRACEBACK_SIGNS = ("Traceback", 'File "', "Something went wrong", "upstream Gradio app has raised")

# Misbehaviours found and not yet fixed (case id -> reason) run as non-strict xfail; none are known now.
KNOWN_BAD: dict[str, str] = {}


def known_bad(case_id: str, parameter: dict, value_id: str) -> str | None:
    return KNOWN_BAD.get(case_id)


# ---------------------------------------------------------------- the cases, from the app's API


@functools.cache
def api_info() -> dict:
    """The named endpoints of the app as assembled by app.py (built, not launched)."""
    import app

    return app.build_app().get_api_info()["named_endpoints"]


def values_for(parameter: dict) -> dict:
    name, python_type = parameter["parameter_name"], parameter["python_type"]["type"]
    if name == "model" or name.endswith("_model"):
        return MODEL
    if python_type.startswith("list["):
        return CHOICES
    if python_type == "Literal[]":  # a free dropdown (e.g. /branch's token_id): anything may arrive
        return {**CHOICE, **{f"number-{k}": v for k, v in NUMBER.items()}}
    if python_type.startswith("Literal["):
        return CHOICE
    if python_type == "str" and "{" in str(parameter.get("parameter_default")):  # a template
        return {**TEXT, "format-string": FORMAT_STRING}
    if python_type == "str":
        return TEXT
    if python_type in ("int", "float"):
        return NUMBER
    if python_type == "bool":
        return BOOL
    return {"list": ["x"], "text": "x", "number": -1}


def baseline(endpoint: str, prepared: dict | None = None) -> dict:
    parameters = api_info()[endpoint]["parameters"]
    cheap = {p["parameter_name"]: CHEAP[p["parameter_name"]] for p in parameters if p["parameter_name"] in CHEAP}
    if any(p["parameter_name"] == "voter" for p in parameters):
        cheap["voter"] = uuid.uuid4().hex
    return cheap | (prepared or {})


def hostile_cases() -> list:
    cases = []
    for endpoint, info in api_info().items():
        for parameter in info["parameters"]:
            for value_id, value in values_for(parameter).items():
                case_id = f"{endpoint.lstrip('/')}-{parameter['parameter_name']}-{value_id}"
                reason = known_bad(case_id, parameter, value_id)
                marks = [pytest.mark.xfail(reason=reason, strict=False)] if reason else []
                cases.append(pytest.param(endpoint, parameter, value, id=case_id, marks=marks))
    return cases


def pytest_generate_tests(metafunc):
    if "hostile" in metafunc.fixturenames:
        metafunc.parametrize("endpoint, parameter, hostile", hostile_cases())
    elif "endpoint" in metafunc.fixturenames:
        metafunc.parametrize("endpoint", sorted(api_info()))


# ---------------------------------------------------------------- calling the app


def json_safe(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except ValueError:
        return False


def call(client, app_url: str, endpoint: str, kwargs: dict):
    """('ok', outputs) or ('error', message); ('hang', None) after CASE_TIMEOUT seconds."""
    if not all(json_safe(v) for v in kwargs.values()):
        return call_raw(client, app_url, endpoint, kwargs)
    job = client.submit(**kwargs, api_name=endpoint)
    try:
        outputs = job.result(timeout=CASE_TIMEOUT)
    except TimeoutError:
        job.cancel()
        return "hang", None
    except AppError as error:
        return "error", str(error)
    return "ok", outputs if isinstance(outputs, tuple) else (outputs,)


def call_raw(client, app_url: str, endpoint: str, kwargs: dict):
    """The same call over plain HTTP (non-strict JSON), in the client's session."""
    parameters = api_info()[endpoint]["parameters"]
    data = [kwargs.get(p["parameter_name"], p.get("parameter_default")) for p in parameters]
    url = f"{app_url}gradio_api/call{endpoint}"
    body = json.dumps({"data": data, "session_hash": client.session_hash})  # writes NaN / Infinity
    event_id = httpx.post(url, content=body, headers={"content-type": "application/json"}).json()["event_id"]
    events = []
    try:
        with httpx.stream("GET", f"{url}/{event_id}", timeout=CASE_TIMEOUT) as stream:
            for line in stream.iter_lines():
                events.append(line)
    except httpx.TimeoutException:
        return "hang", None
    kind = next((e.split(":", 1)[1].strip() for e in reversed(events) if e.startswith("event:")), None)
    data_line = next((e.split(":", 1)[1] for e in reversed(events) if e.startswith("data:")), "null")
    payload = json.loads(data_line)
    if kind == "complete":
        return "ok", tuple(payload)
    return "error", (payload or {}).get("error") if isinstance(payload, dict) else str(payload)


def assert_answers(client, endpoint: str, kwargs: dict) -> None:
    result = client.submit(**kwargs, api_name=endpoint).result(timeout=CASE_TIMEOUT)
    assert isinstance(result[-1] if isinstance(result, tuple) else result, dict)


def mentions(message: str, parameter: dict, value) -> bool:
    """Does the message name the parameter (a word of its name or label), the value it got, or the choices?"""
    lowered = message.lower()
    words = f"{parameter['parameter_name'].replace('_', ' ')} {parameter.get('label') or ''}".lower().split()
    if any(w.rstrip("s") in lowered for w in words if len(w) > 3):
        return True
    if any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", message, re.I) for w in words if len(w) <= 3):  # W, v, W1
        return True
    if "not in the list of choices" in lowered:  # Gradio's own check of a fixed choice: names value and choices
        return True
    shown = str(value)[:20].lower()
    return bool(shown.strip()) and shown in lowered


# ---------------------------------------------------------------- the tests


def test_cases_cover_every_endpoint_the_running_app_exposes(client):
    running = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert sorted(running) == sorted(api_info())


@pytest.fixture(scope="module")
def prepared(client, app_url):
    """Run each endpoint's set-up request once for the client's session (e.g. a generation to branch from)."""
    done = set()

    def prepare(endpoint: str) -> dict:
        if endpoint in SETUP and (endpoint not in done or endpoint in FROM_SETUP):
            outcome, outputs = call(client, app_url, *SETUP[endpoint])
            assert outcome == "ok"
            done.add(endpoint)
            return {name: outputs[-1][name] for name in FROM_SETUP.get(endpoint, ())}
        return {}

    return prepare


def test_cheap_baseline_gives_a_payload(client, app_url, prepared, endpoint):
    """Without this, an error from a broken baseline would pass every hostile case."""
    kwargs = baseline(endpoint, prepared(endpoint))
    outcome, outputs = call(client, app_url, endpoint, kwargs)
    assert outcome == "ok", f"{endpoint} {kwargs} -> {outcome}: {outputs}"
    assert isinstance(outputs[-1], (dict, list))
    assert not contract.missing(endpoint, outputs[-1]), (
        f"{endpoint} breaks docs/API.md: lacks {contract.missing(endpoint, outputs[-1])}"
    )


def test_hostile_value_is_refused_clearly_or_handled(client, app_url, prepared, endpoint, parameter, hostile):
    kwargs = {**baseline(endpoint, prepared(endpoint)), parameter["parameter_name"]: hostile}
    started = time.perf_counter()
    outcome, result = call(client, app_url, endpoint, kwargs)
    seconds = time.perf_counter() - started
    assert outcome != "hang", f"no answer within {CASE_TIMEOUT:.0f} s"
    if outcome == "ok":
        assert isinstance(result[-1], (dict, list)), f"the last output is not a JSON payload: {result[-1]!r:.200}"
        assert "__builtins__" not in json.dumps(result[-1], default=str), "a format string leaked Python internals"
    else:
        assert result, "an error without a message"
        assert not any(sign in result for sign in TRACEBACK_SIGNS), f"traceback or fallback message: {result[:300]}"
        assert mentions(result, parameter, hostile), f"the message does not say what was wrong: {result[:300]}"
        assert ALLOWED_WORDS.search(result), f"the message does not say what is allowed: {result[:300]}"
    assert_answers(client, *HEALTH)
    print(
        f"{endpoint} {parameter['parameter_name']}={str(hostile)[:30]!r}: {outcome} in {seconds:.2f} s: {str(result)[:160]}"
    )


def test_the_model_still_answers_after_every_hostile_case(client):
    if FORWARD[0] in api_info():
        assert_answers(client, *FORWARD)


LOCAL_FILES = [
    "/etc/passwd",
    "/proc/self/environ",
    str(Path(__file__).resolve().parents[1] / "app.py"),
    str(Path.home() / ".cache" / "plm-explorer"),
]


@pytest.mark.parametrize("route", ["file=", "gradio_api/file=", "gradio_api/file/"])
@pytest.mark.parametrize("target", LOCAL_FILES + ["../../../../etc/passwd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd"])
def test_no_local_file_is_served(app_url, route, target):
    response = httpx.get(app_url + route + target, timeout=10)
    assert response.status_code >= 400, f"{route}{target} served {len(response.content)} bytes"
    assert "root:" not in response.text and "import" not in response.text


def test_a_generation_stream_leaves_no_worker_thread_in_inference_mode(bundled):
    """The way Gradio drives a streaming handler: first step in one worker thread, the rest in another."""
    request = generation.GenerationRequest("The capital of France is", max_new_tokens=3)
    stream = generation.stream_generation(bundled, request)
    with ThreadPoolExecutor(1) as first, ThreadPoolExecutor(1) as second:
        first.submit(next, stream).result()
        second.submit(list, stream).result()
        assert first.submit(torch.is_grad_enabled).result(), "the thread that started the stream has gradients off"
