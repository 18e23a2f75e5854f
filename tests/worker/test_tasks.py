"""The tasks, called directly as a worker would run them, on a real job store.

Called outside a worker, `task.retry()` re-raises the task's exception: a task that returns
normally did not ask to be retried.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import Retry
from sklearn.pipeline import Pipeline

import worker.tasks
from core.batch_store import BatchStore, InputRow
from core.config import Settings
from core.data import SAMPLE_CATALOG, load_catalog
from core.errors import RegistryUnavailable, StoreUnavailable
from core.jobs import JobStore
from core.leases import WHOLE_JOB, LeaseStore
from core.prediction import Classifier
from core.review import NewItem, ReviewStore
from core.service import registry_from_settings
from core.serving import VersionCache
from tests.core.test_leases import expire as expire_lease
from tests.fixtures.app import CHUNK_SIZE, FAKE_THRESHOLD, FakeRegistry, TaskHarness
from worker.context import WorkerContext

# -- training ------------------------------------------------------------------------------------


def _training_job(store: JobStore, **params: Any) -> str:
    job, _ = store.create_job(kind="training", params=params)
    return job.id


@pytest.fixture
def small_csv(tmp_path: Path) -> str:
    """A readable catalog in DATA_DIR/catalogs, for tests whose training is replaced."""
    (tmp_path / "catalogs").mkdir(exist_ok=True)
    (tmp_path / "catalogs" / "small.csv").write_text("category,name\nA,a\nB,b\n")
    return "small.csv"


@pytest.fixture
def catalog_csv(tmp_path: Path) -> Path:
    """Ten distinct names per category from the sample catalog: the least the trainer takes."""
    catalog = load_catalog(SAMPLE_CATALOG)
    picked: dict[str, list[str]] = {}
    for category, name in zip(catalog.categories, catalog.names, strict=True):
        names = picked.setdefault(category, [])
        if len(names) < 10 and name not in names:
            names.append(name)
    (tmp_path / "catalogs").mkdir()  # DATA_DIR/catalogs: a training data folder by default
    path = tmp_path / "catalogs" / "catalog.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["category", "name"])
        writer.writerows((c, n) for c, names in picked.items() for n in names)
    return path


def test_training_registers_a_model_and_records_its_version(
    tasks: TaskHarness, worker_context: WorkerContext, app_settings: Settings,
    job_store: JobStore, catalog_csv: Path, empty_mlflow_db: Path,
) -> None:
    shutil.copyfile(empty_mlflow_db, app_settings.data_dir / "mlflow.db")  # skip migrating
    registry = registry_from_settings(app_settings)
    worker_context.registry = registry
    job_id = _training_job(job_store, data=str(catalog_csv), table=None, query=None)

    tasks.task("training.run").run(job_id)

    job = job_store.get(job_id)
    assert job.state == "succeeded", job.error
    assert job.model_version == 1
    assert (job.stage, job.attempts) == ("done", 1)
    assert job.result is not None
    assert job.result["version"] == 1
    assert job.result["promoted"] is True
    assert job.result["rows"] == 60
    assert 0.0 <= job.result["metrics"]["macro_f1"] <= 1.0
    assert registry.champion_version() == 1
    assert registry.load(1).pipeline.predict(["Tubo PVC 1/2\""]).shape == (1,)


def test_training_learns_from_stored_review_labels_unless_told_not_to(
    tasks: TaskHarness, worker_context: WorkerContext, app_settings: Settings,
    job_store: JobStore, catalog_csv: Path, empty_mlflow_db: Path,
) -> None:
    shutil.copyfile(empty_mlflow_db, app_settings.data_dir / "mlflow.db")
    worker_context.registry = registry_from_settings(app_settings)
    review = ReviewStore(job_store.engine)
    # Seven names: enough for a new category to reach every fold after the held-out split.
    batch, _ = BatchStore(job_store).create_batch(
        [[InputRow(None, f"zorbax {i}") for i in range(7)]])
    review.add_items(batch.id, [NewItem(row=i, name=f"zorbax {i}", category="Plomería",
                                        confidence=0.3, top_k=[]) for i in range(7)],
                     model_version=None)
    review.add_category("Jardín", by="admin")
    for item in review.list_items().items:
        review.decide(item.id, by="reviewer", category="Jardín")

    with_labels = _training_job(job_store, data=str(catalog_csv), table=None, query=None)
    tasks.task("training.run").run(with_labels)
    without = _training_job(job_store, data=str(catalog_csv), table=None, query=None,
                            include_labels=False)
    tasks.task("training.run").run(without)

    learnt = job_store.get(with_labels)
    assert learnt.state == "succeeded", learnt.error
    assert learnt.result is not None
    assert learnt.result["rows"] == 67
    assert learnt.result["labels"]["added"] == 7
    assert learnt.result["labels"]["conflicts"] == 0
    assert worker_context.registry.load(1).pipeline.classes_.tolist().count("Jardín") == 1
    plain = job_store.get(without)
    assert plain.result is not None
    assert (plain.result["rows"], plain.result["labels"]["added"]) == (60, 0)
    # The catalog's rows are labels of the first training job that read them.
    catalog_labels = review.list_labels(source="catalog", limit=1000)
    assert catalog_labels.total == 60
    assert {label.job_id for label in catalog_labels.items} == {with_labels}


def test_training_from_an_uploaded_catalog_reads_the_stored_file(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def fake_train(**kwargs: Any) -> Any:
        seen.update(kwargs)
        raise ValueError("stop here")  # what happens next is another test's business

    monkeypatch.setattr(worker.tasks, "train_and_register", fake_train)
    job_id = _training_job(job_store, upload=True, filename="mine.csv")
    job_store.put_upload(job_id, "category,name\nPlomería,Tubo PVC\n".encode())

    tasks.task("training.run").run(job_id)

    assert seen["catalog"].names == ["Tubo PVC"]
    assert seen["catalog"].source == "mine.csv"


@pytest.mark.parametrize(("content", "problem"), [
    ("category,nombre\nPlomería,Tubo\n", "missing column(s) name"),
    ("category,name\nPlomería,Tubo\nElectricos,Foco\n", "too few distinct product names"),
], ids=["missing-column", "too-small"])
def test_a_bad_catalog_fails_the_job_with_the_reason_and_no_retry(
    tasks: TaskHarness, job_store: JobStore, fake_registry: FakeRegistry, tmp_path: Path,
    content: str, problem: str,
) -> None:
    (tmp_path / "catalogs").mkdir()  # DATA_DIR/catalogs: a training data folder by default
    path = tmp_path / "catalogs" / "bad.csv"
    path.write_text(content, encoding="utf-8")
    job_id = _training_job(job_store, data=str(path), table=None, query=None)

    tasks.task("training.run").run(job_id)  # returns: no retry was asked for

    job = job_store.get(job_id)
    assert job.state == "failed"
    assert problem in (job.error or "")
    assert str(path) in (job.error or "")
    assert job.attempts == 1


def test_a_registry_outage_is_retried_not_failed_for_good(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def mlflow_down(**_: Any) -> Any:
        raise RegistryUnavailable("model registry unavailable: connection refused")

    monkeypatch.setattr(worker.tasks, "train_and_register", mlflow_down)
    task = tasks.task("training.run")
    retries: list[dict[str, Any]] = []

    def retry(**options: Any) -> Retry:
        retries.append(options)
        return Retry("retrying")

    monkeypatch.setattr(task, "retry", retry)
    job_id = _training_job(job_store, upload=True, filename="mine.csv")
    job_store.put_upload(job_id, "category,name\nPlomería,Tubo PVC\n".encode())

    with pytest.raises(Retry):
        task.run(job_id)

    assert job_store.get(job_id).state == "running"  # not failed: the outage may pass
    assert isinstance(retries[0]["exc"], RegistryUnavailable)


def test_a_missing_catalog_file_fails_the_job(tasks: TaskHarness, job_store: JobStore,
                                              tmp_path: Path) -> None:
    job_id = _training_job(job_store, data=str(tmp_path / "nowhere.csv"), table=None, query=None)

    tasks.task("training.run").run(job_id)

    assert job_store.get(job_id).state == "failed"
    assert "not a file in the training data folders" in (job_store.get(job_id).error or "")


def test_a_cancelled_training_job_is_not_run(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch,
    small_csv: str,
) -> None:
    monkeypatch.setattr(worker.tasks, "train_and_register",
                        lambda **_: pytest.fail("a cancelled job was trained"))
    job_id = _training_job(job_store, data=small_csv, table=None, query=None)
    job_store.cancel(job_id)

    tasks.task("training.run").run(job_id)

    job = job_store.get(job_id)
    assert job.state == "cancelled"
    assert (job.started_at, job.attempts) == (None, 0)


def test_a_job_cancelled_while_training_stops_at_the_next_stage(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch,
    small_csv: str,
) -> None:
    job_id = _training_job(job_store, data=small_csv, table=None, query=None)
    stages: list[str] = []

    def train_until_cancelled(*, on_stage: Callable[[str], None], **_: Any) -> Any:
        on_stage("splitting")
        stages.append("splitting")
        job_store.cancel(job_id)  # DELETE /v1/jobs/{id} arrives meanwhile
        on_stage("selecting")
        stages.append("selecting")
        pytest.fail("training went on after the job was cancelled")

    monkeypatch.setattr(worker.tasks, "train_and_register", train_until_cancelled)

    tasks.task("training.run").run(job_id)

    assert stages == ["splitting"]
    assert job_store.get(job_id).state == "cancelled"


def test_an_unexpected_error_is_retried_then_recorded(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch,
    small_csv: str,
) -> None:
    def broken(**_: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(worker.tasks, "train_and_register", broken)
    task = tasks.task("training.run")
    retries: list[dict[str, Any]] = []

    def retry(**options: Any) -> Retry:
        retries.append(options)
        return Retry("retrying")

    monkeypatch.setattr(task, "retry", retry)
    job_id = _training_job(job_store, data=small_csv, table=None, query=None)

    with pytest.raises(Retry):
        task.run(job_id)
    assert job_store.get(job_id).state == "running"
    [retried] = retries
    assert str(retried["exc"]) == "disk full"
    assert 0 <= retried["countdown"] <= 2  # Celery's backoff from 2 s, with full jitter

    task.push_request(retries=task.max_retries)  # the last attempt
    try:
        task.run(job_id)
    finally:
        task.pop_request()

    job = job_store.get(job_id)
    assert job.state == "failed"
    assert job.error == "failed after 4 attempts: OSError: disk full"
    assert len(retries) == 1


def test_a_job_whose_workers_keep_dying_is_given_up(
    tasks: TaskHarness, job_store: JobStore, app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker.tasks, "train_and_register",
                        lambda **_: pytest.fail("trained once more"))
    job_id = _training_job(job_store, data=str(SAMPLE_CATALOG), table=None, query=None)
    for _ in range(app_settings.task_max_retries + 1):  # each start was a worker lost mid-task
        job_store.start(job_id)

    tasks.task("training.run").run(job_id)

    job = job_store.get(job_id)
    assert job.state == "failed"
    assert job.error == "gave up after 4 attempts: the worker was lost each time"


@pytest.mark.parametrize(("name", "args"), [
    ("training.run", ["0123456789abcdef0123456789abcdef"]),
    ("batch.start", ["0123456789abcdef0123456789abcdef"]),
    ("batch.chunk", ["0123456789abcdef0123456789abcdef", 0]),
])
def test_a_message_for_an_unknown_job_is_dropped_not_retried(
    tasks: TaskHarness, name: str, args: list[Any]
) -> None:
    tasks.task(name).run(*args)  # an expired or deleted job can never run: no retry

    assert tasks.sent == []


def _run_as(tasks: TaskHarness, name: str, task_id: str, *args: Any) -> None:
    """Run a task as the worker would for a message with this task id."""
    task = tasks.task(name)
    task.push_request(id=task_id)
    try:
        task.run(*args)
    finally:
        task.pop_request()


def test_a_training_message_the_sweeper_replaced_is_dropped(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker.tasks, "train_and_register",
                        lambda **_: pytest.fail("trained from a superseded message"))
    job_id = _training_job(job_store, data=str(SAMPLE_CATALOG), table=None, query=None)
    job_store.set_task_id(job_id, "sent-again-by-the-sweeper")

    _run_as(tasks, "training.run", "the-lost-message", job_id)

    job = job_store.get(job_id)
    assert (job.state, job.attempts) == ("queued", 0)


# -- batches -------------------------------------------------------------------------------------

NAMES = ["Tubo PVC 1/2\"", "Foco LED 9W", "Taladro 1/2\" 650W", "Pintura vinílica 19L",
         "Codo cobre 3/4\"", "Llave de paso 1/2\"", "Brocha 2\"", "Cinta de aislar",
         "Martillo uña 16 oz", "Clavo 2\" kg", "Contacto dúplex", "Regadera cromada",
         "Lija de agua 100", "Cople PVC 1\"", "Apagador sencillo", "Flexómetro 5 m"]


def _batch_job(store: JobStore, names: list[str] = NAMES,
               errors: dict[int, str] | None = None) -> str:
    rows = [InputRow(id=f"R{i}", name=name, error=(errors or {}).get(i))
            for i, name in enumerate(names)]
    job, _ = BatchStore(store).create_batch(
        rows[i:i + CHUNK_SIZE] for i in range(0, len(rows), CHUNK_SIZE))
    return job.id


def _run_chunks(tasks: TaskHarness) -> None:
    for name, args, _ in list(tasks.sent):
        tasks.task(name).run(*args)


def test_start_without_a_champion_fails_the_job_clearly(
    tasks: TaskHarness, job_store: JobStore, fake_registry: FakeRegistry
) -> None:
    fake_registry.champion = None
    job_id = _batch_job(job_store)

    tasks.task("batch.start").run(job_id)

    job = job_store.get(job_id)
    assert job.state == "failed"
    assert job.error == "no champion model yet: train one first"
    assert tasks.sent == []


def test_a_batch_s_fan_out_holds_its_lease_before_it_asks_the_registry(
    tasks: TaskHarness, job_store: JobStore, fake_registry: FakeRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fresh process's first registry call takes seconds (MLflow's set-up): a host lost
    then must leave a lease behind, not a message no sweep can see."""
    job_id = _batch_job(job_store)
    seen: list[object] = []
    version = fake_registry.champion

    def champion_version() -> int | None:
        seen.append(LeaseStore(job_store).get(job_id, WHOLE_JOB))
        return version

    monkeypatch.setattr(fake_registry, "champion_version", champion_version)

    tasks.task("batch.start").run(job_id)

    [lease] = seen
    assert lease is not None, "the registry was asked before the lease was taken"
    assert job_store.get(job_id).state == "running"
    assert LeaseStore(job_store).get(job_id, WHOLE_JOB) is None  # released after the fan-out


