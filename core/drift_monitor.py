"""Live drift: serving processes and batch jobs add profiles to the window; reports compare it.

The synchronous route only appends its answers to a `LiveRecorder` (a list append per
request); every DRIFT_FLUSH_SECONDS the API turns what was recorded into one profile per model
version and stores it, off the request path. A batch chunk stores its own profile once its
results are stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.config import Settings
from core.drift import (
    STATE_LEVEL,
    Profile,
    Signal,
    Thresholds,
    VocabularyCheck,
    compare,
    profile,
    worst,
)
from core.monitoring_store import MonitoringStore, Window

logger = logging.getLogger(__name__)

Answer = tuple[str, str, float, str]  # name, category, confidence, decision


class LiveRecorder:
    """Answers this process gave since the last flush, at most `limit` of them (the rest are
    left out: the profile is then of a sample, which is all a distribution needs)."""

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._answers: dict[int, list[Answer]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def add(self, version: int, names: Sequence[str], predictions: Sequence[Any]) -> None:
        if self._count >= self.limit:
            return
        rows = [(n, p.category, p.confidence, p.decision)
                for n, p in zip(names, predictions, strict=True)]
        with self._lock:
            self._answers.setdefault(version, []).extend(rows)
            self._count += len(rows)

    def drain(self) -> dict[int, list[Answer]]:
        with self._lock:
            answers, self._answers, self._count = self._answers, {}, 0
        return answers


def answers_profile(answers: Sequence[Answer], vocabulary: VocabularyCheck | None) -> Profile:
    return profile(names=[a[0] for a in answers], categories=[a[1] for a in answers],
                   confidences=[a[2] for a in answers], decisions=[a[3] for a in answers],
                   vocabulary=vocabulary)


@dataclass(frozen=True)
class DriftReport:
    model_version: int | None
    state: str
    signals: dict[str, Signal]
    window: Window | None
    window_hours: float
    reference_rows: int | None

    def as_dict(self) -> dict[str, Any]:
        window = self.window
        return {
            "model_version": self.model_version,
            "state": self.state,
            "window": {
                "hours": self.window_hours,
                "start": window.start.isoformat() if window and window.start else None,
                "end": window.end.isoformat() if window and window.end else None,
                "profiles": window.profiles if window else 0,
                "rows": window.profile.rows if window else 0,
                "sources": dict(window.sources) if window else {},
            },
            "reference": None if self.reference_rows is None else {"rows": self.reference_rows},
            "signals": {name: s.as_dict() for name, s in self.signals.items()},
        }

    def gauges(self) -> tuple[dict[str, float | None], dict[str, int]]:
        return ({n: s.value for n, s in self.signals.items()},
                {n: STATE_LEVEL[s.state] for n, s in self.signals.items()})


class DriftMonitor:
    """Stores live profiles and compares the window of a version with its reference."""

    def __init__(self, *, store: MonitoringStore, registry: Any, settings: Settings) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self._references: dict[int, Profile] = {}
        self._vocabularies: dict[int, VocabularyCheck] = {}

    def vocabulary(self, version: int, pipeline: Any) -> VocabularyCheck:
        found = self._vocabularies.get(version)
        if found is None:
            found = VocabularyCheck(pipeline)
            self._vocabularies = {**dict(list(self._vocabularies.items())[-3:]), version: found}
        return found

    def add(self, *, version: int, source: str, live: Profile) -> None:
        s = self.settings
        self.store.add_profile(model_version=version, source=source, profile=live,
                               keep_for=dt.timedelta(hours=s.drift_window_hours),
                               max_profiles=s.drift_window_max_profiles)

    def flush(self, recorder: LiveRecorder, pipeline_of: Callable[[int], Any | None]) -> int:
        """Store one profile per version of what `recorder` holds; returns rows stored."""
        stored = 0
        for version, answers in recorder.drain().items():
            pipeline = pipeline_of(version)
            vocabulary = self.vocabulary(version, pipeline) if pipeline is not None else None
            self.add(version=version, source="sync", live=answers_profile(answers, vocabulary))
            stored += len(answers)
        return stored

    def reference(self, version: int) -> Profile | None:
        found = self._references.get(version)
        if found is None:
            raw = self.registry.reference_profile(version)
            if raw is None:
                return None  # asked again next time: it may be logged a moment later
            found = Profile.from_dict(raw)
            self._references[version] = found
        return found

    def report(self, version: int | None) -> DriftReport:
        hours = self.settings.drift_window_hours
        thresholds = Thresholds.from_settings(self.settings)
        if version is None:
            return DriftReport(None, "no_data", compare(Profile(), Profile(), thresholds),
                               None, hours, None)
        reference = self.reference(version)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
        window = self.store.window(version, since=since)
        signals = compare(reference or Profile(), window.profile, thresholds)
        return DriftReport(version, worst(signals), signals, window, hours,
                           reference.rows if reference is not None else None)
