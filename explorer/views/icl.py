"""The In-context learning tab: zero-, one- and few-shot prompts, templates, verbalizers, calibration."""

from __future__ import annotations

import gradio as gr

from .. import datasets, i18n, models
from .. import icl as compute
from ..icl.label_modes import LABEL_MODES
from . import export, focus, links, poll
from .common import (
    LONG_WORK,
    SHORT_WORK,
    Number,
    Slider,
    examples_menu,
    gradio_progress,
    json_panel,
    localized_defaults,
    model_dropdown,
    payload,
    t,
    tr,
    user_errors,
)
from .icl_figures import label_figure, summary_markdown, sweep_figure
from .show_code import code_panel

DEFAULT_QUERIES = {  # a query for each task, in the task's language
    "sentiment": "The soundtrack was gorgeous, but the story dragged on forever.",
    "topic": "The central bank kept rates unchanged as inflation eased.",
    "antonyms": "cold",
    "sentiment_zh": "配乐很动人，可惜剧情拖沓得让人直打哈欠。",
    "topic_zh": "央行宣布维持基准利率不变，通胀压力有所缓解。",
}
# The pasted task's example, in English (the API's and the tests'); a Chinese page shows its own.
CUSTOM_VERBALIZERS = i18n.labels("en")["icl.custom_verbalizers"]
CUSTOM_EXAMPLES = i18n.labels("en")["icl.custom_examples"]


@user_errors
def icl(
    task: str = "sentiment",
    shots: int = 4,
    query: str = DEFAULT_QUERIES["sentiment"],
    model: str = "",
    seed: int = 0,
    use_chat_template: bool = False,
    template: str = "",
    verbalizers: str = "",
    instruction: str = "",
    custom_examples: str = "",
    calibrate: bool = True,
    progress=gr.Progress(),
):
    """Score one query with k demonstrations: the exact prompt, each label's log-prob and probability.

    Empty template/verbalizers/instruction keep the task's own; `verbalizers` is 'label: word' per line;
    task='custom' takes its labels from `verbalizers` and its demonstrations from `custom_examples`
    ('text => label' per line).
    """
    chosen = compute.resolve_task(task, template, verbalizers, instruction, custom_examples)
    lm = models.get(model, "causal", progress=gradio_progress(progress))
    result = compute.run_icl(lm, chosen, query, shots, seed, bool(use_chat_template), bool(calibrate))
    return label_figure(result), summary_markdown(result), result.prompt, payload(result)


@user_errors
def icl_sweep(
    task: str = "sentiment",
    model: str = "",
    shots_list: str = "0, 1, 2, 4, 8",
    repeats: int = 3,
    max_items: int = 40,
    seed: int = 0,
    use_chat_template: bool = False,
    template: str = "",
    verbalizers: str = "",
    instruction: str = "",
    custom_examples: str = "",
    label_mode: str = "gold",
    progress=gr.Progress(),
):
    """Accuracy versus shots over `repeats` random draws of demonstrations, with and without calibration;
    `label_mode` (gold, random, shuffled, other-task): what the demonstrations' labels show."""
    chosen = compute.resolve_task(task, template, verbalizers, instruction, custom_examples)
    report = gradio_progress(progress)
    lm = models.get(model, "causal", progress=report)
    chat = bool(use_chat_template)
    result = compute.sweep(lm, chosen, shots_list, repeats, max_items, seed, chat, report, label_mode)
    return sweep_figure(result), payload(result)


@user_errors
def focus_label(result: dict | None, use_chat_template: bool = False):
    """The focus on the query's label word: the prompt's last position and the first token of the
    predicted label's verbalizer (`result`: the last /icl payload; a generation task: the model's guess)."""
    if not result or not result.get("prompt"):
        return focus.unchanged()
    lm = focus.eager(result["model"])
    ids = compute.encode(lm.tokenizer, result["prompt"], bool(use_chat_template))
    predicted = [label["token_ids"] for label in result.get("labels") or [] if label["label"] == result["prediction"]]
    return focus.on_ids(lm.name, ids, len(ids) - 1, predicted[0][0] if predicted else -1)


def task_defaults(task: str):
    """A task's own template, verbalizer words, instruction and an example query (a custom task's
    example in the page's language)."""
    if task == compute.CUSTOM:
        return (
            compute.CUSTOM_TEMPLATE,
            t("icl.custom_verbalizers"),
            t("icl.custom_instruction"),
            t("icl.custom_query"),
        )
    spec = datasets.load_task(task)
    words = "\n".join(f"{label}: {word}" for label, word in zip(spec.labels, spec.verbalizers))
    return spec.template, words, spec.instruction, DEFAULT_QUERIES.get(task, spec.items[0].text)


@user_errors
def show_task(task: str):
    """On a task change: its own template, words and instruction as grey placeholders (the fields stay
    empty, meaning "the task's own", so an API call naming only the task uses the task's settings).
    A custom task has no settings of its own, so its example ones are filled in."""
    *fields, query = task_defaults(task)
    if task == compute.CUSTOM:
        return *[gr.Textbox(value=f, placeholder="") for f in fields], query
    return *[gr.Textbox(value="", placeholder=f) for f in fields], query


@user_errors
def edit_task_settings(task: str):
    """Copy the task's own settings into the fields, to edit them."""
    return task_defaults(task)[:3]


@user_errors
def page_task():
    """On page load: the sentiment task in the page's language (a Chinese page gets sentiment_zh)."""
    return "sentiment" if datasets.data_language(i18n.current()) == "en" else "sentiment_zh"


