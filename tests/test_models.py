import threading
import time

import pytest

from explorer import cache, models
from explorer.checks import ExplorerError


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
    bundled = infos[models.BUNDLED_NAME]
    assert bundled.available and bundled.source == "bundled" and bundled.kind == "causal"
    assert {info.kind for info in infos.values()} == {"causal", "masked"}


@pytest.mark.skipif(models.hub_reachable(), reason="the hub is reachable here")
def test_offline_hub_models_are_unavailable_with_advice():
    spec = models.REGISTRY["gpt2"]
    if models.is_cached_on_disk(spec.hub_id):
        pytest.skip("gpt2 is in the local cache")
    info = next(i for i in models.list_models() if i.name == "gpt2")
    assert not info.available and "bundled model" in info.why_unavailable
    with pytest.raises(ExplorerError, match="not available.*pick the bundled model"):
        models.get("gpt2")


def test_bundled_model_is_cached_as_safetensors_and_counted(bundled):
    folder = models._dequantised_folder(models.bundled_gguf())
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
