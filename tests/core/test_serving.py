"""The champion as a serving process holds it, and the versions a worker process has loaded."""

from __future__ import annotations

import copy
import gc
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from sklearn.pipeline import Pipeline

from core.errors import NoChampionError, RegistryError
from core.serving import ChampionHolder, VersionCache
from tests.fixtures.app import FakeRegistry


@pytest.fixture
def two_versions(app_pipeline: Pipeline) -> FakeRegistry:
    """Versions 1 and 2 registered, v1 champion."""
    return FakeRegistry(pipelines={1: app_pipeline, 2: app_pipeline}, champion=1)


def test_loads_the_champion(two_versions: FakeRegistry) -> None:
    holder = ChampionHolder(two_versions, top_k=2)
    assert not holder.loaded

    assert holder.refresh() is True

    assert holder.loaded
    classifier = holder.classifier
    assert (classifier.name, classifier.version, classifier.top_k) == (
        "product-categorizer", 1, 2)
    assert len(classifier.predict("Tubo PVC 1/2\"").top_k) == 2
    assert holder.last_error is None


def test_a_refresh_without_a_change_loads_nothing(two_versions: FakeRegistry) -> None:
    holder = ChampionHolder(two_versions)
    holder.refresh()
    first = holder.classifier

    assert holder.refresh() is False

    assert holder.classifier is first
    assert two_versions.loads == [1]


def test_swaps_to_a_new_champion_and_keeps_the_old_for_requests_in_flight(
    two_versions: FakeRegistry,
) -> None:
    holder = ChampionHolder(two_versions)
    holder.refresh()
    in_flight = holder.classifier

    two_versions.promote(2)
    assert holder.refresh() is True

    assert holder.classifier.version == 2
    assert in_flight.version == 1  # a request holding the old model finishes with it
    assert two_versions.loads == [1, 2]


def test_keeps_serving_the_cached_model_while_the_registry_is_down(
    two_versions: FakeRegistry,
) -> None:
    holder = ChampionHolder(two_versions)
    holder.refresh()
    two_versions.down = True

    assert holder.refresh() is False

    assert holder.classifier.version == 1
    assert holder.last_error == "ConnectionError: MLflow tracking server unreachable"
    two_versions.down = False
    two_versions.promote(2)
    assert holder.refresh() is True  # and recovers when the registry is back
    assert (holder.classifier.version, holder.last_error) == (2, None)


def test_a_champion_that_fails_to_load_leaves_the_old_one_serving(
    two_versions: FakeRegistry,
) -> None:
    holder = ChampionHolder(two_versions)
    holder.refresh()
    two_versions.champion = 7  # an alias pointing at a version whose artifact cannot be loaded

    assert holder.refresh() is False

    assert holder.classifier.version == 1
    assert "RegistryError" in (holder.last_error or "")


def test_no_champion_error_until_there_is_one(two_versions: FakeRegistry) -> None:
    two_versions.champion = None
    holder = ChampionHolder(two_versions)

    assert holder.refresh() is False

    assert not holder.loaded
    assert holder.last_error == "no champion yet"
    with pytest.raises(NoChampionError, match="no champion model yet"):
        _ = holder.classifier
    two_versions.champion = 1
    assert holder.refresh() is True
    assert holder.classifier.version == 1


def test_concurrent_refreshes_load_the_new_champion_once(two_versions: FakeRegistry) -> None:
    holder = ChampionHolder(two_versions)
    threads = [threading.Thread(target=holder.refresh) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert two_versions.loads == [1]
    assert holder.classifier.version == 1


# -- VersionCache --------------------------------------------------------------------------------

def test_each_version_is_loaded_once(two_versions: FakeRegistry) -> None:
    cache = VersionCache(two_versions, top_k=3)

    first = cache.get(1)
    assert cache.get(1) is first
    second = cache.get(2)
    assert cache.get(2) is second
    assert cache.get(1) is first

    assert two_versions.loads == [1, 2]
    assert (first.version, second.version) == (1, 2)


def test_the_least_recently_used_version_is_dropped(two_versions: FakeRegistry,
                                                    app_pipeline: Pipeline) -> None:
    two_versions.add_version(app_pipeline)  # v3
    cache = VersionCache(two_versions, size=2)

    cache.get(1)
    cache.get(2)
    cache.get(1)  # 2 is now the least recently used
    cache.get(3)
    cache.get(1)
    cache.get(2)  # loaded again

    assert two_versions.loads == [1, 2, 3, 2]


def test_an_unknown_version_is_a_registry_error(two_versions: FakeRegistry) -> None:
    cache = VersionCache(two_versions)

    with pytest.raises(RegistryError, match="no version 9"):
        cache.get(9)
    assert cache.get(1).version == 1  # the failure cached nothing


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """Undo the holders' gc.freeze() after the test, for the rest of the test process."""
    yield
    gc.unfreeze()


def test_a_swapped_out_model_is_freed_although_the_heap_is_frozen(
    app_pipeline: Pipeline, frozen_heap: None,
) -> None:
    # Distinct pipeline objects per version, as loading from the registry gives.
    registry = FakeRegistry(pipelines={1: copy.deepcopy(app_pipeline),
                                       2: copy.deepcopy(app_pipeline)}, champion=1)
    holder = ChampionHolder(registry)
    holder.refresh()
    old = holder.classifier
    old.predict_batch(["Tubo PVC 1/2\"", "Foco LED 9W"])  # fills the per-word cache
    # (The pipeline itself stays: the fake registry holds it, as a real one would not.)
    refs: list[weakref.ref[Any]] = [weakref.ref(old)]
    if old.lean is not None:
        refs += [weakref.ref(old.lean), *(weakref.ref(block) for block in old.lean.blocks)]
    assert gc.get_freeze_count() > 0  # the refresh froze what was alive

    registry.promote(2)
    assert holder.refresh() is True
    del old

    # No cycle holds the old model: reference counting alone frees it, frozen or not.
    assert [ref() for ref in refs] == [None] * len(refs)


def test_a_worker_cache_freezes_the_heap_once_it_holds_a_model(
    two_versions: FakeRegistry, frozen_heap: None,
) -> None:
    gc.unfreeze()
    cache = VersionCache(two_versions)
    cache.get(1)
    assert gc.get_freeze_count() > 0
