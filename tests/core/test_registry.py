"""The MLflow registry on a real SQLite store: registration, the promotion gate, aliases."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from core.config import Settings
from core.data import Catalog
from core.errors import NoChampionError, RegistryError, RegistryUnavailable
from core.evaluation import score
from core.models import linear_pipeline
from core.prediction import Classifier
from core.promotion import PromotionDecision, PromotionGate
from core.registry import CHALLENGER, CHAMPION, Registry
from core.service import registry_from_settings, train_and_register
from core.training import TrainParams, TrainResult
from tests.fixtures.catalogs import write_catalog_csv
from tests.fixtures.registry import isolate_mlflow_env, make_data_dir, register, settings_for


def aliases(registry: Registry) -> dict[int, list[str]]:
    return {info.version: info.aliases for info in registry.list_versions()}


def logged_test_split(registry: Registry, version: int) -> tuple[list[str], list[str]]:
    """The frozen test split stored with a version's run, read back from its artifact."""
    import csv
    import tempfile

    run_id = registry.client.get_model_version(registry.model_name, str(version)).run_id
    assert run_id is not None
    with tempfile.TemporaryDirectory() as tmp:
        path = registry.client.download_artifacts(run_id, "evaluation/test_split.csv", tmp)
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return [r["name"] for r in rows], [r["category"] for r in rows]


@pytest.fixture(scope="module")
def one_model(
    tmp_path_factory: pytest.TempPathFactory, empty_mlflow_db: Path,
    small_result: TrainResult, small_catalog: Catalog,
) -> Iterator[tuple[Registry, PromotionDecision]]:
    """A registry holding one model, shared by the tests that only read it or fail to change it."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_mlflow_env(monkeypatch)
        data_dir = make_data_dir(tmp_path_factory.mktemp("registry") / "data", empty_mlflow_db)
        registry = registry_from_settings(settings_for(data_dir))
        yield registry, register(registry, small_result, small_catalog)


@pytest.fixture(scope="module")
def cheap_result(small_result: TrainResult, tiny_catalog: Catalog) -> TrainResult:
    """A result with a model of few features, quick to store: for tests of what goes with it."""
    model = linear_pipeline().fit(tiny_catalog.names, tiny_catalog.categories)
    predicted = model.predict(small_result.test_names).tolist()
    return dataclasses.replace(small_result, model=model,
                               metrics=score(small_result.test_categories, predicted))


@pytest.fixture(scope="module")
def worse_result(small_result: TrainResult, shuffled_result: TrainResult) -> TrainResult:
    """The shuffled-label model on the good model's own test split: it errs more on those rows."""
    predicted = shuffled_result.model.predict(small_result.test_names).tolist()
    return dataclasses.replace(
        small_result, model=shuffled_result.model,
        metrics=score(small_result.test_categories, predicted),
    )


def test_empty_registry(registry: Registry) -> None:
    assert registry.list_versions() == []
    assert registry.champion_version() is None
    with pytest.raises(NoChampionError, match="no champion"):
        registry.load(CHAMPION)
    with pytest.raises(NoChampionError):
        registry.rollback()


def test_first_model_becomes_champion(
    one_model: tuple[Registry, PromotionDecision], small_result: TrainResult
) -> None:
    registry, decision = one_model
    assert decision.promoted
    assert decision.version == 1
    assert decision.reason == "first model: no champion yet"
    assert decision.champion_version is None
    assert registry.champion_version() == 1
    assert aliases(registry) == {1: [CHAMPION]}  # the challenger alias moved on with promotion

    loaded = registry.load(CHAMPION)
    assert loaded.version == 1
    names = small_result.test_names
    assert loaded.pipeline.predict(names).tolist() == small_result.model.predict(names).tolist()
    # The skops round trip keeps what the lean serving path needs.
    assert Classifier(loaded.pipeline, name=loaded.name, version=1).lean is not None


