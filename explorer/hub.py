"""The model hub: is it reachable, is a model in the local Hugging Face cache, load one from there.

Offline (as on these machines) the hub is never reachable, and hub models load only from the
local cache; where a network exists they download once and are cached.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlparse

from . import cache, i18n
from .bundled import Progress

RECHECK_SECONDS = 300  # a network can come and go: reachability is probed again after this


def is_cached_on_disk(hub_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(hub_id, "config.json"), str)


def _probe(timeout: float = 2.0) -> bool:
    """Can we open a connection to the hub? (Never true offline.)"""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    # DNS look-ups ignore socket timeouts, so the probe runs in a thread we stop waiting for.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


reachable = cache.Expiring(RECHECK_SECONDS, _probe)


def load(hub_id: str, kind: str, attn: str, progress: Progress):
    """The model and tokenizer from the hub, or from the local cache when the hub is out of reach
    (raises OSError when neither has it). Never runs code from the hub (no trust_remote_code)."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    offline = not reachable()
    where = i18n.message("the local cache" if offline else "the hub", {})
    progress(0.2, i18n.message("Loading {hub_id} from {where}", {"hub_id": hub_id, "where": where}))
    auto = AutoModelForCausalLM if kind == "causal" else AutoModelForMaskedLM
    tokenizer = AutoTokenizer.from_pretrained(hub_id, local_files_only=offline)
    model = auto.from_pretrained(hub_id, local_files_only=offline, attn_implementation=attn)
    return model, tokenizer
