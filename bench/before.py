"""The `explorer` package as it was at another commit, imported beside today's, for before/after benches.

    before = at_commit("a408a13", "masked_lm")  # a module named explorer_a408a13
    before.masked_lm.fill_mask(lm, lm, text)  # the old compute function, on a model loaded by today's code

Both versions then run in one process on the same loaded model, interleaved, so the shared machine's
load hits them alike and the ratio is the figure to quote. Compute functions only read a model's
attributes (`lm.model`, `lm.tokenizer`, `lm.spec`), so today's `LoadedModel` serves the old code too.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def at_commit(commit: str, *modules: str):
    """Extract `explorer/` at `commit` (git archive), import it as the package `explorer_<commit>`, and
    import its `modules` ("masked_lm", "generation.teacher_forcing", …) as attributes of it."""
    name = f"explorer_{commit}"
    if name in sys.modules:
        return _imported(sys.modules[name], modules)
    folder = Path(tempfile.mkdtemp(prefix=f"{name}_"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "explorer"], check=True, capture_output=True
    ).stdout
    archive_path = folder / "explorer.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(folder, filter="data")
    package = folder / "explorer"
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return _imported(module, modules)


def _imported(package, modules: tuple[str, ...]):
    for sub in modules:
        importlib.import_module(f"{package.__name__}.{sub}")  # a submodule becomes an attribute of its package
    return package
