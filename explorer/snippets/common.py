"""What every snippet shares: loading the model the tab used, and the start of a scored document.

Templates are `string.Template`s (`$name` placeholders: Python code is full of braces); every value
goes in as its `repr`, so any text a user typed becomes a valid Python literal.
"""

from __future__ import annotations

from string import Template

from .. import bundled, models

# The start of a document, as explorer.lm.document_start_ids finds it.
DOCUMENT_START = """\
# A scored text is a whole document: it starts with <|endoftext|> where the model's pretraining
# documents were separated by it (GPT-2, SmolLM2, Qwen), else with its BOS token (Gemma's <bos>).
eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
start = [eot] if tokenizer.convert_ids_to_tokens(eot) == "<|endoftext|>" else [tokenizer.bos_token_id]
"""


def fill(template: str, **values) -> str:
    """`template` with each `$name` replaced by the repr of values[name] (a `Code` value as is)."""
    return Template(template).substitute({k: v if isinstance(v, Code) else repr(v) for k, v in values.items()})


class Code(str):
    """Text inserted into a template as code, not as a literal."""


def model_name(model: str, kind: models.Kind | None = "causal") -> str:
    """The registered name the tab resolves `model` to ('' = the default of `kind`, by the page's language)."""
    return models.resolve(model or "", kind).name


def where(model: str, stdlib: tuple[str, ...] = ()) -> tuple[str, str]:
    """(the standard-library imports, plus `stdlib`; the lines setting MODEL) for a registered model: a
    bundled model is read from the app's de-quantised copy of its GGUF (the weights the app runs), else
    from the hub."""
    spec = models.REGISTRY[model]
    try:
        folder = bundled.SOURCES[spec.name].folder().name if spec.bundled else None
    except (OSError, TypeError, AttributeError):  # its packages are not installed: the hub's copy
        folder = None
    names = sorted({*stdlib, "os"} if folder else set(stdlib))
    imports = "".join(f"import {name}\n" for name in names) + ("from pathlib import Path\n" if folder else "")
    if not folder:
        return imports, f"MODEL = {spec.hub_id!r}\n"
    return imports, (
        f"# The app's de-quantised copy of the bundled {spec.name} (the weights the app runs);\n"
        "# without it, the hub's original weights (their numbers differ a little).\n"
        'CACHE = Path(os.environ.get("PLM_EXPLORER_CACHE", Path.home() / ".cache" / "plm-explorer"))\n'
        f"LOCAL = CACHE / {folder!r}\n"
        f"MODEL = str(LOCAL) if LOCAL.exists() else {spec.hub_id!r}\n"
    )


def loading(
    model: str, loader: str = "AutoModelForCausalLM", options: str = "", imports: str = "", stdlib: tuple = ()
) -> Code:
    """The snippet's head: its imports (`stdlib` modules first, `imports` lines after transformers), MODEL,
    the tokenizer and `loader`'s model (with `options`, e.g. `attn_implementation="eager"`)."""
    standard, source = where(model, stdlib)
    arguments = f"MODEL, {options}" if options else "MODEL"
    return Code(
        (f"{standard}\n" if standard else "")
        + f"import torch\nfrom transformers import {loader}, AutoTokenizer\n{imports}\n{source}\n"
        f"tokenizer = AutoTokenizer.from_pretrained(MODEL)\n"
        f"model = {loader}.from_pretrained({arguments}).eval()\n"
    )
