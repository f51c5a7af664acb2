"""The real app on a free port, called through gradio_client as a script user would."""

import contract
import pytest


def test_generate_endpoint_returns_the_contract_payload(client):
    result = client.predict(prompt="The capital of France is", max_new_tokens=8, api_name="/generate")[-1]
    keeps_contract("/generate", result)
    assert result["model"] == "SmolLM2-135M-Instruct"
    assert "Paris" in result["text"] and result["finish_reason"] in ("length", "eos")
    assert len(result["steps"]) == 8 and result["prompt_tokens"][-1] == " is"
    step = result["steps"][0]
    assert len(step["top"]) >= 10 and 0 <= step["prob"] <= 1
    assert result["seconds"] > 0 and result["tokens_per_second"] > 0


def test_same_seed_same_text_through_the_api(client):
    kwargs = dict(prompt="Once upon a time", max_new_tokens=10, do_sample=True, temperature=1.2, seed=11)
    first = client.predict(**kwargs, api_name="/generate")[-1]["text"]
    assert client.predict(**kwargs, api_name="/generate")[-1]["text"] == first


def test_models_and_next_token_endpoints(client):
    listed = client.predict(api_name="/models")
    keeps_contract("/models", listed)
    assert listed["default_causal"] == "SmolLM2-135M-Instruct"
    assert any(m["name"] == "SmolLM2-135M-Instruct" and m["available"] for m in listed["models"])
    result = client.predict("The capital of France is", api_name="/next_token")[-1]
    keeps_contract("/next_token", result)
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


# ---------------------------------------------------------------- every endpoint keeps the API.md contract


def keeps_contract(endpoint: str, payload: dict) -> None:
    """Every field docs/API.md promises for the endpoint is in the payload (nested where it nests them)."""
    assert contract.promised_fields()[endpoint], f"{endpoint} is not in docs/API.md"
    assert not contract.missing(endpoint, payload), f"{endpoint} lacks {contract.missing(endpoint, payload)}"


def test_fill_mask_and_mask_demo_contract(client):
    result = client.predict(text="He wrote a letter with a [MASK] and paper.", top_k=5, api_name="/fill_mask")[-1]
    keeps_contract("/fill_mask", result)
    assert result["method"] in ("masked-lm", "causal-rescoring") and "[MASK]" not in result["filled"]
    mask = result["masks"][0]
    assert mask["index"] == 0 and all(0 <= c["prob"] <= 1 and c["token"] for c in mask["candidates"])
    demo = client.predict(text="The quick brown fox jumps over the lazy dog.", seed=1, api_name="/mask_demo")[-1]
    keeps_contract("/mask_demo", demo)
    assert len(demo["tokens"]) == len(demo["corrupted"]) and len(demo["positions"]) == len(demo["actions"]) >= 1
    assert set(demo["actions"]) <= {"mask", "random", "keep"}


def test_icl_and_sweep_contract(client):
    result = client.predict(task="sentiment", shots=2, query="A wonderful, moving film.", api_name="/icl")[-1]
    keeps_contract("/icl", result)
    assert result["prompt"].count("Sentiment:") == 3  # two demonstrations, then the query
    assert sum(label["prob"] for label in result["labels"]) == (pytest.approx(1.0))
    sweep = client.predict(task="sentiment", shots_list="0, 1", repeats=1, max_items=4, api_name="/icl_sweep")[-1]
    keeps_contract("/icl_sweep", sweep)
    assert [p["shots"] for p in sweep["points"]] == [0, 1]
    for point in sweep["points"]:
        assert 0 <= point["accuracy_mean"] <= 1 and point["n_items"] == 4


def test_attention_and_logit_lens_contract(client):
    result = client.predict(text="The cat sat on the mat.", layer=2, head=-1, api_name="/attention")[-1]
    keeps_contract("/attention", result)
    assert (result["num_layers"], result["num_heads"]) == (30, 9)
    n = len(result["tokens"])
    assert len(result["matrix"]) == n and all(sum(row) == pytest.approx(1, abs=1e-4) for row in result["matrix"])
    lens = client.predict(text="The quick brown fox", top_k=3, api_name="/logit_lens")[-1]
    keeps_contract("/logit_lens", lens)
    layer = lens["layers"][-1]
    assert len(layer["top"]) == len(lens["tokens"]) and len(layer["top"][0]) == 3
    assert {"token", "prob"} <= set(layer["top"][0][0])


