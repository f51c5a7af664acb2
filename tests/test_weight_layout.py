import copy
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModelForCausalLM

from explorer import generation as g
from explorer import weight_layout

from builders import tiny_gemma, tiny_llama

PROMPTS = [
    "Once upon a time, in a small village by the sea, there lived an old fisherman who",
    "In 1969, the first humans",
]


def generate_probs(model: nn.Module, ids: list[int], n: int) -> tuple[list[int], torch.Tensor]:
    with torch.inference_mode():
        out = model.generate(
            input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=n, do_sample=False, output_scores=True, return_dict_in_generate=True, pad_token_id=0,
        )  # fmt: skip
    return out.sequences[0, len(ids) :].tolist(), torch.cat(out.scores).softmax(-1)  # (n, vocab)


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_wide_weights_change_memory_order_only(build):
    model = build().model
    before = {name: p.clone() for name, p in model.named_parameters()}
    weight_layout.for_decoding(model)
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, before[name]), name  # same shape, same values
    for module in model.modules():
        if isinstance(module, nn.Linear) and not hasattr(module, "sibling"):
            out, inner = module.weight.shape
            assert module.weight.stride() == ((1, out) if out >= inner else (inner, 1))
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # still tied


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_siblings_are_column_blocks_of_one_buffer(build):
    model = weight_layout.for_decoding(build().model)
    for layer in model.model.layers:
        for siblings in ([layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj],
                         [layer.mlp.gate_proj, layer.mlp.up_proj]):  # fmt: skip
            buffer = siblings[0].sibling.shared.buffer  # (in, total out)
            assert buffer.shape == (siblings[0].in_features, sum(m.out_features for m in siblings))
            assert torch.equal(buffer, torch.cat([m.weight.T for m in siblings], dim=1))
            for linear in siblings:
                assert type(linear) is nn.Linear and linear.weight.stride() == (1, buffer.shape[1])
                assert linear.weight.data_ptr() == buffer.data_ptr() + linear.sibling.offset


def test_each_sibling_still_runs_its_hooks_and_computes_alone_when_its_weight_is_replaced(tiny):
    model = weight_layout.for_decoding(copy.deepcopy(tiny.model))
    attention = model.model.layers[0].self_attn
    seen = {}
    for name in ("q_proj", "k_proj", "v_proj"):
        getattr(attention, name).register_forward_hook(
            lambda m, args, out, name=name: seen.update({name: (args[0], out)})
        )
    ids = torch.tensor([g.encode_prompt(tiny, "The capital of")[1]])
    with torch.inference_mode():
        model(ids)
        for name, (x, out) in seen.items():
            assert torch.allclose(out, x @ getattr(attention, name).weight.T, atol=1e-6), name
        attention.k_proj.weight.data = torch.randn_like(attention.k_proj.weight)  # no longer a view of the buffer
        model(ids)
        x, out = seen["k_proj"]
        assert torch.allclose(out, x @ attention.k_proj.weight.T, atol=1e-6)


def test_training_and_copies_use_each_siblings_own_weight(tiny):
    model = weight_layout.for_decoding(copy.deepcopy(tiny.model))
    plain = weight_layout.as_loaded(tiny.model)
    ids = torch.tensor([g.encode_prompt(tiny, "The capital of")[1]])
    for m in (model, plain):
        m.requires_grad_(True)
        m(ids, labels=ids).loss.backward()
    for (name, p), q in zip(model.named_parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5), name  # gradients reach every sibling's weight
    twin = copy.deepcopy(model)  # a copy (the Tuning tab's) has its own buffers and forwards
    twin.model.layers[0].mlp.up_proj.weight.data.zero_()
    with torch.inference_mode():
        assert not torch.equal(twin(ids).logits, model(ids).logits)
        assert torch.equal(model(ids).logits, weight_layout.for_decoding(copy.deepcopy(tiny.model))(ids).logits)


