"""The settings object: defaults, and the combinations it refuses with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from core.config import Settings


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_a_job_is_stale_after_the_brokers_redelivery_window_plus_ten_minutes() -> None:
    assert _settings().stale_after == dt.timedelta(seconds=2 * 3600 + 600)
    assert _settings(training_time_limit=60).stale_after == dt.timedelta(seconds=720)
    assert _settings(job_stale_seconds=4000).stale_after == dt.timedelta(seconds=4000)


def test_a_stale_time_within_a_training_s_time_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"JOB_STALE_SECONDS \(3600\) must exceed "
                                              r"TRAINING_TIME_LIMIT \(3600\)"):
        _settings(job_stale_seconds=3600)


def test_production_refuses_a_placeholder_admin_key() -> None:
    with pytest.raises(ValidationError, match="ADMIN_API_KEY is unset or a placeholder"):
        _settings(environment="production", admin_api_key="change-me")
    assert _settings(environment="production", admin_api_key="a-real-key").environment == (
        "production")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEP_SECONDS", "5")
    monkeypatch.setenv("JOB_MAX_RESENDS", "0")

    settings = _settings()

    assert (settings.sweep_seconds, settings.job_max_resends) == (5.0, 0)
