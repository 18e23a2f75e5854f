"""core.monitoring_store: the bounded drift window and shadow records in the job store."""

from __future__ import annotations

import datetime as dt

import pytest

from core.drift import Profile, confidence_grid
from core.jobs import JobStore
from core.monitoring_store import Disagreement, MonitoringStore

DAY = dt.timedelta(days=1)


@pytest.fixture
def monitoring(job_store: JobStore) -> MonitoringStore:
    store = MonitoringStore(job_store.engine)
    store.create_schema()
    return store


def _profile(rows: int) -> Profile:
    return Profile(rows=rows, confidence=confidence_grid([0.9] * rows),
                   categories={"A": rows}, review=0)


def test_the_window_adds_up_a_versions_profiles_by_source(monitoring: MonitoringStore) -> None:
    monitoring.add_profile(model_version=2, source="sync", profile=_profile(3), keep_for=DAY,
                           max_profiles=10)
    monitoring.add_profile(model_version=2, source="batch", profile=_profile(5), keep_for=DAY,
                           max_profiles=10)
    monitoring.add_profile(model_version=1, source="batch", profile=_profile(7), keep_for=DAY,
                           max_profiles=10)

    window = monitoring.window(2, since=dt.datetime.now(dt.UTC) - DAY)

    assert window.profile.rows == 8
    assert window.profiles == 2
    assert window.sources == {"sync": 3, "batch": 5}
    assert window.start is not None
    assert window.end is not None
    assert window.start <= window.end


def test_the_window_keeps_at_most_the_newest_profiles(monitoring: MonitoringStore) -> None:
    for rows in range(1, 8):
        monitoring.add_profile(model_version=1, source="sync", profile=_profile(rows),
                               keep_for=DAY, max_profiles=3)

    window = monitoring.window(1, since=dt.datetime.now(dt.UTC) - DAY)

    assert window.profiles == 3
    assert window.profile.rows == 5 + 6 + 7


def test_profiles_older_than_the_window_are_dropped(monitoring: MonitoringStore) -> None:
    monitoring.add_profile(model_version=1, source="sync", profile=_profile(4), keep_for=DAY,
                           max_profiles=10)
    monitoring.add_profile(model_version=1, source="sync", profile=_profile(2),
                           keep_for=dt.timedelta(seconds=-1), max_profiles=10)

    window = monitoring.window(1, since=dt.datetime.now(dt.UTC) - DAY)

    assert window.profile.rows == 0  # the second insert pruned everything before "now + 1 s"


def _disagreement(i: int) -> Disagreement:
    return Disagreement(name=f"name {i}", champion_category="A", challenger_category="B",
                        champion_confidence=0.6, challenger_confidence=0.7, source="sync",
                        champion_version=1)


def test_shadow_tallies_add_up_and_disagreements_stay_bounded(
    monitoring: MonitoringStore,
) -> None:
    monitoring.add_shadow(challenger_version=2, champion_version=1, compared=10, agreed=8,
                          disagreements=[_disagreement(0), _disagreement(1)], keep=3)
    monitoring.add_shadow(challenger_version=2, champion_version=1, compared=5, agreed=3,
                          disagreements=[_disagreement(2), _disagreement(3)], keep=3)

    tallies = monitoring.shadow_tallies(2)
    kept = monitoring.disagreements(2)

    assert tallies is not None
    assert (tallies["compared"], tallies["agreed"]) == (15, 11)
    assert tallies["champion_versions"] == [1]
    assert [d.name for d in kept] == ["name 3", "name 2", "name 1"]
    assert monitoring.shadow_tallies(9) is None
