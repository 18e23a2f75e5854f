"""The Celery app's configuration: no job lost with a worker, each task on its own queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery import Celery

import worker.tasks  # noqa: F401  (registers the shared tasks with every app)
from core.config import Settings
from worker.celery_app import create_celery_app
from worker.names import BATCH_START_TASK as BATCH_TASK
from worker.names import TRAINING_TASK

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_app(app_settings: Settings) -> Celery:
    return create_celery_app(app_settings.model_copy(update={"redis_url": REDIS}))


@pytest.fixture
def embedded_app(app_settings: Settings) -> Celery:
    assert app_settings.redis_url is None
    return create_celery_app(app_settings)


def _queue(app: Celery, task_name: str) -> str:
    return str(app.amqp.router.route({}, task_name, (), {})["queue"].name)


def test_a_killed_worker_loses_no_message(redis_app: Celery) -> None:
    conf = redis_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1


@pytest.mark.parametrize(("task_name", "queue"), [
    ("training.run", "training"),
    ("batch.start", "inference"),
    ("batch.chunk", "inference"),
])
def test_tasks_are_routed_to_their_queue(redis_app: Celery, embedded_app: Celery,
                                         task_name: str, queue: str) -> None:
    assert task_name in redis_app.tasks
    assert _queue(redis_app, task_name) == _queue(embedded_app, task_name) == queue


def test_the_tasks_the_api_enqueues_exist(redis_app: Celery) -> None:
    assert TRAINING_TASK in redis_app.tasks
    assert BATCH_TASK in redis_app.tasks
    assert _queue(redis_app, TRAINING_TASK) == "training"
    assert _queue(redis_app, BATCH_TASK) == "inference"


def test_redis_redelivers_only_after_the_longest_task_could_have_run(
    redis_app: Celery, app_settings: Settings
) -> None:
    conf = redis_app.conf
    assert conf.broker_url == conf.result_backend == REDIS
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert conf.task_time_limit == app_settings.training_time_limit
    assert visibility > conf.task_time_limit
    assert visibility > app_settings.batch_chunk_time_limit


def test_batch_tasks_get_the_batch_time_limit(redis_app: Celery, app_settings: Settings) -> None:
    training = redis_app.tasks["training.run"]
    assert training.time_limit == app_settings.training_time_limit
    for name in ("batch.start", "batch.chunk"):
        task = redis_app.tasks[name]
        assert task.time_limit == app_settings.batch_chunk_time_limit, name
        assert task.soft_time_limit == app_settings.batch_chunk_time_limit - 5, name


def test_results_expire_and_only_json_is_accepted(redis_app: Celery,
                                                  app_settings: Settings) -> None:
    conf = redis_app.conf
    assert conf.result_expires == app_settings.result_expires
    assert conf.task_ignore_result is True  # job state lives in the job store
    assert conf.task_serializer == "json"
    assert list(conf.accept_content) == ["json"]


def test_without_redis_the_broker_is_embedded_under_data_dir(
    embedded_app: Celery, app_settings: Settings
) -> None:
    conf = embedded_app.conf
    assert conf.broker_url == "filesystem://"
    options = conf.broker_transport_options
    broker = app_settings.data_dir.resolve() / "broker"
    for key in ("data_folder_in", "data_folder_out", "processed_folder"):
        assert Path(options[key]).is_dir()
        assert Path(options[key]).is_relative_to(broker)
    # Producer and consumer must meet in the same folder.
    assert options["data_folder_in"] == options["data_folder_out"]
    assert conf.result_backend.startswith("db+sqlite:///")
    assert str(app_settings.data_dir.resolve()) in conf.result_backend


@pytest.mark.parametrize("task_name", ["training.run", "batch.start", "batch.chunk"])
def test_every_task_retries_task_max_retries_times(app_settings: Settings,
                                                   task_name: str) -> None:
    app = create_celery_app(app_settings.model_copy(update={"task_max_retries": 7}))

    assert app.tasks[task_name].max_retries == 7
