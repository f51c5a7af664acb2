"""What every tab's view shares: errors for people, JSON payloads, model pickers, progress."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import math
import traceback

import gradio as gr
import pandas as pd
from gradio.context import Context

from .. import checks, cores, i18n, models
from ..checks import ExplorerError

log = logging.getLogger("plm-explorer")

# Every label in every language, handed to the page at launch; the page shows the browser's language
# and its settings can switch it. `tr(key)` marks a label for the page; `t(key)` (explorer.i18n) writes
# one now, in the language of the request being served (plots, tables, HTML).
I18N = gr.I18n(**{language: i18n.labels(language) for language in i18n.languages()})
tr = I18N
t = i18n.t

# The page tells the server which language it shows: Gradio keeps the user's choice in the page only,
# so a hidden element holds the label "language.code" ("en", "zh-CN"), which Gradio rewrites when the
# language is switched, and its script copies it into the cookie `i18n.request_language` reads.
LANGUAGE_SCRIPT = f"""
const write = () => {{
  const code = element.textContent.trim();
  if (code) document.cookie = `{i18n.CHOSEN_COOKIE}=${{encodeURIComponent(code)}}; path=/; SameSite=Lax`;
}};
write();
new MutationObserver(write).observe(element, {{subtree: true, childList: true, characterData: true}});
"""


def language_marker() -> gr.HTML:
    """The hidden element that keeps the language cookie equal to the language the page shows."""
    return gr.HTML(tr("language.code"), js_on_load=LANGUAGE_SCRIPT, visible="hidden", elem_id="plm-language")


# Event settings. Short requests (one or a few forwards) share the app's default limit; long work
# (sweeps, training runs) queues on its own, one at a time, so it never starves short requests.
UNEXPECTED = "Something went wrong ({kind}: {detail}). The app is still running; try other input."
SHORT_WORK = dict(concurrency_id="model-forward")
LONG_WORK = dict(concurrency_id="long-work", concurrency_limit=1)


def user_errors(fn):
    """Serve a handler in the request's language, on the cores it may use, and turn its failures into
    messages for people.

    The page's language (the cookie its language marker writes, else the browser's Accept-Language;
    an API client without either gets English) is set for the handler's duration, so plots, tables and ExplorerError messages use it. An
    ExplorerError (and any unexpected failure) becomes a gr.Error the page can show; the app keeps
    serving. While it computes, the request counts in `cores.RUNNING`, which picks its torch threads
    (alone or beside others; a stream decides again at each step). Works for plain functions and generators (streaming handlers) alike.
    """

    def to_gr_error(error: Exception) -> gr.Error:
        if isinstance(error, gr.Error):
            return error
        if isinstance(error, ExplorerError):
            return gr.Error(str(error))
        log.error("unexpected failure in %s:\n%s", fn.__name__, traceback.format_exc())
        return gr.Error(i18n.message(UNEXPECTED, {"kind": type(error).__name__, "detail": str(error)[:200]}))

    positional = [p for p in inspect.signature(fn).parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD]

    def language(args: tuple, kwargs: dict) -> tuple[str, tuple]:
        """The request's language, and the handler's own arguments (Gradio appends the request)."""
        request = kwargs.pop("request", None)
        if len(args) > len(positional):
            request, args = args[len(positional)], args[: len(positional)]
        return i18n.request_language(getattr(request, "headers", None) or {}), args

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            # Gradio may resume a stream on another worker thread: set the language for each step.
            (spoken, args), steps = language(args, kwargs), None
            while True:
                with i18n.speaking(spoken), cores.RUNNING.computing():
                    try:
                        steps = steps or fn(*args, **kwargs)
                        item = next(steps)
                    except StopIteration:
                        return
                    except Exception as error:  # noqa: BLE001 - reported to the user, logged above
                        raise to_gr_error(error) from error
                yield item

        return _with_request_parameter(stream, fn)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        spoken, args = language(args, kwargs)
        with i18n.speaking(spoken), cores.RUNNING.computing():
            try:
                return fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001
                raise to_gr_error(error) from error

    return _with_request_parameter(call, fn)


def _with_request_parameter(wrapper, fn):
    """Show Gradio the handler's own parameters plus `request: gr.Request` (Gradio fills it in)."""
    signature = inspect.signature(fn)
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), request])
    wrapper.__annotations__ = {**getattr(fn, "__annotations__", {}), "request": gr.Request}
    return wrapper