def test_start_pins_the_champion_and_sends_one_message_per_chunk(
    tasks: TaskHarness, job_store: JobStore
) -> None:
    job_id = _batch_job(job_store)  # 16 rows: chunks of 7, 7 and 2

    tasks.task("batch.start").run(job_id)

    job = job_store.get(job_id)
    assert (job.state, job.stage, job.model_version) == ("running", "categorizing", 1)
    assert tasks.sent == [("batch.chunk", [job_id, idx], {"queue": "inference"})
                          for idx in range(3)]


def test_start_runs_for_the_current_message_and_drops_a_superseded_one(
    tasks: TaskHarness, job_store: JobStore
) -> None:
    job_id = _batch_job(job_store)
    job_store.set_task_id(job_id, "current")

    _run_as(tasks, "batch.start", "superseded", job_id)
    assert tasks.sent == []
    assert job_store.get(job_id).state == "queued"

    _run_as(tasks, "batch.start", "current", job_id)
    assert [args for _, args, _ in tasks.sent] == [[job_id, idx] for idx in range(3)]
    assert job_store.get(job_id).state == "running"


def test_start_sends_only_the_chunks_still_pending(tasks: TaskHarness,
                                                   job_store: JobStore) -> None:
    job_id = _batch_job(job_store)
    BatchStore(job_store).put_result(job_id, 1, [("Plomería", 0.9, None)] * CHUNK_SIZE)

    tasks.task("batch.start").run(job_id)

    assert [args for _, args, _ in tasks.sent] == [[job_id, 0], [job_id, 2]]


