"""Models held by serving processes: loaded once per process, swapped when the champion moves."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from core import metrics
from core.errors import NoChampionError
from core.model_registry import ModelRegistry
from core.prediction import Classifier, freeze_heap
from core.registry import LoadedModel

logger = logging.getLogger(__name__)


def classifier_for(loaded: LoadedModel, *, top_k: int = 3) -> Classifier:
    """A loaded version ready to serve, with the calibration and threshold stored with it."""
    return Classifier(loaded.pipeline, name=loaded.name, version=loaded.version, top_k=top_k,
                      temperature=loaded.temperature,
                      auto_file_threshold=loaded.auto_file_threshold,
                      separator=loaded.separator, level_thresholds=loaded.level_thresholds)


class ChampionHolder:
    """The champion as this process serves it.

    `refresh()` asks the registry which version is champion and, if it moved, loads the new one
    and swaps the reference; requests in flight keep the model they started with. If the
    registry is unreachable the cached model keeps answering.
    """

    def __init__(self, registry: ModelRegistry, *, top_k: int = 3) -> None:
        self.registry = registry
        self.top_k = top_k
        self._classifier: Classifier | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        # The challenger alias, read on every refresh: the shadow scores sampled names with it.
        self.challenger_version: int | None = None

    @property
    def classifier(self) -> Classifier:
        classifier = self._classifier
        if classifier is None:
            raise NoChampionError("no champion model yet: train one first")
        return classifier

    @property
    def loaded(self) -> bool:
        return self._classifier is not None

    def refresh(self) -> bool:
        """Load the champion if it changed; True if a new model is now served."""
        with self._lock:  # one load at a time per process
            self._read_challenger()
            try:
                version = self.registry.champion_version()
                current = self._classifier
                if version is None or (current is not None and current.version == version):
                    self.last_error = None if version is not None else "no champion yet"
                    return False
                loaded = self.registry.load(version)
            except Exception as exc:  # keep serving what we have
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                logger.warning("champion refresh failed, serving the cached model: %s", exc)
                return False
            self._classifier = classifier_for(loaded, top_k=self.top_k)
            self.last_error = None
            metrics.set_model_version("champion", loaded.version)
            freeze_heap()  # the new model lives as long as it serves
            logger.info("now serving %s v%s", loaded.name, loaded.version)
            return True


    def _read_challenger(self) -> None:
        try:
            self.challenger_version = self.registry.challenger_version()
        except Exception as exc:  # the shadow pauses; serving does not
            logger.debug("challenger alias unreadable: %s", exc)


class VersionCache:
    """Model versions a worker process has loaded, newest kept, so each loads once."""

    def __init__(self, registry: ModelRegistry, *, top_k: int = 3, size: int = 2) -> None:
        self.registry = registry
        self.top_k = top_k
        self.size = size
        self._models: OrderedDict[int, Classifier] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: int) -> Classifier:
        with self._lock:
            metrics.set_model_version("batch", version)
            if version in self._models:
                self._models.move_to_end(version)
                return self._models[version]
            loaded = self.registry.load(version)
            classifier = classifier_for(loaded, top_k=self.top_k)
            self._models[version] = classifier
            while len(self._models) > self.size:
                self._models.popitem(last=False)
            freeze_heap()
            return classifier