def test_threads_sharing_the_model_get_their_own_products(tiny):
    model = weight_layout.for_decoding(copy.deepcopy(tiny.model))
    prompts = [torch.tensor([g.encode_prompt(tiny, text)[1]]) for text in ("The capital of", "Once upon", "low lower")]
    with torch.inference_mode():
        alone = [model(ids).logits for ids in prompts]

    def run(index: int) -> bool:
        with torch.inference_mode():
            return all(torch.equal(model(prompts[index % 3]).logits, alone[index % 3]) for _ in range(20))

    with ThreadPoolExecutor(6) as pool:
        assert all(pool.map(run, range(6)))


def mapped_files() -> set[str]:
    with open("/proc/self/maps") as maps:
        return {line.split()[-1] for line in maps if len(line.split()) == 6}


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_the_weights_file_is_unmapped_so_each_weight_is_held_once(build, tmp_path):
    build().model.save_pretrained(tmp_path)
    weights = str(tmp_path / "model.safetensors")
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert weights in mapped_files()  # the loader maps the file: a laid-out copy beside it would count twice
    values = {name: p.clone() for name, p in model.named_parameters()}
    weight_layout.for_decoding(model)
    assert weights not in mapped_files()
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, values[name]), name


@pytest.mark.parametrize("build", [tiny_llama, tiny_gemma])
def test_tiny_models_decode_the_same_after_the_layout(build):
    lm = build()
    plain = weight_layout.as_loaded(lm.model)
    weight_layout.for_decoding(lm.model)
    ids = g.encode_prompt(lm, "The capital of")[1]
    tokens, probs = generate_probs(lm.model, ids, 12)
    plain_tokens, plain_probs = generate_probs(plain, ids, 12)
    assert tokens == plain_tokens
    assert (probs - plain_probs).abs().max() < 1e-5


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_loop_on_the_bundled_model_equals_plain_generate_within_1e_5(bundled, prompt):
    """The app's loop on the laid-out weights against transformers' generate on the weights as loaded."""
    plain = weight_layout.as_loaded(bundled.model)
    tokens, probs = generate_probs(plain, g.encode_prompt(bundled, prompt)[1], 32)
    result = g.generate(bundled, g.GenerationRequest(prompt, max_new_tokens=32))
    assert [step.token_id for step in result.steps] == tokens
    shown = torch.tensor([[c.raw_prob for c in [step, *step.top]] for step in result.steps])  # (32, 11)
    ids = torch.tensor([[c.token_id for c in [step, *step.top]] for step in result.steps])
    assert (shown - probs.gather(1, ids)).abs().max() < 1e-5


def test_batches_go_through_onednn_but_on_an_intel_cpu_unless_a_setting_says(monkeypatch):
    monkeypatch.delenv("PLM_EXPLORER_BATCH_PRODUCTS", raising=False)
    for intel, expected in ((True, False), (False, True)):
        monkeypatch.setattr(weight_layout, "intel_cpu", lambda intel=intel: intel)
        assert weight_layout._onednn_for_batches() is expected
    for setting, expected in (("mkl", False), ("onednn", True)):
        monkeypatch.setenv("PLM_EXPLORER_BATCH_PRODUCTS", setting)
        assert weight_layout._onednn_for_batches() is expected


def test_a_batch_of_sequences_is_multiplied_by_onednn_one_sequence_by_torch(monkeypatch):
    monkeypatch.setattr(weight_layout, "ONEDNN", True)  # as on a CPU not Intel's
    weight = torch.randn(64, 96).T  # (out, in) shape, (in, out) memory: the wide layout
    several, one = torch.randn(3, 5, 64), torch.randn(1, 5, 64)
    calls = []
    onednn = torch.ops.mkldnn._linear_pointwise
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", lambda *a: calls.append(a[0].shape) or onednn(*a))
    with torch.inference_mode():
        assert torch.equal(weight_layout.product(one, weight), F.linear(one, weight))
        assert not calls  # one sequence: torch's own product
        out = weight_layout.product(several, weight)
    assert calls == [(15, 64)] and out.shape == (3, 5, 96)  # the batch's rows in one product
    assert torch.allclose(out, F.linear(several, weight), rtol=1e-5, atol=1e-5)
    with torch.enable_grad():
        assert weight_layout.product(several, weight.requires_grad_()).requires_grad  # training: torch's own
    assert calls == [(15, 64)]