def test_start_of_a_job_with_nothing_pending_finishes_it(tasks: TaskHarness,
                                                         job_store: JobStore) -> None:
    job_id = _batch_job(job_store, names=NAMES[:2])
    BatchStore(job_store).put_result(job_id, 0, [("Plomería", 0.9, None)] * 2)

    tasks.task("batch.start").run(job_id)

    assert tasks.sent == []
    assert job_store.get(job_id).state == "succeeded"


def test_start_of_a_cancelled_job_sends_nothing(tasks: TaskHarness, job_store: JobStore) -> None:
    job_id = _batch_job(job_store)
    job_store.cancel(job_id)

    tasks.task("batch.start").run(job_id)

    assert tasks.sent == []
    assert job_store.get(job_id).state == "cancelled"


def test_chunks_use_the_pinned_version_and_the_job_succeeds_when_all_are_done(
    tasks: TaskHarness, job_store: JobStore, fake_registry: FakeRegistry,
    app_pipeline: Pipeline,
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    fake_registry.promote(fake_registry.add_version(app_pipeline))  # mid-job: v2 is champion
    chunk = tasks.task("batch.chunk")

    chunk.run(job_id, 0)
    chunk.run(job_id, 1)
    assert job_store.get(job_id).state == "running"  # one chunk to go
    chunk.run(job_id, 2)

    job = job_store.get(job_id)
    assert job.state == "succeeded"
    assert job.rows_done == 16
    assert fake_registry.loads == [1]  # loaded once, and never the new champion
    results = list(BatchStore(job_store).iter_results(job_id))
    assert [r.name for r in results] == NAMES
    assert [r.category for r in results] == app_pipeline.predict(NAMES).tolist()
    # Every row carries its decision against v1's threshold, and the summary counts them.
    confidences = [r.confidence for r in results]
    assert None not in confidences
    assert [r.decision for r in results] == [
        "auto" if c is not None and c >= FAKE_THRESHOLD else "review" for c in confidences]
    assert {r.decision for r in results} == {"auto", "review"}
    per_category: dict[str, dict[str, int]] = {}
    for r in results:
        assert r.category is not None
        assert r.decision is not None
        per_category.setdefault(r.category, {"auto": 0, "review": 0})[r.decision] += 1
    auto = sum(r.decision == "auto" for r in results)
    assert job.result == {"rows": 16, "chunks": 3, "model_version": 1, "auto": auto,
                          "review": 16 - auto, "errors": 0,
                          "per_category": dict(sorted(per_category.items()))}


def test_a_chunk_run_twice_stores_its_result_once(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    calls: list[int] = []
    categorize = worker.tasks.categorize_rows

    def counting(classifier: Classifier, rows: list[InputRow]) -> Any:
        calls.append(len(rows))
        return categorize(classifier, rows)

    monkeypatch.setattr(worker.tasks, "categorize_rows", counting)
    chunk = tasks.task("batch.chunk")

    chunk.run(job_id, 0)
    chunk.run(job_id, 0)  # a redelivered message

    assert calls == [CHUNK_SIZE]
    assert BatchStore(job_store).chunks_done(job_id) == 1
    assert job_store.get(job_id).rows_done == CHUNK_SIZE
    _run_chunks(tasks)
    results = list(BatchStore(job_store).iter_results(job_id))
    assert [r.row for r in results] == list(range(len(NAMES)))


def test_a_chunks_review_rows_become_review_items_once(
    tasks: TaskHarness, job_store: JobStore, worker_context: WorkerContext
) -> None:
    job_id = _batch_job(job_store, errors={3: "empty name"})
    tasks.task("batch.start").run(job_id)
    _run_chunks(tasks)
    results = list(BatchStore(job_store).iter_results(job_id))
    to_review = [r for r in results if r.decision == "review"]
    assert 0 < len(to_review) < len(results) - 1  # the names fall on both sides

    review = ReviewStore(job_store.engine)
    items = review.list_items(job_id=job_id, limit=100).items
    assert sorted((i.row, i.name, i.category, i.confidence) for i in items) == [
        (r.row, r.name, r.category, r.confidence) for r in to_review]
    by_row = {r.row: r for r in to_review}
    assert all(i.top_k == [{"category": c, "confidence": p} for c, p in by_row[i.row].top_k]
               for i in items)
    assert {(i.state, i.model_version) for i in items} == {("pending", 1)}

    # Two workers that both found the chunk unstored: the second store makes no items.
    classifier = worker_context.models.get(1)
    worker.tasks._categorize_chunk(BatchStore(job_store), classifier, job_id, 0)
    assert review.list_items(job_id=job_id).total == len(to_review)


class PoisonedClassifier:
    """A classifier that raises on one particular name, whether alone or in a batch."""

    def __init__(self, real: Classifier, poison: str) -> None:
        self.real = real
        self.poison = poison
        self.version = real.version
        self.classes = real.classes
        self.pipeline = real.pipeline

    def predict(self, name: str) -> Any:
        if name == self.poison:
            raise RuntimeError("the model chokes on this name")
        return self.real.predict(name)

    def predict_batch(self, names: list[str]) -> Any:
        if self.poison in names:
            raise RuntimeError("the model chokes on this batch")
        return self.real.predict_batch(names)


def test_a_poison_row_gets_its_own_error_and_the_others_succeed(
    tasks: TaskHarness, job_store: JobStore, worker_context: WorkerContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = worker_context.models.get(1)
    poisoned = PoisonedClassifier(real, poison=NAMES[3])
    monkeypatch.setattr(worker_context.models, "get", lambda version: poisoned)
    job_id = _batch_job(job_store, errors={5: "empty name"})
    tasks.task("batch.start").run(job_id)

    _run_chunks(tasks)

    assert job_store.get(job_id).state == "succeeded"
    results = list(BatchStore(job_store).iter_results(job_id))
    assert results[3].error == "prediction failed: RuntimeError"
    assert results[3].category is None
    assert results[5].error == "empty name"  # found on intake, kept
    others = [r for i, r in enumerate(results) if i not in (3, 5)]
    assert [r.category for r in others] == [real.predict(r.name).category for r in others]
    assert all(r.error is None for r in others)


def test_a_chunk_of_a_cancelled_job_is_skipped(
    tasks: TaskHarness, job_store: JobStore, fake_registry: FakeRegistry
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    job_store.cancel(job_id)

    _run_chunks(tasks)

    assert BatchStore(job_store).chunks_done(job_id) == 0
    assert job_store.get(job_id).state == "cancelled"
    assert fake_registry.loads == []  # not even the model was loaded


def test_a_chunk_whose_model_cannot_be_loaded_is_retried_then_fails_the_job(
    tasks: TaskHarness, job_store: JobStore, fake_registry: FakeRegistry,
    app_settings: Settings,
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    fake_registry.down = True  # MLflow unreachable when the worker needs the pinned version
    chunk = tasks.task("batch.chunk")

    with pytest.raises(ConnectionError):  # called directly, a retry re-raises
        chunk.run(job_id, 0)
    assert job_store.get(job_id).state == "running"

    chunk.push_request(retries=chunk.max_retries)  # the last attempt
    try:
        chunk.run(job_id, 0)
    finally:
        chunk.pop_request()

    job = job_store.get(job_id)
    assert job.state == "failed"
    assert chunk.max_retries == app_settings.task_max_retries  # not a number of its own
    assert job.error == (f"failed after {app_settings.task_max_retries + 1} attempts: "
                         "ConnectionError: MLflow tracking server unreachable")


def test_a_job_database_outage_is_waited_out_past_the_usual_retries(
    tasks: TaskHarness, job_store: JobStore, worker_context: WorkerContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    chunk = tasks.task("batch.chunk")
    retries: list[dict[str, Any]] = []

    def retry(**options: Any) -> Retry:
        retries.append(options)
        return Retry("retrying")

    def unavailable(*_: Any) -> Any:
        raise StoreUnavailable("job database unavailable: connection refused")

    monkeypatch.setattr(chunk, "retry", retry)
    monkeypatch.setattr(worker_context.batches, "get_chunk", unavailable)

    chunk.push_request(retries=chunk.max_retries)  # a failure of another kind would end here
    try:
        with pytest.raises(Retry):
            chunk.run(job_id, 0)
    finally:
        chunk.pop_request()

    assert job_store.get(job_id).state == "running"
    assert retries[0]["max_retries"] > chunk.max_retries
    assert isinstance(retries[0]["exc"], StoreUnavailable)


def test_version_cache_is_what_the_worker_context_holds(worker_context: WorkerContext) -> None:
    assert isinstance(worker_context.models, VersionCache)
    assert worker_context.models.get(1) is worker_context.models.get(1)


def test_every_stored_chunk_adds_its_profile_to_the_drift_window(
    tasks: TaskHarness, job_store: JobStore, worker_context: Any,
) -> None:
    import datetime as dt

    job_id = _batch_job(job_store, errors={5: "empty name"})
    tasks.task("batch.start").run(job_id)
    _run_chunks(tasks)
    _run_chunks(tasks)  # redelivered chunks: stored once, profiled once

    window = worker_context.drift_monitor().store.window(
        1, since=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))

    assert window.sources == {"batch": len(NAMES) - 1}  # the row in error is not an answer
    assert window.profiles == -(-len(NAMES) // CHUNK_SIZE)
    assert window.profile.oov_words[1] > 0


def test_with_a_challenger_every_stored_chunk_is_scored_in_the_shadow(
    tasks: TaskHarness, job_store: JobStore, worker_context: Any, fake_registry: FakeRegistry,
) -> None:
    from core.shadow import shadow_record

    fake_registry.challenger = fake_registry.add_version(fake_registry.pipelines[1])
    job_id = _batch_job(job_store, errors={5: "empty name"})
    tasks.task("batch.start").run(job_id)
    _run_chunks(tasks)  # the chunks, which send their shadow tasks
    shadow = [args for name, args, _ in tasks.sent if name == "shadow.chunk"]
    assert [args[2] for args in shadow] == [2] * len(shadow)
    assert len(shadow) == -(-len(NAMES) // CHUNK_SIZE)
    for args in shadow:
        tasks.task("shadow.chunk").run(*args)

    record = shadow_record(worker_context.drift_monitor().store, 2)

    assert record is not None
    assert record["compared"] == len(NAMES) - 1  # the row in error has no answer to compare
    assert record["agreed"] == record["compared"]  # the same model, so the same answers
    assert record["champion_versions"] == [1]
    assert job_store.get(job_id).state == "succeeded"


def test_the_shadow_task_records_what_the_api_sampled(worker_context: Any, tasks: TaskHarness,
                                                      fake_registry: FakeRegistry) -> None:
    from core.shadow import shadow_record

    fake_registry.challenger = fake_registry.add_version(fake_registry.pipelines[1])
    real = worker_context.models.get(1)
    names = ["Tubo PVC 1/2", "Foco LED 9W"]
    answers = [real.predict(n) for n in names]

    tasks.task("shadow.score").run(2, 1, names, ["Pinturas", answers[1].category],
                                   [0.5, answers[1].confidence], "sync")

    record = shadow_record(worker_context.drift_monitor().store, 2)
    assert record is not None
    assert (record["compared"], record["agreed"]) == (2, 1)
    assert record["disagreements"][0]["champion"] == "Pinturas"
    assert record["disagreements"][0]["source"] == "sync"


# -- leases: each chunk and each job's own task is held while it runs ----------------------------

def test_a_chunk_holds_its_lease_while_it_runs_and_releases_it_when_stored(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    leases = LeaseStore(job_store)
    seen: list[Any] = []
    categorize = worker.tasks.categorize_rows

    def watching(classifier: Classifier, rows: list[InputRow]) -> Any:
        seen.append(leases.get(job_id, 1))
        return categorize(classifier, rows)

    monkeypatch.setattr(worker.tasks, "categorize_rows", watching)

    _run_as(tasks, "batch.chunk", "chunk-task-1", job_id, 1)

    [lease] = seen
    assert (lease.task_id, lease.pid) == ("chunk-task-1", os.getpid())
    assert leases.get(job_id, 1) is None
    assert leases.get(job_id, WHOLE_JOB) is None  # the fan-out released its own
    assert BatchStore(job_store).has_result(job_id, 1)


def test_a_chunk_another_worker_holds_is_left_to_it(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    LeaseStore(job_store).acquire(job_id=job_id, idx=0, task_id="other", worker="w2", pid=1,
                                  seconds=60)
    monkeypatch.setattr(worker.tasks, "categorize_rows",
                        lambda *_: pytest.fail("categorized a chunk another worker holds"))

    _run_as(tasks, "batch.chunk", "duplicate", job_id, 0)

    assert not BatchStore(job_store).has_result(job_id, 0)
    lease = LeaseStore(job_store).get(job_id, 0)
    assert lease is not None
    assert lease.task_id == "other"


def test_a_chunk_sent_again_after_its_worker_was_lost_is_categorized(
    tasks: TaskHarness, job_store: JobStore
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    leases = LeaseStore(job_store)
    leases.acquire(job_id=job_id, idx=0, task_id="lost", worker="w1", pid=1, seconds=60)
    expire_lease(job_store, job_id, 0)
    [lease] = leases.expired()
    assert leases.claim_resend(lease, "sent-again")

    _run_as(tasks, "batch.chunk", "sent-again", job_id, 0)

    assert BatchStore(job_store).has_result(job_id, 0)
    assert leases.get(job_id, 0) is None


def test_a_training_another_worker_holds_is_not_run_twice(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker.tasks, "train_and_register",
                        lambda **_: pytest.fail("trained while another worker held the job"))
    job_id = _training_job(job_store, data="/x.csv", table=None, query=None)
    LeaseStore(job_store).acquire(job_id=job_id, idx=WHOLE_JOB, task_id="running-elsewhere",
                                  worker="w1", pid=1, seconds=60)

    _run_as(tasks, "training.run", "a-duplicate", job_id)

    job = job_store.get(job_id)
    assert (job.state, job.attempts) == ("queued", 0)


def test_a_training_holds_its_lease_with_a_fence_and_releases_it(
    tasks: TaskHarness, job_store: JobStore, monkeypatch: pytest.MonkeyPatch, catalog_csv: Path,
) -> None:
    leases = LeaseStore(job_store)
    held: list[Any] = []

    def train(**kwargs: Any) -> Any:
        held.append(leases.get(job_id, WHOLE_JOB))
        raise ValueError("the catalog has no rows")

    monkeypatch.setattr(worker.tasks, "train_and_register", train)
    job_id = _training_job(job_store, data=str(catalog_csv), table=None, query=None)

    _run_as(tasks, "training.run", "train-1", job_id)

    assert [lease.task_id for lease in held] == ["train-1"]
    assert leases.get(job_id, WHOLE_JOB) is None
    assert job_store.get(job_id).state == "failed"


# -- transient or wrong: what a chunk retries and what fails it at once ---------------------------

def test_a_chunk_whose_pinned_version_is_gone_fails_the_job_at_once(
    tasks: TaskHarness, job_store: JobStore, fake_registry: FakeRegistry
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)  # pins v1
    del fake_registry.pipelines[1]  # deleted from the registry since

    tasks.task("batch.chunk").run(job_id, 0)  # returns: no retry was asked for

    job = job_store.get(job_id)
    assert job.state == "failed"
    assert job.error == "RegistryError: model 'product-categorizer' has no version 1"


def test_a_registry_outage_in_a_chunk_is_retried_not_failed(
    tasks: TaskHarness, job_store: JobStore, worker_context: WorkerContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)

    def unreachable(version: int) -> Any:
        raise RegistryUnavailable("MLflow tracking server unreachable")

    monkeypatch.setattr(worker_context.models, "get", unreachable)
    retries: list[dict[str, Any]] = []
    chunk = tasks.task("batch.chunk")

    def record_retry(**kwargs: Any) -> Retry:
        retries.append(kwargs)
        return Retry()

    monkeypatch.setattr(chunk, "retry", record_retry)

    with pytest.raises(Retry):
        chunk.run(job_id, 0)

    assert job_store.get(job_id).state == "running"
    [retry] = retries
    assert isinstance(retry["exc"], RegistryUnavailable)
    assert 0 <= retry["countdown"] <= 2  # Celery's backoff, with jitter, from 2 s


def test_a_chunk_already_stored_lets_go_of_the_lease_its_message_took_on_receipt(
    tasks: TaskHarness, job_store: JobStore
) -> None:
    """Else the receipt lease would expire and the sweeper send a finished chunk again."""
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    _run_as(tasks, "batch.chunk", "first", job_id, 0)
    leases = LeaseStore(job_store)
    assert leases.acquire(job_id=job_id, idx=0, task_id="twice", worker="w1", pid=1,
                          seconds=60)  # as worker.receipt does for the duplicate message

    _run_as(tasks, "batch.chunk", "twice", job_id, 0)

    assert leases.get(job_id, 0) is None


def test_a_chunk_of_a_cancelled_job_lets_go_of_its_receipt_lease(
    tasks: TaskHarness, job_store: JobStore
) -> None:
    job_id = _batch_job(job_store)
    tasks.task("batch.start").run(job_id)
    leases = LeaseStore(job_store)
    leases.acquire(job_id=job_id, idx=1, task_id="late", worker="w1", pid=1, seconds=60)
    job_store.cancel(job_id)

    _run_as(tasks, "batch.chunk", "late", job_id, 1)

    assert leases.get(job_id, 1) is None