def test_run_records_dataset_metrics_and_test_split(
    one_model: tuple[Registry, PromotionDecision], small_result: TrainResult,
    small_catalog: Catalog,
) -> None:
    registry, decision = one_model
    params = registry.client.get_run(decision.run_id).data.params
    assert params["dataset_fingerprint"] == small_catalog.fingerprint
    assert params["dataset_rows"] == str(len(small_catalog))
    assert params["n_train"] == str(small_result.n_train)
    assert params["prior_fingerprint"] == (small_result.prior_fingerprint or "none")
    assert params["n_test"] == str(len(small_result.test_names))
    assert params["best_classifier__C"] == str(small_result.best_params["classifier__C"])

    assert registry.test_split(decision.version) == logged_test_split(registry, decision.version)
    assert logged_test_split(registry, decision.version) == (
        small_result.test_names, small_result.test_categories
    )
    [info] = registry.list_versions()
    assert info.run_id == decision.run_id
    assert info.metrics["macro_f1"] == pytest.approx(small_result.metrics["macro_f1"])
    assert info.metrics["accuracy"] == pytest.approx(small_result.metrics["accuracy"])


def test_run_and_version_carry_the_calibration_and_the_threshold(
    one_model: tuple[Registry, PromotionDecision], small_result: TrainResult,
) -> None:
    registry, decision = one_model
    trust = small_result.trust
    assert trust is not None
    run = registry.client.get_run(decision.run_id)
    threshold = "none" if trust.threshold is None else repr(trust.threshold)
    for stored in (run.data.params, run.data.tags,
                   registry.client.get_model_version(registry.model_name, "1").tags):
        assert stored["temperature"] == repr(trust.temperature)
        assert stored["auto_file_threshold"] == threshold
    for metric in ("ece_oof", "ece_test", "ece_test_uncalibrated", "auto_file_coverage_test"):
        assert run.data.metrics[metric] == pytest.approx(trust.metrics[metric])
    artifacts = {a.path for a in registry.client.list_artifacts(decision.run_id, "evaluation")}
    assert {"evaluation/reliability.png", "evaluation/reliability_oof.png",
            "evaluation/auto_file.json"} <= artifacts

    loaded = registry.load(CHAMPION)  # what serving reads back
    assert loaded.temperature == trust.temperature
    assert loaded.auto_file_threshold == trust.threshold


def test_a_version_without_calibration_tags_files_nothing(
    registry: Registry, cheap_result: TrainResult, small_catalog: Catalog
) -> None:
    register(registry, dataclasses.replace(cheap_result, trust=None), small_catalog)
    loaded = registry.load(1)
    assert (loaded.temperature, loaded.auto_file_threshold) == (1.0, None)


def test_rollback_without_earlier_champion(one_model: tuple[Registry, PromotionDecision]) -> None:
    registry, _ = one_model
    with pytest.raises(RegistryError, match="champion v1 has no earlier champion"):
        registry.rollback()
    assert registry.champion_version() == 1


def test_unknown_versions_and_aliases(one_model: tuple[Registry, PromotionDecision]) -> None:
    registry, _ = one_model
    with pytest.raises(RegistryError, match="has no version 99"):
        registry.promote(99)
    with pytest.raises(RegistryError, match="has no version 99"):
        registry.load(99)
    with pytest.raises(RegistryError, match="no model carries the alias 'staging'"):
        registry.load("staging")
    assert registry.load("1").version == 1
    assert registry.champion_version() == 1


def test_test_split_round_trips_awkward_names(
    registry: Registry, cheap_result: TrainResult, small_catalog: Catalog
) -> None:
    # Spreadsheet cells carry line breaks (Alt+Enter) and pasted text carries Unicode separators.
    names = ['Tubo PVC 1/2" x 6 m', "Cinta, canela", "Llave Stilson\n14 pulg",
             "Pinza\u2028corte", "Foco\x85LED", "Broca 'HSS' 1/4\"", "  Brocha 2 pulg"]
    categories = [cheap_result.model.classes_[i % 3] for i in range(len(names))]
    predicted = cheap_result.model.predict(names).tolist()
    result = dataclasses.replace(cheap_result, test_names=names, test_categories=categories,
                                 metrics=score(categories, predicted))
    version = register(registry, result, small_catalog).version
    assert logged_test_split(registry, version) == (names, categories)


def test_baseline_family_registers_and_loads(
    registry: Registry, small_result: TrainResult, baseline_model: Pipeline,
    small_catalog: Catalog,
) -> None:
    # `categorizer train --family baseline` ends here: the random forest must be storable.
    names = small_result.test_names
    predicted = baseline_model.predict(names).tolist()
    result = dataclasses.replace(small_result, model=baseline_model,
                                 metrics=score(small_result.test_categories, predicted))
    assert register(registry, result, small_catalog).promoted
    assert registry.load(CHAMPION).pipeline.predict(names).tolist() == predicted


