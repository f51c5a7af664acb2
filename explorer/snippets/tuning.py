"""The Tuning tab's snippet (`/tuning_table`): trainable parameters of full fine-tuning, the head
alone, and peft's delta-tuning methods, each on the model as a k-class classifier
(`AutoModelForSequenceClassification`), counted from the parameters that get gradients."""

from __future__ import annotations

from .common import Code, fill, loading, model_name

TEMPLATE = """\
$head
num_labels, lora_r, prefix_tokens, prompt_tokens = $num_labels, $lora_r, $prefix_tokens, $prompt_tokens
SEQ_CLS = peft.TaskType.SEQ_CLS
methods = {  # peft picks each method's target modules for the architecture
    "ln_tuning": peft.LNTuningConfig(task_type=SEQ_CLS),
    "prefix": peft.PrefixTuningConfig(task_type=SEQ_CLS, num_virtual_tokens=prefix_tokens),
    "prompt": peft.PromptTuningConfig(task_type=SEQ_CLS, num_virtual_tokens=prompt_tokens),
    "ia3": peft.IA3Config(task_type=SEQ_CLS),
    "lora": peft.LoraConfig(task_type=SEQ_CLS, r=lora_r, lora_alpha=2 * lora_r),
    "vera": peft.VeraConfig(task_type=SEQ_CLS, r=lora_r),
}


def trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


print(f"full: {trainable(model)}")  # every weight, plus the new classifier head
model.requires_grad_(False)
model.score.requires_grad_(True)  # the new head ("score"), which every method trains
print(f"head: {trainable(model)}")
for name, config in methods.items():
    classifier = $loader.from_pretrained(MODEL, num_labels=num_labels)  # a fresh copy per method
    print(f"{name}: {trainable(peft.get_peft_model(classifier, config))}")  # peft trains the head too
"""


def render(
    model: str = "", lora_r: int = 8, prefix_tokens: int = 20, prompt_tokens: int = 20, num_labels: int = 2
) -> str:
    loader = "AutoModelForSequenceClassification"
    head = loading(model_name(model), loader=loader, options=f"num_labels={int(num_labels)}", imports="import peft\n")
    return fill(
        TEMPLATE,
        head=head,
        num_labels=int(num_labels),
        lora_r=int(lora_r),
        prefix_tokens=int(prefix_tokens),
        prompt_tokens=int(prompt_tokens),
        loader=Code(loader),
    )