def test_tokenisation_contract(client):
    text = "naïve café, 2024!"
    tokens = client.predict(text=text, api_name="/tokenize")[-1]
    keeps_contract("/tokenize", tokens)
    assert tokens["n_chars"] == len(text) and tokens["n_tokens"] == len(tokens["ids"]) == len(tokens["offsets"])
    replay = client.predict(text=text, api_name="/bpe_replay")[-1]
    keeps_contract("/bpe_replay", replay)
    assert replay["ids"] == tokens["ids"]
    word = replay["words"][0]
    assert all({"pair", "rank", "pieces"} <= set(step) for step in word["steps"])
    trained = client.predict(corpus="low×5 lower×2 newest×6 widest×3", num_merges=3, api_name="/bpe_train")[-1]
    keeps_contract("/bpe_train", trained)
    assert [m["pair"] for m in trained["merges"]][:2] == [["e", "s"], ["es", "t"]]
    assert {"count", "vocab_size"} <= set(trained["merges"][0]) and "newest" in trained["segmentations"]


def test_tuning_contract(client):
    table = client.predict(lora_r=8, prompt_tokens=20, num_labels=2, api_name="/tuning_table")[-1]
    keeps_contract("/tuning_table", table)
    rows = {r["method"]: r for r in table["rows"]}
    assert {"full", "head", "bitfit", "adapter", "lora", "prefix", "prompt", "ia3"} <= set(rows)
    assert rows["full"]["trainable"] == table["total_params"] and rows["lora"]["trainable"] == 461_952
    assert rows["prompt"]["trainable"] == 12_672
    runs = client.predict(methods=["head"], steps=2, learning_rate=1e-3, seed=0, api_name="/tuning_train")[-1]
    keeps_contract("/tuning_train", runs)
    run = runs["runs"][0]
    assert run["method"] == "head" and len(run["losses"]) == 2 and 0 <= run["accuracy"] <= 1


def test_sequence_probs_contract(client):
    result = client.predict(text="The capital of France is Paris.", api_name="/sequence_probs")[-1]
    keeps_contract("/sequence_probs", result)
    assert len(result["positions"]) == len(result["token_ids"]) - 1 and result["perplexity"] > 1
    assert "".join(s["text"] for s in result["segments"]).endswith("The capital of France is Paris.")


def test_inside_and_token_focus_contract(client):
    steps = client.predict(text="The cat sat on the mat.", layer=1, head=0, api_name="/attention_steps")[-1]
    keeps_contract("/attention_steps", steps)
    assert steps["max_abs_diff_vs_model"] < 1e-4
    focus = client.predict(text="The cat sat on the mat.", position=-2, token_id=-1, api_name="/token_focus")[-1]
    keeps_contract("/token_focus", focus)
    assert focus["trajectory"][-1]["rank"] >= 1 and focus["attention_link"].startswith("?tab=attention&")


def test_remedies_contract(client):
    result = client.predict(steps=1, replay_ratio=0.5, l2sp_strength=0.1, api_name="/tuning_remedies")[-1]
    keeps_contract("/tuning_remedies", result)
    assert [run["method"] for run in result["runs"]] == ["full", "replay", "l2sp", "lora"]


def test_a_poll_round_trip_counts_one_vote_per_voter(client):
    poll = client.predict(question="Which token comes next?", options="Paris\nLyon", api_name="/poll_create")
    keeps_contract("/poll_create", poll)
    vote = client.predict(code=poll["code"], option=1, voter="student-0001", api_name="/poll_vote")
    keeps_contract("/poll_vote", vote)
    with pytest.raises(Exception, match="already"):
        client.predict(code=poll["code"], option=0, voter="student-0001", api_name="/poll_vote")
    tally = client.predict(code=poll["code"], key=poll["key"], reveal=True, api_name="/poll_results")
    keeps_contract("/poll_results", tally)
    assert tally["votes"] == [0, 1] and tally["revealed"]