def test_worse_model_stays_challenger_until_promoted_by_hand(
    registry: Registry, small_result: TrainResult, worse_result: TrainResult,
    small_catalog: Catalog,
) -> None:
    register(registry, small_result, small_catalog)
    decision = register(registry, worse_result, small_catalog)

    assert not decision.promoted
    assert decision.champion_version == 1
    assert decision.champion_macro_f1 == pytest.approx(small_result.metrics["macro_f1"])
    assert decision.champion_macro_f1 is not None
    assert decision.macro_f1 < decision.champion_macro_f1
    assert decision.p_value is not None
    assert decision.p_value > 0.5
    assert "champion v1" in decision.reason
    assert "McNemar" in decision.reason
    assert registry.champion_version() == 1
    assert aliases(registry) == {2: [CHALLENGER], 1: [CHAMPION]}
    tags = registry.client.get_model_version(registry.model_name, "2").tags
    assert tags["gate_decision"] == decision.reason

    assert registry.promote(2) == 1
    assert registry.champion_version() == 2
    assert aliases(registry) == {2: [CHAMPION], 1: []}
    assert registry.promote(2) == 2  # already champion: nothing changes
    assert registry.rollback() == 1
    assert registry.load(CHAMPION).version == 1


def test_clearly_better_model_is_promoted_past_the_gate(
    registry: Registry, small_result: TrainResult, shuffled_result: TrainResult,
    small_catalog: Catalog, shuffled_catalog: Catalog,
) -> None:
    # A champion that learned shuffled labels is near chance on correctly labelled rows, so
    # the challenger wins dozens of disagreements and loses a handful: p lands orders of
    # magnitude under alpha, not on a coin toss near it.
    assert register(registry, shuffled_result, shuffled_catalog).promoted

    held_back = register(registry, small_result, small_catalog, PromotionGate(min_delta=0.99))
    assert not held_back.promoted
    assert "required > 0.99" in held_back.reason
    assert registry.champion_version() == 1

    decision = register(registry, small_result, small_catalog)
    assert decision.promoted
    assert decision.champion_version == 1
    assert decision.p_value is not None
    assert decision.p_value < 1e-4
    assert decision.champion_macro_f1 is not None
    assert decision.macro_f1 > decision.champion_macro_f1 + 0.3
    assert registry.champion_version() == 3
    assert aliases(registry) == {3: [CHAMPION], 2: [], 1: []}

    assert registry.rollback() == 1
    assert registry.champion_version() == 1
    tags = registry.client.get_model_version(registry.model_name, "3").tags
    assert tags["rolled_back"] == "true"


def test_train_and_register_end_to_end(
    registry: Registry, settings: Settings, tiny_catalog: Catalog, tmp_path: Path
) -> None:
    path = write_catalog_csv(tiny_catalog, tmp_path / "tiny.csv")
    stages: list[str] = []
    outcome = train_and_register(
        registry=registry, settings=settings, source=str(path),
        params=TrainParams(cv_folds=3, calibration_folds=3), on_stage=stages.append,
    )
    assert stages == ["loading data", "splitting", "selecting", "calibrating", "evaluating",
                      "logging to MLflow", "comparing with the champion"]
    assert outcome.version == 1
    assert outcome.promoted
    assert outcome.rows == len(tiny_catalog)
    assert set(outcome.as_dict()) >= {"version", "promoted", "reason", "metrics", "p_value"}
    assert registry.champion_version() == 1
    assert registry.client.get_run(outcome.run_id).data.params["dataset_source"] == str(path)
    # the drift reference: the version's held-out rows, profiled as it is served
    reference = registry.reference_profile(1)
    n_test = int(registry.client.get_run(outcome.run_id).data.params["n_test"])
    assert reference is not None
    assert reference["rows"] == n_test
    assert sum(reference["categories"].values()) == n_test
    assert sum(reference["confidence"]) == n_test


def test_train_and_register_needs_a_catalog_or_a_source(
    registry: Registry, settings: Settings
) -> None:
    with pytest.raises(ValueError, match="give a catalog or a source"):
        train_and_register(registry=registry, settings=settings)


