import threading
import time
from pathlib import Path

import pytest

from explorer import cache, hub, i18n, models
from explorer.bundled import SOURCES
from explorer.checks import ExplorerError

ROOT = Path(__file__).resolve().parents[1]


def test_empty_name_is_the_bundled_default():
    assert models.resolve("").name == models.BUNDLED_NAME
    assert models.resolve("", "causal").bundled


@pytest.mark.parametrize("name", ["no-such-model", "../../etc/passwd", "http://example.com/model", "/tmp"])
def test_unknown_names_are_refused_with_the_choices(name):
    with pytest.raises(ExplorerError, match="Unknown model.*SmolLM2-135M-Instruct"):
        models.resolve(name)


def test_kind_mismatch_is_explained():
    with pytest.raises(ExplorerError, match="causal model, but this needs a masked"):
        models.resolve(models.BUNDLED_NAME, "masked")


def test_registry_lists_every_model_and_the_bundled_one_is_available():
    infos = {info.name: info for info in models.list_models()}
    assert set(infos) == set(models.REGISTRY)
    for name in (models.BUNDLED_NAME, "Gemma-3-270M"):
        info = infos[name]
        assert info.available and info.source == "bundled" and info.kind == "causal" and info.why_unavailable is None
    assert {info.kind for info in infos.values()} == {"causal", "masked"}
    assert {name for name, spec in models.REGISTRY.items() if spec.bundled} == set(SOURCES)


def test_gemma_is_a_base_model_whose_terms_ship_in_the_repository():
    gemma = next(info for info in models.list_models() if info.name == "Gemma-3-270M")
    assert gemma.base and not gemma.chat and gemma.params == 268_098_176
    assert (
        gemma.licence.startswith("Gemma Terms of Use: licenses/gemma/") and "ai.google.dev/gemma/terms" in gemma.licence
    )
    for file in ("GEMMA_TERMS.html", "NOTICE.md"):
        assert (ROOT / "licenses" / "gemma" / file).stat().st_size > 300


def test_every_model_reports_a_licence_field():
    infos = {info.name: info for info in models.list_models()}
    assert infos["gpt2"].licence == "MIT: https://huggingface.co/openai-community/gpt2"
    assert infos[models.BUNDLED_NAME].licence.startswith("Apache-2.0: ")
    assert models.ModelInfo("x", "causal", "hub", False, None, False, False, "why").licence is None


def test_warm_up_loads_every_available_bundled_model_in_turn_smollm2_first(monkeypatch):
    asked = []
    monkeypatch.setattr(models, "get", lambda name: asked.append(name))
    models.warm_up().join(timeout=10)
    assert asked == [models.BUNDLED_NAME, "Gemma-3-270M"]


@pytest.mark.skipif(hub.reachable(), reason="the hub is reachable here")
def test_offline_hub_models_are_unavailable_with_advice():
    spec = models.REGISTRY["gpt2"]
    if hub.is_cached_on_disk(spec.hub_id):
        pytest.skip("gpt2 is in the local cache")
    info = next(i for i in models.list_models() if i.name == "gpt2")
    assert not info.available and "bundled model" in info.why_unavailable
    with pytest.raises(ExplorerError, match="not available.*pick the bundled model"):
        models.get("gpt2")


def test_bundled_model_is_cached_as_safetensors_and_counted(bundled):
    folder = SOURCES[models.BUNDLED_NAME].folder()
    assert (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()
    assert bundled.num_params == models.REGISTRY[models.BUNDLED_NAME].published_params
    assert bundled.context_length == 8192 and not bundled.model.training


def test_eight_users_asking_at_once_load_once(monkeypatch):
    loads = []

    def slow_load(spec, attn, progress):
        loads.append(spec.name)
        time.sleep(0.2)
        return models.LoadedModel(spec, model=None, tokenizer=None, source="bundled")

    monkeypatch.setattr(models, "_load", slow_load)
    monkeypatch.setattr(models, "_CACHE", cache.LRU(2))
    results = []
    threads = [threading.Thread(target=lambda: results.append(models.get(""))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [models.resolve("").name] and len({id(r) for r in results}) == 1


def test_evicting_a_model_drops_what_was_computed_from_it(monkeypatch):
    monkeypatch.setattr(models, "_load", lambda spec, attn, progress: models.LoadedModel(spec, None, None, "hub"))
    monkeypatch.setattr(models, "_CACHE", cache.LRU(1, on_evict=lambda key, _: cache.evict(key[0])))
    derived = cache.named("test-derived", 4)
    models.get("gpt2")
    derived.get(("gpt2", "some text"), lambda: "forward of gpt2")
    models.get("distilgpt2")  # evicts gpt2
    assert models.loaded("gpt2") is None and models.loaded("distilgpt2") is not None
    assert derived.peek(("gpt2", "some text")) is None


def test_the_default_causal_model_follows_the_interface_language():
    assert models.default_model("causal") == models.BUNDLED_NAME
    with i18n.speaking("zh-CN"):
        assert models.default_model("causal") == models.GEMMA_NAME
        assert models.resolve("").name == models.GEMMA_NAME


def test_the_masked_lm_methods_pick_their_model_kind():
    with pytest.raises(ExplorerError, match="causal .* cannot run masked-lm.*or the method causal-rescoring"):
        models.resolve_for("masked-lm", models.BUNDLED_NAME)
    with pytest.raises(ExplorerError, match="Unknown model"):
        models.resolve_for("auto", "no-such-model")
    with pytest.raises(ExplorerError, match="masked .* cannot run causal-rescoring, which needs a causal model"):
        models.resolve_for("causal-rescoring", "bert-base-uncased")
    with pytest.raises(ExplorerError, match="method must be one of"):
        models.resolve_for("guess", "")
    assert models.resolve_for("auto", models.BUNDLED_NAME).kind == "causal"  # runs causal-rescoring
    assert models.resolve_for("auto", "bert-base-uncased").kind == "masked"  # runs masked-lm
    assert models.resolve_for("causal-rescoring", None).name == models.BUNDLED_NAME  # a cleared dropdown


def test_empty_model_picks_a_masked_lm_when_one_is_available(monkeypatch):
    monkeypatch.setattr(
        models, "default_model", lambda kind: "distilroberta-base" if kind == "masked" else models.BUNDLED_NAME
    )
    assert models.resolve_for("auto", "").name == "distilroberta-base"
    monkeypatch.setattr(models, "default_model", lambda kind: None if kind == "masked" else models.BUNDLED_NAME)
    assert models.resolve_for("auto", "").name == models.BUNDLED_NAME
    with pytest.raises(ExplorerError, match="No masked model is available"):
        models.resolve_for("masked-lm", "")
