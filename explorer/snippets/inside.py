"""The Inside-the-Transformer tab's snippet (`/block`): the parameters counted per component (embedding,
each layer's attention / norms / feed-forward, final norm) and the residual stream's norm ‖x‖ entering
layer 0 and after each block, from forward hooks on the decoder layers."""

from __future__ import annotations

from .common import fill, loading, model_name

TEMPLATE = """\
$head
text = $text
ids = tokenizer(text)["input_ids"]  # the model's own special tokens included
layers = model.model.layers  # the stack of transformer blocks

# Parameters per component: each parameter once (a tied LM head is the embedding matrix itself).
def role(name):  # "self_attn.q_proj.weight" -> "attention"; Gemma's q_norm / k_norm work inside attention
    module = name.rsplit(".", 1)[0].split(".")[-1]
    if "norm" in module and module not in ("q_norm", "k_norm"):
        return "norms"
    return "attention" if name.startswith("self_attn.") else "mlp"


print(f"parameters: {model.num_parameters()}")
print(f"embedding: {model.model.embed_tokens.weight.numel()}")
for index, layer in enumerate(layers):
    groups = {"attention": 0, "norms": 0, "mlp": 0}
    for name, parameter in layer.named_parameters():
        groups[role(name)] += parameter.numel()
    print(f"layer {index}: " + ", ".join(f"{group} {count}" for group, count in groups.items()))

# The residual stream: what enters layer 0, then each block's output, caught by hooks during the forward.
stream = []


def entering(module, args, kwargs):
    stream.append((args[0] if args else kwargs["hidden_states"])[0])  # (n, d)


def leaving(module, args, output):
    stream.append((output[0] if isinstance(output, tuple) else output)[0])  # (n, d)


hooks = [layers[0].register_forward_pre_hook(entering, with_kwargs=True)]
hooks += [layer.register_forward_hook(leaving) for layer in layers]
with torch.inference_mode():
    model.model(torch.tensor([ids]))
for hook in hooks:
    hook.remove()
norms = torch.stack(stream).float().norm(dim=-1)  # (layers + 1, n): ‖x‖ per position
for index, mean in enumerate(norms.mean(-1).tolist()):  # 0: entering layer 0; i: after block i-1
    print(f"residual {index}: {mean:.6f}")
"""


def render(text: str = "The quick brown fox", model: str = "") -> str:
    return fill(TEMPLATE, head=loading(model_name(model), options='attn_implementation="eager"'), text=text)
