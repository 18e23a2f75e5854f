"""The one module that talks to MLflow: run tracking, the model registry and its aliases.

Whether a new version replaces the champion is decided by `core.promotion` (see there); this
module loads the models it compares and moves the aliases.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sklearn.pipeline import Pipeline

from core.artifacts import confusion_figure, held_out_csv, metric_key, read_held_out_csv
from core.data import Catalog
from core.errors import NoChampionError, RegistryError, RegistryUnavailable
from core.promotion import (
    PromotionDecision,
    PromotionGate,
    Verdict,
    champion_unloadable,
    compare,
    first_model,
)
from core.taxonomy import DEFAULT_SEPARATOR
from core.training import TrainParams, TrainResult

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
_RUNTIME_PACKAGES = ("scikit-learn", "numpy", "scipy", "nltk", "stop-words", "skops")
# Models are stored with skops, not pickle: loading refuses any type not listed here, so a
# tampered artifact cannot run code. Our own transformer is the one type skops must be told of.
# The random-forest baseline's trees are sklearn's own Tree type (skops flags it because a crafted
# one can crash predict; ours come only from our own registry).
TRUSTED_TYPES = ["core.preprocessing.ProductNameNormalizer", "sklearn.tree._tree.Tree",
                 "core.models.CompactTfidfVectorizer", "core.hierarchy.LocalClassifiers",
                 "scipy.sparse._csr.csr_matrix"]
# With more categories than these, per-category metrics stay in evaluation/metrics.json only
# (MLflow would get three metrics per category) and no confusion-matrix figure is drawn.
MAX_CATEGORY_METRICS = 50
MAX_CONFUSION_CATEGORIES = 30


_NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def _not_found(exc: Exception) -> bool:
    """True when MLflow answered 'no such thing'; anything else means it did not answer."""
    return getattr(exc, "error_code", None) in _NOT_FOUND_CODES


@dataclass(frozen=True)
class ModelVersionInfo:
    version: int
    aliases: list[str]
    run_id: str
    created_at: float
    metrics: dict[str, float]


@dataclass(frozen=True)
class VersionDetails:
    version: int
    run_id: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    figures: list[str]  # artifact paths of the PNGs under evaluation/


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: int
    pipeline: Pipeline
    # Stored with the version (tags TEMPERATURE_TAG, THRESHOLD_TAG); a version trained before
    # calibration existed serves its raw confidences and files nothing automatically.
    temperature: float = 1.0
    auto_file_threshold: float | None = None
    # What separated category path levels when the version was trained (tag SEPARATOR_TAG).
    separator: str = DEFAULT_SEPARATOR
    # For category paths, the auto-file threshold of each depth (tag LEVEL_THRESHOLDS_TAG);
    # None: the version files at any depth by `auto_file_threshold`.
    level_thresholds: list[float | None] | None = None


TEMPERATURE_TAG = "temperature"
REFERENCE_PROFILE = "monitoring/reference_profile.json"  # core/drift.py, at training
SEPARATOR_TAG = "category_separator"
THRESHOLD_TAG = "auto_file_threshold"  # a number, or "none" when no threshold qualified
# JSON: a list with the threshold of each path depth, null where none qualified.
LEVEL_THRESHOLDS_TAG = "auto_file_level_thresholds"


def _threshold_from_tag(value: str | None) -> float | None:
    if value is None or value == "none":
        return None
    return float(value)


def _level_thresholds_from_tag(value: str | None) -> list[float | None] | None:
    import json

    if value is None:
        return None
    return [None if t is None else float(t) for t in json.loads(value)]


def _pip_requirements() -> list[str]:
    # Passing these explicitly keeps log_model from inferring them (measured: 9.8 s -> 0.16 s).
    pins = []
    for package in _RUNTIME_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            pins.append(f"{package}=={metadata.version(package)}")
    return pins


def import_client() -> None:
    """Import what a Registry will use (MLflow's client and SQL stores, the sklearn flavour and
    skops, which loads its models) now rather than on first use.

    The registry imports MLflow lazily, so a process that never touches it never pays for it. A
    prefork worker calls this in its main process before the pool forks (worker/warmup.py): its
    pool processes then start with these modules imported, instead of each importing them for
    its first task.
    """
    import mlflow.artifacts  # noqa: F401
    import mlflow.sklearn  # noqa: F401
    import mlflow.store.model_registry.sqlalchemy_store  # noqa: F401
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    import skops.io  # noqa: F401
    from mlflow import MlflowClient  # noqa: F401


class Registry:
    """Tracking and registry for one registered model name."""

    def __init__(
        self,
        *,
        tracking_uri: str,
        model_name: str,
        experiment_name: str,
        artifact_root: Path | None = None,
    ) -> None:
        from mlflow import MlflowClient

        # No phoning home from a store's server (and no network here to phone with).
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        # Progress bars for kilobyte downloads only clutter worker logs.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        # MLflow's HTTP client retries an unreachable server for minutes by default (measured:
        # 247 s); a serving process must hear "unavailable" in seconds and keep its cached model.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.experiment_name = experiment_name
        self.artifact_root = artifact_root
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    # -- tracking and registration -------------------------------------------------------------

    def _experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return str(experiment.experiment_id)
        location = self.artifact_root.as_uri() if self.artifact_root else None
        try:
            return str(self.client.create_experiment(self.experiment_name, location))
        except Exception:  # another process created it first
            experiment = self.client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                raise
            return str(experiment.experiment_id)

    def log_run(
        self, *, result: TrainResult, catalog: Catalog, params: TrainParams,
        tags: dict[str, str] | None = None,
    ) -> tuple[str, int]:
        """Log a training run with its model and test split, and register it.

        Returns (run_id, version).
        """
        import mlflow
        import mlflow.sklearn

        # The fluent API needs process-global URIs, and setting them also writes
        # MLFLOW_TRACKING_URI/MLFLOW_REGISTRY_URI into os.environ, where Settings would read them:
        # put the environment back as it was.
        saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        started = time.perf_counter()
        with mlflow.start_run(experiment_id=self._experiment_id(), tags=tags or {}) as run:
            mlflow.log_params({**params.as_dict(), **{f"best_{k}": v
                                                      for k, v in result.best_params.items()}})
            mlflow.log_params({
                "dataset_source": catalog.source[:500],
                "dataset_fingerprint": catalog.fingerprint,
                "dataset_rows": len(catalog),
                "dataset_conflicting_names": len(catalog.conflicts),
                "n_train": result.n_train,
                "n_prior": result.n_prior,
                "prior_fingerprint": result.prior_fingerprint or "none",
                "n_test": len(result.test_names),
                "python": platform.python_version(),
            })
            mlflow.log_dict(catalog.category_counts, "dataset/category_counts.json")
            metrics = result.metrics
            mlflow.log_metrics({
                "accuracy": metrics["accuracy"],
                "macro_f1": metrics["macro_f1"],
                "cv_macro_f1": result.cv_macro_f1,
                "training_seconds": result.seconds,
            })
            mlflow.log_params({"model_family": result.family, "selection": result.selection,
                               "n_categories": len(catalog.category_counts)})
            # Per level of category paths: macro_f1_depth_1, macro_f1_depth_2, macro_f1_leaf.
            mlflow.log_metrics({f"{stat}_{level}": values[stat]
                                for level, values in metrics.get("levels", {}).items()
                                for stat in ("macro_f1", "accuracy")})
            if len(metrics["per_category"]) <= MAX_CATEGORY_METRICS:
                per_category = {}
                for category, values in metrics["per_category"].items():
                    key = metric_key(category)
                    for stat in ("precision", "recall", "f1"):
                        per_category[f"{stat}_{key}"] = values[stat]
                mlflow.log_metrics(per_category)
            mlflow.log_dict(metrics, "evaluation/metrics.json")
            mlflow.log_text(held_out_csv(result.test_names, result.test_categories),
                            "evaluation/test_split.csv")
            if len(metrics["per_category"]) <= MAX_CONFUSION_CATEGORIES:
                predicted = result.model.predict(result.test_names).tolist()
                mlflow.log_figure(confusion_figure(result.test_categories, predicted),
                                  "evaluation/confusion_matrix.png")
            trust_tags = _log_trust(result)
            info = mlflow.sklearn.log_model(
                result.model, name="model", pip_requirements=_pip_requirements(),
                serialization_format="skops", skops_trusted_types=TRUSTED_TYPES,
            )
            self._ensure_registered()
            # A tracking server only accepts a `models:/m-...` source with its model id.
            version = self.client.create_model_version(
                self.model_name, info.model_uri, run_id=run.info.run_id,
                model_id=info.model_id,
            )
            self.client.set_model_version_tag(
                self.model_name, version.version, "macro_f1", f"{metrics['macro_f1']:.6f}"
            )
            self.client.set_model_version_tag(self.model_name, version.version,
                                              SEPARATOR_TAG, params.separator)
            for key, value in trust_tags.items():  # what serving reads back in `load`
                self.client.set_model_version_tag(self.model_name, version.version, key, value)
            mlflow.log_metric("logging_seconds", time.perf_counter() - started)
        return run.info.run_id, int(version.version)

    def _ensure_registered(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.model_name)
        except MlflowException:
            with contextlib.suppress(MlflowException):  # a concurrent run may have created it
                self.client.create_registered_model(self.model_name)

    def gate(
        self, *, version: int, run_id: str, result: TrainResult, gate: PromotionGate
    ) -> PromotionDecision:
        """Mark a new version challenger, then promote it if `core.promotion` says so.

        Callers that may run concurrently hold a lock around this, so the decision is made
        against the champion that is current when the alias moves.
        """
        new_f1 = float(result.metrics["macro_f1"])
        self.client.set_registered_model_alias(self.model_name, CHALLENGER, str(version))
        verdict: Verdict
        try:
            champion = self.load(CHAMPION)
        except NoChampionError:
            verdict = first_model()
        except Exception as exc:  # an outage or a broken artifact is no reason to swap models
            logger.warning("champion could not be loaded for comparison: %s", exc)
            verdict = champion_unloadable(exc)
        else:
            verdict = compare(
                truth=result.test_categories,
                challenger=result.model.predict(result.test_names).tolist(),
                champion=champion.pipeline.predict(result.test_names).tolist(),
                challenger_macro_f1=new_f1, champion_version=champion.version, gate=gate,
            )
        self.client.set_model_version_tag(self.model_name, str(version), "gate_decision",
                                          verdict.reason)
        if verdict.promote:
            self.promote(version)
        logger.info("version %s %s: %s", version, "promoted" if verdict.promote else "kept",
                    verdict.reason)
        return PromotionDecision(
            version=version, run_id=run_id, promoted=verdict.promote, reason=verdict.reason,
            macro_f1=new_f1, champion_version=verdict.champion_version,
            champion_macro_f1=verdict.champion_macro_f1, p_value=verdict.p_value,
        )

    # -- aliases -------------------------------------------------------------------------------

    def champion_version(self) -> int | None:
        """The version the champion alias points at, or None; a cheap call for polling."""
        return self._alias_version(CHAMPION)

    def challenger_version(self) -> int | None:
        """The version the challenger alias points at, or None (core/shadow.py)."""
        return self._alias_version(CHALLENGER)

    def _alias_version(self, alias: str) -> int | None:
        from mlflow.exceptions import MlflowException

        try:
            return int(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException as exc:
            if _not_found(exc):
                return None
            raise RegistryUnavailable(f"model registry unavailable: {exc}") from exc

    def promote(self, version: int) -> int | None:
        """Point the champion alias at a version; returns the previous champion's version."""
        self._check_version(version)
        previous = self.champion_version()
        if previous == version:
            return previous
        if previous is not None:
            self.client.set_model_version_tag(
                self.model_name, str(version), "previous_champion", str(previous)
            )
        self.client.set_registered_model_alias(self.model_name, CHAMPION, str(version))
        if self._alias_version(CHALLENGER) == version:
            self.client.delete_registered_model_alias(self.model_name, CHALLENGER)
        return previous

    def rollback(self) -> int:
        """Point the champion alias back at the version it replaced; returns that version."""
        current = self.champion_version()
        if current is None:
            raise NoChampionError("there is no champion to roll back")
        tags = self.client.get_model_version(self.model_name, str(current)).tags
        previous = tags.get("previous_champion")
        if previous is None:
            raise RegistryError(f"champion v{current} has no earlier champion to roll back to")
        self.client.set_registered_model_alias(self.model_name, CHAMPION, previous)
        self.client.set_model_version_tag(self.model_name, str(current), "rolled_back", "true")
        return int(previous)

    def _check_version(self, version: int) -> Any:
        """The registered version (an MLflow ModelVersion); RegistryError if there is none."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(self.model_name, str(version))
        except MlflowException as exc:
            if not _not_found(exc):
                raise RegistryUnavailable(f"model registry unavailable: {exc}") from exc
            raise RegistryError(f"model {self.model_name!r} has no version {version}") from None

    # -- reading -------------------------------------------------------------------------------

    def list_versions(self) -> list[ModelVersionInfo]:
        """Every registered version, newest first, with aliases and test metrics."""
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if _not_found(exc):
                return []
            raise RegistryUnavailable(f"model registry unavailable: {exc}") from exc
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        infos = []
        for mv in self.client.search_model_versions(f"name='{self.model_name}'"):
            metrics: dict[str, float] = {}
            if mv.run_id:
                with contextlib.suppress(MlflowException):
                    run_metrics = self.client.get_run(mv.run_id).data.metrics
                    metrics = {k: v for k, v in run_metrics.items()
                               if k in ("accuracy", "macro_f1", "cv_macro_f1", "training_seconds")}
            infos.append(ModelVersionInfo(
                version=int(mv.version), aliases=sorted(aliases.get(str(mv.version), [])),
                run_id=mv.run_id or "", created_at=mv.creation_timestamp / 1000, metrics=metrics,
            ))
        return sorted(infos, key=lambda info: info.version, reverse=True)

    def test_split(self, version: int) -> tuple[list[str], list[str]]:
        """The frozen test split stored with a version's run: (names, categories)."""
        run_id = self.client.get_model_version(self.model_name, str(version)).run_id
        if run_id is None:
            raise RegistryError(f"model {self.model_name!r} v{version} has no run to read from")
        with tempfile.TemporaryDirectory() as tmp:
            path = self.client.download_artifacts(run_id, "evaluation/test_split.csv", tmp)
            return read_held_out_csv(Path(path).read_text(encoding="utf-8"))

    def load(self, ref: str | int = CHAMPION) -> LoadedModel:
        """Load a version, or the version an alias points at, from the registry."""
        import mlflow.sklearn

        if isinstance(ref, int) or str(ref).isdigit():
            version = int(ref)
        else:
            resolved = self._alias_version(str(ref))
            if resolved is None:
                if ref == CHAMPION:
                    raise NoChampionError("no champion model yet: train one first")
                raise RegistryError(f"no model carries the alias {ref!r}")
            version = resolved
        tags = self._check_version(version).tags or {}
        import mlflow.artifacts

        source = self.client.get_model_version_download_uri(self.model_name, str(version))
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=tmp, tracking_uri=self.tracking_uri
            )
            pipeline = mlflow.sklearn.load_model(local)
        return LoadedModel(name=self.model_name, version=version, pipeline=pipeline,
                           temperature=float(tags.get(TEMPERATURE_TAG, 1.0)),
                           auto_file_threshold=_threshold_from_tag(tags.get(THRESHOLD_TAG)),
                           separator=tags.get(SEPARATOR_TAG, DEFAULT_SEPARATOR),
                           level_thresholds=_level_thresholds_from_tag(
                               tags.get(LEVEL_THRESHOLDS_TAG)))

    def calibration(self, version: int) -> tuple[float, float | None]:
        """The temperature and auto-file threshold a version is served with (its tags)."""
        tags = self._check_version(version).tags or {}
        return (float(tags.get(TEMPERATURE_TAG, 1.0)),
                _threshold_from_tag(tags.get(THRESHOLD_TAG)))

    def log_reference_profile(self, run_id: str, profile: dict[str, Any]) -> None:
        """Store a version's drift reference profile (core/drift.py) with its run."""
        self.client.log_dict(run_id, profile, REFERENCE_PROFILE)

    def reference_profile(self, version: int) -> dict[str, Any] | None:
        """A version's drift reference profile; None for a version trained without one."""
        import json

        from mlflow.exceptions import MlflowException

        run_id = self._check_version(version).run_id
        if not run_id:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.client.download_artifacts(run_id, REFERENCE_PROFILE, tmp)
            except (MlflowException, OSError) as exc:
                if isinstance(exc, MlflowException) and not _not_found(exc) and \
                        "No such file" not in str(exc):
                    raise RegistryUnavailable(f"model registry unavailable: {exc}") from exc
                return None
            with open(path, encoding="utf-8") as handle:
                loaded: dict[str, Any] = json.load(handle)
        return loaded

    def trained_at(self, version: int) -> float:
        """When a version was registered, in seconds since the epoch."""
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_model_version(self.model_name, str(version))
        except MlflowException as exc:
            raise RegistryUnavailable(f"model registry unavailable: {exc}") from exc
        return float(found.creation_timestamp) / 1000


    def version_details(self, version: int) -> VersionDetails:
        """A version's tags, its run's params and metrics, and the figures logged with it."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(self.model_name, str(version))
        except MlflowException as exc:
            if not _not_found(exc):
                raise RegistryUnavailable(f"model registry unavailable: {exc}") from exc
            raise RegistryError(f"model {self.model_name!r} has no version {version}") from None
        params: dict[str, str] = {}
        metrics: dict[str, float] = {}
        figures: list[str] = []
        if mv.run_id:
            try:
                data = self.client.get_run(mv.run_id).data
                params, metrics = dict(data.params), dict(data.metrics)
                figures = sorted(a.path for a in self.client.list_artifacts(mv.run_id,
                                                                            "evaluation")
                                 if a.path.endswith(".png"))
            except MlflowException as exc:
                raise RegistryUnavailable(f"model registry unavailable: {exc}") from exc
        return VersionDetails(version=version, run_id=mv.run_id or "", tags=dict(mv.tags),
                              params=params, metrics=metrics, figures=figures)

    def artifact_bytes(self, run_id: str, path: str) -> bytes:
        """The content of one artifact logged with a run."""
        from mlflow.exceptions import MlflowException

        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = self.client.download_artifacts(run_id, path, tmp)
            except MlflowException as exc:
                if _not_found(exc):
                    raise RegistryError(f"run {run_id} has no artifact {path!r}") from None
                raise RegistryUnavailable(f"model registry unavailable: {exc}") from exc
            except OSError:
                raise RegistryError(f"run {run_id} has no artifact {path!r}") from None
            return Path(local).read_bytes()


def _log_trust(result: TrainResult) -> dict[str, str]:
    """Log the calibration and the auto-file threshold with the active run; returns the tags
    that the model version carries too (TEMPERATURE_TAG, THRESHOLD_TAG, LEVEL_THRESHOLDS_TAG)."""
    import json

    import mlflow

    trust = result.trust
    if trust is None:
        return {}
    tags = {TEMPERATURE_TAG: repr(trust.temperature),
            THRESHOLD_TAG: "none" if trust.threshold is None else repr(trust.threshold)}
    if trust.level_thresholds is not None:
        tags[LEVEL_THRESHOLDS_TAG] = json.dumps(trust.level_thresholds)
    mlflow.log_params(tags)
    mlflow.set_tags(tags)
    mlflow.log_metrics(trust.metrics)
    mlflow.log_dict(trust.report(), "evaluation/auto_file.json")
    for path, figure in trust.figures().items():
        mlflow.log_figure(figure, path)
    return tags
