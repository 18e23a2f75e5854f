"""One settings object for the API, the workers and the CLI, read from the environment."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.data import SAMPLE_CATALOG

PLACEHOLDER_KEYS = {"", "change-me", "changeme", "admin", "secret"}


class Settings(BaseSettings):
    """Everything configurable, with defaults that need no server at all."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(default=Path("data"), description="Where the embedded stores live.")

    redis_url: str | None = Field(
        default=None, description="Celery broker; unset means the embedded filesystem broker."
    )
    database_url: str | None = Field(
        default=None, description="Jobs and batch rows; default SQLite under DATA_DIR."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking and registry; default SQLite under DATA_DIR."
    )
    admin_api_key: SecretStr = SecretStr("change-me")
    reviewer_api_key: SecretStr | None = Field(
        default=None,
        description="Key of the reviewer role: reads the review queue and labels and decides "
                    "items (the admin key may too); unset means only the admin reviews.",
    )

    host: str = Field(default="127.0.0.1", description="Where `make run` serves the API.")
    port: int = Field(default=8000, ge=1, le=65535, description="The API's port for `make run`.")

    training_data: str | None = Field(
        default=None,
        description="Source for the deprecated GET /training: a CSV file under "
                    "TRAINING_DATA_DIRS, or the name of a TRAINING_SOURCES connection (with "
                    "TRAINING_TABLE); default the sample catalog. Checked like a request.",
    )
    training_table: str | None = Field(
        default=None, description="Table for a TRAINING_DATA that names a SQL source.")

    # Where training data may come from (core/sources.py; SECURITY.md).
    training_data_dirs: Annotated[list[Path] | None, NoDecode] = Field(
        default=None,
        description="Folders whose regular files a training request may name (a JSON list or "
                    "paths separated by ':'); default the sample catalog's folder and "
                    "DATA_DIR/catalogs.",
    )
    training_sources: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='SQL connections a training request may name, as JSON: {"erp": '
                    '"postgresql+psycopg://reader@db/erp"}. PostgreSQL and SQLite only; a '
                    "request never carries a URL.",
    )
    training_queries: bool = Field(
        default=False,
        description="Allow a training request to send a `query` (one SELECT, run read-only "
                    "over the tables of a named source) instead of a `table`.",
    )
    training_connect_timeout: int = Field(
        default=5, ge=1, le=300, description="Seconds to reach a SQL training source.")
    training_statement_timeout: int = Field(
        default=120, ge=1, le=86_400,
        description="Seconds a SQL training source's read may run.")

    model_name: str = "product-categorizer"
    experiment_name: str = "product-categorizer"

    # Training (see core/training.py).
    prior_weight: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="Weight of each built-in sample-catalog row added to a store's training "
                    "rows as a vocabulary prior, when the store uses the same categories; "
                    "0 turns it off.",
    )

    category_separator: str = Field(
        default=" > ", min_length=1, max_length=10,
        description="What separates the levels of a category path (`Herramientas > Taladros`); "
                    "matched with or without its surrounding spaces.",
    )

    # Auto-filing (see core/thresholds.py): a version files a name with no human look when its
    # calibrated confidence reaches the version's threshold, chosen at training so that the
    # precision of the names so filed is at least AUTO_FILE_PRECISION with probability
    # 1 - AUTO_FILE_DELTA.
    auto_file_precision: float = Field(
        default=0.995, gt=0.0, lt=1.0,
        description="Precision the auto-filed names must reach (a lower confidence bound).",
    )
    auto_file_delta: float = Field(
        default=0.05, gt=0.0, lt=1.0,
        description="Chance allowed that the auto-file threshold misses AUTO_FILE_PRECISION.",
    )
    calibration_folds: int = Field(
        default=10, ge=2, le=50,
        description="Duplicate-grouped folds of the out-of-fold predictions that calibration "
                    "and the auto-file threshold are fitted on (more: fold models closer to "
                    "the final one, and a longer training).",
    )

    # Promotion gate (see core/registry.py for why both numbers exist).
    promotion_min_delta: float = Field(default=0.0, ge=0.0, le=1.0)
    promotion_alpha: float = Field(default=0.05, gt=0.0, le=1.0)

    top_k: int = Field(default=3, ge=1, le=20)
    max_name_length: int = Field(default=500, ge=1)
    max_id_length: int = Field(default=200, ge=1, le=10_000,
                               description="Longest batch item id, in characters.")
    max_inference_items: int = Field(default=1000, ge=1)
    max_batch_rows: int = Field(default=2_000_000, ge=1)
    max_request_bytes: int = Field(default=64 * 1024 * 1024, ge=1024,
                                   description="Largest JSON body accepted.")
    max_upload_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    batch_chunk_size: int = Field(default=5000, ge=1)
    intake_processes: int = Field(
        default=1, ge=0, le=64,
        description="Processes per API process that read, check and chunk submitted batches "
                    "(0: the API process's own threads, which slows its inference meanwhile).")
    intake_at_startup: bool = Field(
        default=True,
        description="Start the intake processes with the API, so that the first batch does not "
                    "start them while inference requests are being answered; false: at the "
                    "first batch.")
    model_refresh_seconds: float = Field(default=5.0, gt=0)

    training_time_limit: int = Field(default=3600, ge=10, description="Hard limit, seconds.")
    batch_chunk_time_limit: int = Field(default=600, ge=10, description="Hard limit, seconds.")
    task_max_retries: int = Field(default=3, ge=0)
    result_expires: int = Field(default=24 * 3600, ge=60)
    job_ttl_days: int = Field(default=30, ge=1,
                              description="Ended jobs and their rows are deleted after this.")
    # The job sweeper (core/sweeper.py), run by every API process.
    sweep_seconds: float = Field(
        default=60.0, gt=0,
        description="How often the API looks for jobs nothing is heard of and old ended jobs.",
    )
    job_stale_seconds: int | None = Field(
        default=None, ge=1,
        description="A queued or running job silent this long is sent again; default the "
                    "broker's visibility timeout (2 x TRAINING_TIME_LIMIT) plus 10 minutes.",
    )
    # Leases on running work (core/leases.py): a lost worker's chunk or training is sent again
    # once its lease expires, in about LEASE_SECONDS, not after the visibility timeout.
    heartbeat_seconds: float = Field(
        default=10.0, gt=0,
        description="How often a worker renews the lease on the work it runs, and how often "
                    "the API looks for expired leases.",
    )
    lease_seconds: float = Field(
        default=60.0, gt=0,
        description="A lease not renewed for this long has lost its worker: the work is sent "
                    "again (at most TASK_MAX_RETRIES times, then the job fails).",
    )
    job_max_resends: int = Field(
        default=3, ge=0,
        description="Sends after which a still-silent job is failed with the reason.",
    )

    # Monitoring (core/metrics.py, core/drift.py, core/shadow.py, core/retrain.py).
    metrics_enabled: bool = Field(
        default=True, description="Prometheus metrics: GET /metrics and the recording behind it.")
    metrics_refresh_seconds: float = Field(
        default=15.0, gt=0,
        description="How often the API reads queue depth, jobs by state and drift for /metrics.",
    )
    metrics_max_categories: int = Field(
        default=50, ge=1,
        description="Categories that get their own `category` label value; beyond it, the "
                    "top level of a category path, or `_other` (see README, Monitoring).",
    )
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="Where each worker node serves /metrics for all its pool processes; "
                    "unset: no worker metrics.",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the worker metrics port listens on (0.0.0.0 in containers).",
    )
    shadow_sample_rate: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="Share of synchronous requests also scored by the challenger, off the "
                    "request path (every batch chunk is).",
    )
    shadow_max_disagreements: int = Field(
        default=500, ge=1, description="Disagreeing names kept per challenger.")
    shadow_min_labelled: int = Field(
        default=20, ge=1,
        description="Labelled disagreeing names a challenger's shadow record needs before a "
                    "promotion by hand is refused for doing worse on them (core.promotion).",
    )
    drift_window_hours: float = Field(
        default=24.0, gt=0, description="Live profiles older than this leave the drift window.")
    drift_window_max_profiles: int = Field(
        default=500, ge=1, description="Live profiles kept at most (the oldest go first).")
    drift_flush_seconds: float = Field(
        default=30.0, gt=0, description="How often the API stores its live profile.")
    drift_min_rows: int = Field(
        default=100, ge=1, description="Rows the window needs before a signal leaves `no_data`.")
    drift_psi_warn: float = Field(default=0.1, ge=0, description="PSI from which a signal warns.")
    drift_psi_alert: float = Field(default=0.25, ge=0, description="PSI from which it alerts.")
    drift_oov_warn: float = Field(
        default=0.05, ge=0, description="Rise in the out-of-vocabulary share that warns.")
    drift_oov_alert: float = Field(default=0.15, ge=0, description="... and that alerts.")
    drift_review_warn: float = Field(
        default=0.05, ge=0, description="Rise in the share sent to review that warns.")
    drift_review_alert: float = Field(default=0.15, ge=0, description="... and that alerts.")
    retrain_on_drift: bool = Field(
        default=False,
        description="Queue a training job when a drift signal is in `alert` (off by default).",
    )
    retrain_after_labels: int | None = Field(
        default=None, ge=1,
        description="Queue a training job once this many labels arrived since the champion "
                    "was trained (or since the last automatic retrain); unset: off.",
    )
    retrain_min_interval_seconds: int = Field(
        default=6 * 3600, ge=60,
        description="Automatic training jobs are at least this far apart.",
    )

    @field_validator("training_data_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(os.pathsep) if part.strip()]
        return value

    @field_validator("training_sources")
    @classmethod
    def _sql_sources_we_can_read_safely(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, url in value.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                raise ValueError(f"TRAINING_SOURCES name {name!r}: use letters, digits, _ . -")
            scheme = url.get_secret_value().split(":", 1)[0].split("+", 1)[0].lower()
            if scheme not in {"postgresql", "postgres", "sqlite"}:
                raise ValueError(
                    f"TRAINING_SOURCES {name!r}: only postgresql and sqlite URLs can be "
                    f"read read-only and with timeouts (got a {scheme or 'malformed'} URL)")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        key = self.admin_api_key.get_secret_value()
        if self.environment != "development" and key in PLACEHOLDER_KEYS:
            raise ValueError(
                "ADMIN_API_KEY is unset or a placeholder; set a real key outside development"
            )
        reviewer = self.reviewer_api_key.get_secret_value() if self.reviewer_api_key else None
        if reviewer:
            if self.environment != "development" and reviewer in PLACEHOLDER_KEYS:
                raise ValueError("REVIEWER_API_KEY is a placeholder; set a real key or unset it")
            if reviewer == key:
                raise ValueError("REVIEWER_API_KEY must differ from ADMIN_API_KEY")
        return self

    @model_validator(mode="after")
    def _stale_after_outlasts_a_training(self) -> Settings:
        stale = self.job_stale_seconds
        if stale is not None and stale <= self.training_time_limit:
            raise ValueError(
                f"JOB_STALE_SECONDS ({self.job_stale_seconds}) must exceed TRAINING_TIME_LIMIT "
                f"({self.training_time_limit}): a training still running would be sent again"
            )
        return self

    @model_validator(mode="after")
    def _lease_outlasts_heartbeats(self) -> Settings:
        if self.lease_seconds < 2 * self.heartbeat_seconds:
            raise ValueError(
                f"LEASE_SECONDS ({self.lease_seconds:g}) must be at least twice "
                f"HEARTBEAT_SECONDS ({self.heartbeat_seconds:g}): one late heartbeat would "
                "otherwise send running work to a second worker"
            )
        return self

    @property
    def stale_after(self) -> dt.timedelta:
        """How long a job may stay silent before the sweeper sends it again."""
        seconds = self.job_stale_seconds or 2 * self.training_time_limit + 600
        return dt.timedelta(seconds=seconds)

    @property
    def training_roots(self) -> list[Path]:
        """The folders a training file must be in, symlinks resolved."""
        dirs = self.training_data_dirs
        if dirs is None:
            dirs = [SAMPLE_CATALOG.parent, self.data_dir / "catalogs"]
        return [Path(os.path.realpath(d)) for d in dirs]

    def ensure_data_dir(self) -> None:
        """Create DATA_DIR, where the embedded stores live (called by entry points)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'jobs.db').resolve()}"

    @property
    def effective_tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.data_dir / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        return (self.data_dir / "mlartifacts").resolve()

    @property
    def broker_dir(self) -> Path:
        return (self.data_dir / "broker").resolve()


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
