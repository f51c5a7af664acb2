"""The real app on a free port, called through gradio_client as a script user would."""

import pytest


def test_generate_endpoint_returns_the_contract_payload(client):
    result = client.predict(prompt="The capital of France is", max_new_tokens=8, api_name="/generate")[-1]
    assert result["model"] == "SmolLM2-135M-Instruct"
    assert "Paris" in result["text"] and result["finish_reason"] in ("length", "eos")
    assert len(result["steps"]) == 8 and result["prompt_tokens"][-1] == " is"
    step = result["steps"][0]
    assert {"token", "token_id", "prob", "raw_prob", "top"} <= set(step)
    assert len(step["top"]) >= 10 and 0 <= step["prob"] <= 1
    assert result["seconds"] > 0 and result["tokens_per_second"] > 0


def test_same_seed_same_text_through_the_api(client):
    kwargs = dict(prompt="Once upon a time", max_new_tokens=10, do_sample=True, temperature=1.2, seed=11)
    first = client.predict(**kwargs, api_name="/generate")[-1]["text"]
    assert client.predict(**kwargs, api_name="/generate")[-1]["text"] == first


def test_models_and_next_token_endpoints(client):
    listed = client.predict(api_name="/models")
    assert listed["default_causal"] == "SmolLM2-135M-Instruct"
    assert any(m["name"] == "SmolLM2-135M-Instruct" and m["available"] for m in listed["models"])
    result = client.predict("The capital of France is", api_name="/next_token")[-1]
    assert result["candidates"][0]["token"] == " Paris" and len(result["candidates"]) >= 20


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(prompt=""), "empty"),
        (dict(prompt="hi", model="no-such-model"), "Unknown model"),
        (dict(prompt="x" * 200_000), "20,000"),
    ],
)
def test_bad_input_gives_a_clear_error_and_the_app_keeps_serving(client, kwargs, message):
    with pytest.raises(Exception, match=message):
        client.predict(**kwargs, api_name="/generate")
    assert client.predict(prompt="Hello", max_new_tokens=2, api_name="/generate")[-1]["steps"]


def test_branch_continues_from_the_chosen_token(client):
    first = client.predict(prompt="The capital of France is", max_new_tokens=4, api_name="/generate")[-1]
    alternative = first["steps"][0]["top"][1]
    result = client.predict(step=0, token_id=alternative["token_id"], max_new_tokens=3, api_name="/branch")[-1]
    assert result["steps"][0]["token"] == alternative["token"] and result["steps"][0]["forced"]
    assert len(result["steps"]) == 4


def test_icl_naming_only_another_task_uses_that_tasks_settings(client):
    result = client.predict(task="topic", shots=2, query="The striker scored twice in the final.", api_name="/icl")[-1]
    assert {label["label"] for label in result["labels"]} == {"sports", "business", "science", "world"}