def test_logging_a_run_leaves_the_process_settings_alone(
    registry: Registry, cheap_result: TrainResult, small_catalog: Catalog, tmp_path: Path
) -> None:
    # mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI; Settings reads that variable, so
    # every Settings built later in the process would silently point at this store.
    register(registry, cheap_result, small_catalog)
    assert "MLFLOW_TRACKING_URI" not in os.environ
    other = Settings(_env_file=None, data_dir=tmp_path / "elsewhere")
    assert other.effective_tracking_uri.endswith("elsewhere/mlflow.db")


def test_an_unreachable_registry_is_reported_unavailable_not_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A serving process must tell 'MLflow is down' from 'no such model', and hear it quickly."""
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    # The retries keep their number; only the waits between them (seconds of backoff) go.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")

    down = Registry(tracking_uri="http://127.0.0.1:1", model_name="m", experiment_name="e")

    # MLflow's own default retries an unreachable server for minutes: the registry bounds it.
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "10"
    with pytest.raises(RegistryUnavailable):
        down.champion_version()
    with pytest.raises(RegistryUnavailable):
        down.list_versions()


def test_a_path_model_registers_small_and_loads_with_its_levels(
    registry: Registry, path_result: TrainResult, path_catalog: Catalog,
) -> None:
    from core.registry import LEVEL_THRESHOLDS_TAG, SEPARATOR_TAG
    from core.serving import classifier_for

    assert register(registry, path_result, path_catalog).promoted
    loaded = registry.load(CHAMPION)
    names = path_result.test_names
    np.testing.assert_allclose(loaded.pipeline.predict_proba(names),
                               path_result.model.predict_proba(names), atol=1e-12)
    assert loaded.separator == " > "
    info = registry.client.get_model_version(registry.model_name, str(loaded.version))
    assert info.tags[SEPARATOR_TAG] == " > "
    # The stored file: the vocabulary as one string and sparse float32 weights.
    assert registry.artifact_root is not None
    newest = max(registry.artifact_root.rglob("model.skops"), key=lambda p: p.stat().st_mtime)
    assert newest.stat().st_size < 2**20  # the flat model's JSON vocabulary alone was 15 MB
    assert info.run_id is not None
    metrics = registry.client.get_run(info.run_id).data.metrics
    levels = path_result.metrics["levels"]
    assert metrics["macro_f1_depth_1"] == pytest.approx(levels["depth_1"]["macro_f1"])
    assert metrics["macro_f1_leaf"] == pytest.approx(levels["leaf"]["macro_f1"])
    prediction = classifier_for(loaded).predict(names[0])
    assert prediction.levels is not None
    assert prediction.levels[-1][0] == prediction.category
    # The threshold of each depth travels with the version, into what serving files by.
    assert path_result.trust is not None
    thresholds = path_result.trust.level_thresholds
    assert thresholds is not None
    assert len(thresholds) == 2
    stored = registry.client.get_run(info.run_id).data
    for tags in (info.tags, stored.tags, stored.params):
        assert json.loads(tags[LEVEL_THRESHOLDS_TAG]) == thresholds
    assert loaded.level_thresholds == thresholds
    assert classifier_for(loaded).level_thresholds == thresholds


def test_a_champion_that_cannot_be_loaded_is_never_replaced_unseen(
    registry: Registry, small_result: TrainResult, worse_result: TrainResult,
    small_catalog: Catalog, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An outage while loading the champion is no verdict: the new model stays challenger."""
    assert register(registry, small_result, small_catalog).promoted  # v1, a good champion
    real_load = registry.load

    def load(ref: str | int = CHAMPION) -> object:
        if ref == CHAMPION:
            raise RegistryUnavailable("model registry unavailable: artifact store timed out")
        return real_load(ref)

    monkeypatch.setattr(registry, "load", load)
    decision = register(registry, worse_result, small_catalog)

    assert not decision.promoted
    assert "RegistryUnavailable" in decision.reason
    assert "kept as challenger" in decision.reason
    assert registry.champion_version() == 1
    assert aliases(registry) == {2: [CHALLENGER], 1: [CHAMPION]}
    tags = registry.client.get_model_version(registry.model_name, "2").tags
    assert tags["gate_decision"] == decision.reason