# ---------------------------------------------------------------- lecture examples


def _example(kind: str, shots: int, seed: int = 0, calibrate: bool = True):
    """The task of `kind` in the page's language (its own template, words and instruction), k shots."""

    def fill():
        name = kind if datasets.data_language(i18n.current()) == "en" else f"{kind}_zh"
        return name, shots, DEFAULT_QUERIES[name], seed, calibrate, "", "", ""

    return fill


EXAMPLES = {
    "zero_shot": _example("sentiment", 0),  # GPT-3's format: task description, then the query
    "one_shot": _example("sentiment", 1),  # ... one demonstration before the query
    "few_shot": _example("sentiment", 4),  # ... k = 4 demonstrations
    "topic": _example("topic", 4),  # four labels, each a two-character word in Chinese
    "calibration": _example("sentiment", 1, seed=2),  # one demonstration biases the labels; calibration evens them
}


# ---------------------------------------------------------------- layout


def build() -> None:
    gr.Markdown(tr("icl.explainer"))
    template0, words0, instruction0, query0 = task_defaults("sentiment")
    with gr.Row():
        with gr.Column(scale=2):
            task_choices = [(tr(f"icl.task.{name}"), name) for name in [*datasets.TASK_NAMES, compute.CUSTOM]]
            task = gr.Dropdown(task_choices, value="sentiment", label=tr("icl.task"))
            query = gr.Textbox(query0, label=tr("icl.query"), lines=2)
            shots = Slider(0, compute.MAX_SHOTS, 4, step=1, label=tr("icl.shots"))
            seed = Number(0, label=tr("icl.seed"), precision=0, minimum=0)
            chat = gr.Checkbox(False, label=tr("icl.chat"))
            calibrate = gr.Checkbox(True, label=tr("icl.calibrate"))
            model = model_dropdown("causal")
            examples = gr.Column()  # the menu is placed here, once the controls it fills exist
            with gr.Accordion(tr("icl.template_panel"), open=True):
                gr.Markdown(tr("icl.template_hint"))
                instruction = gr.Textbox("", placeholder=instruction0, label=tr("icl.instruction"), lines=1)
                template = gr.Textbox("", placeholder=template0, label=tr("icl.template"), lines=2)
                verbalizers = gr.Textbox("", placeholder=words0, label=tr("icl.verbalizers"), lines=4)
                edit = gr.Button(tr("icl.edit"), size="sm")
                custom_examples = gr.Textbox(t("icl.custom_examples"), label=tr("icl.custom_label"), lines=5)
                localized_defaults([(custom_examples, "icl.custom_examples")])
            run = gr.Button(tr("icl.run"), variant="primary")
            links.copy_button("icl", "icl")
        with gr.Column(scale=3):
            figure = gr.Plot(label=tr("icl.plot"))
            summary = gr.Markdown()
            prompt = gr.Textbox(label=tr("icl.prompt"), lines=12, max_lines=30, buttons=["copy"])
            result_json = json_panel()
            focus_button = gr.Button(tr("focus.label_run"))
            focus_panel = focus.panel()
            code_panel(
                "icl",
                result=result_json,
                task=task,
                template=template,
                verbalizers=verbalizers,
                instruction=instruction,
                custom_examples=custom_examples,
                use_chat_template=chat,
            )
    with gr.Accordion(tr("icl.sweep_panel"), open=True):
        with gr.Row():
            shots_list = gr.Textbox("0, 1, 2, 4, 8", label=tr("icl.shots_list"))
            repeats = Slider(1, compute.MAX_REPEATS, 3, step=1, label=tr("icl.repeats"))
            max_items = Slider(4, compute.MAX_ITEMS, 40, step=1, label=tr("icl.max_items"))
            label_mode = gr.Dropdown(
                [(tr(f"experiments.label_mode.{mode}"), mode) for mode in LABEL_MODES],
                value="gold",
                label=tr("experiments.label_mode"),
                info=tr("experiments.label_mode_info"),
            )
            sweep_button = gr.Button(tr("icl.sweep_run"), variant="primary")
        sweep_plot = gr.Plot(label=tr("icl.sweep_plot"))
        sweep_json = json_panel()
    poll.ask_the_class(
        poll.icl_question, [task, shots, query, model, seed, chat, template, verbalizers, instruction, custom_examples]
    )

    editable = [template, verbalizers, instruction, custom_examples]
    with examples:
        examples_menu("icl", EXAMPLES, [task, shots, query, seed, calibrate, template, verbalizers, instruction])
    run.click(
        icl,
        [task, shots, query, model, seed, chat, *editable, calibrate],
        [figure, summary, prompt, result_json],
        api_name="icl",
        **SHORT_WORK,
    )
    sweep_button.click(
        icl_sweep,
        [task, model, shots_list, repeats, max_items, seed, chat, *editable, label_mode],
        [sweep_plot, sweep_json],
        api_name="icl_sweep",
        **LONG_WORK,
    )
    focus_button.click(focus_label, [result_json, chat], list(focus_panel), api_visibility="private", **SHORT_WORK)
    task.change(show_task, task, [template, verbalizers, instruction, query], api_visibility="private")
    edit.click(edit_task_settings, task, [template, verbalizers, instruction], api_visibility="private")
    localized_defaults([(task, page_task)])  # then task.change fills the rest
    export.equip("icl")