def payload(value):
    """Dataclasses to plain JSON: dicts and lists, with NaN/Infinity replaced by null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: payload(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [payload(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _checked(component, preprocess, payload):
    """Run Gradio's own number check, with a message that names the input and its range."""
    try:
        return preprocess(payload)
    except (gr.Error, TypeError, ValueError, OverflowError):
        low, high = component.minimum, component.maximum
        whole = getattr(component, "precision", None) == 0
        allowed = checks.describe_range(low, high, integer=whole)
        label = component.label
        name = t(label.key) if hasattr(label, "key") else (label or i18n.message("A number", {}))
        raise gr.Error(
            i18n.message(
                "{name}: {value!r} is not allowed; allowed: {allowed}.",
                {"name": name, "value": str(payload)[:80], "allowed": allowed},
            )
        ) from None


class Slider(gr.Slider):
    """gr.Slider whose refusals name the input: Gradio's own say "Value 99 is greater than maximum
    value 29" without saying which input, and a non-number (text, a list) gets no message at all."""

    is_template = True  # drawn by the front end as a plain slider

    def preprocess(self, payload):
        return _checked(self, super().preprocess, payload)


class Number(gr.Number):
    """gr.Number whose refusals name the input (NaN for a whole number otherwise fails silently)."""

    is_template = True

    def preprocess(self, payload):
        return _checked(self, super().preprocess, payload)


def model_choices(kind: models.Kind | None = None) -> list[tuple[str, str]]:
    """Dropdown choices: every registered model of `kind`, the unavailable ones marked."""
    choices = []
    for info in models.list_models():
        if kind is None or info.kind == kind:
            label = info.name if info.available else t("common.not_available", name=info.name)
            choices.append((label, info.name))
    return choices


def model_dropdown(kind: models.Kind = "causal", label=None) -> gr.Dropdown:
    """Every model of `kind`, after "Default": '' lets the registry pick by the request's language
    (a Chinese page gets Gemma-3-270M, which reads Chinese)."""
    return gr.Dropdown(
        choices=[(tr(f"common.default_{kind}"), ""), *model_choices(kind)],
        value="",
        label=label or tr("common.model"),
        allow_custom_value=True,  # '' (the default) and unknown names reach the registry, which explains
        info=tr("common.model_info"),
    )


def localized_defaults(pairs: list) -> None:
    """Inputs keep their English defaults, which are the API's; a page in another language gets each
    input's default in its language when it loads. `pairs`: (component, label key or function)."""

    def fill():
        from .links import set_by_link  # a permalink's values win (links builds on this module)

        if i18n.current() == i18n.DEFAULT:
            values = [gr.skip() for _ in pairs]
        else:
            values = [
                gr.skip() if set_by_link(component) else source() if callable(source) else t(source)
                for component, source in pairs
            ]
        return values[0] if len(values) == 1 else tuple(values)  # one output takes a value, not a 1-tuple

    Context.root_block.load(user_errors(fill), None, [component for component, _ in pairs], api_visibility="private")


def examples_menu(tab: str, examples: dict, outputs: list) -> gr.Dropdown:
    """The tab's "Lecture examples" menu: picking one fills `outputs` with what `examples[name]()`
    returns, written in the page's language (the functions call `t(...)`); labels "<tab>.example.<name>"."""
    menu = gr.Dropdown(
        choices=[(tr(f"{tab}.example.{name}"), name) for name in examples],
        value=None,
        label=tr("common.examples"),
        info=tr("common.examples_info"),
    )

    def fill(name: str):
        if name not in examples:
            return tuple(gr.skip() for _ in outputs)
        return examples[name]()

    menu.select(user_errors(fill), menu, outputs, api_visibility="private")
    return menu


def json_panel() -> gr.JSON:
    """The API payload of a tab's last result, folded away under the plots."""
    with gr.Accordion(tr("common.json"), open=False):
        return gr.JSON()


def gradio_progress(progress: gr.Progress):
    """Adapt gr.Progress to the compute modules' plain `progress(fraction, message)` callback."""

    def report(fraction: float, message: str) -> None:
        progress(fraction, desc=message)

    return report


def table(headers: list[str], rows: list[list] | None = None, **options) -> gr.Dataframe:
    """A table whose column headers are the labels `headers`: gr.Dataframe shows translation keys
    raw, so the headers are written by the server, in English when built and in the page's language
    when it loads; handlers return `table_rows(headers, rows)` to keep them so."""
    component = gr.Dataframe(table_rows(headers, rows or []), **options)
    localized_defaults([(component, lambda: table_rows(headers, rows or []))])
    return component


def table_rows(headers: list[str], rows: list[list]) -> pd.DataFrame:
    """Rows under the headers `headers` (label keys), written in the language of the request."""
    return pd.DataFrame(rows, columns=[t(key) for key in headers])
