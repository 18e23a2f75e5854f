"""Training sources through the API: a refused source is a 400 before any job exists, and no
answer (the refusal, a job's error, a job's status) ever carries a secret the server holds."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.config import Settings
from core.jobs import JobStore
from tests.fixtures.app import ADMIN, FakeQueue, TaskHarness, stored_jobs

URL = "/v1/training-jobs"
SECRET = "planted-secret-line-0f9e8d"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PLANTED_SECRET", SECRET)
    return SECRET


@pytest.fixture
def server(app_settings: Settings, tmp_path: Path) -> Path:
    """A secret file outside the folders, a catalogs folder, and a SQLite source 'erp'."""
    (tmp_path / "secret.csv").write_text(f"{SECRET}\ncategory,name\n")
    catalogs = tmp_path / "catalogs"
    catalogs.mkdir()
    (catalogs / "escape.csv").symlink_to(tmp_path / "secret.csv")
    db = tmp_path / "erp.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE products (category TEXT, name TEXT)")
        connection.execute("CREATE TABLE secrets (v TEXT)")
        connection.execute("INSERT INTO secrets VALUES (?)", (SECRET,))
    connection.close()
    app_settings.training_sources = {"erp": SecretStr(f"sqlite:///{db}")}
    app_settings.training_queries = True
    return tmp_path


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("etc-passwd", {"data": "/etc/passwd"}, "not a file in the training data folders"),
    ("proc-environ", {"data": "/proc/self/environ"}, "not a file in the training data folders"),
    ("outside", {"data": "{tmp}/secret.csv"}, "not a file in the training data folders"),
    ("dotdot", {"data": "../secret.csv"}, "'..' is not allowed"),
    ("symlink-out", {"data": "escape.csv"}, "not a file in the training data folders"),
    ("http", {"data": "http://127.0.0.1:9/catalog.csv"}, "URLs are not training sources"),
    ("sqlite-url", {"data": "sqlite:///{tmp}/erp.db", "table": "secrets"},
     "go with a 'source'"),
    ("sqlite-url-alone", {"data": "sqlite:///{tmp}/new.db"}, "database URL cannot be sent"),
    ("postgres-url", {"data": "postgresql://postgres@127.0.0.1:5432/postgres"},
     "database URL cannot be sent"),
    ("unknown-source", {"source": "crm", "table": "products"}, "no SQL source named 'crm'"),
    ("unknown-table", {"source": "erp", "table": "prices"}, "no table named 'prices'"),
    ("secret-table", {"source": "erp", "table": "secrets"}, "no column(s) category, name"),
    ("drop", {"source": "erp", "query": "DROP TABLE secrets"}, "must be a SELECT"),
    ("multi", {"source": "erp", "query": "SELECT category, name FROM products; "
                                         "DELETE FROM secrets"}, "one SELECT statement"),
    ("system-table", {"source": "erp", "query": "SELECT sql AS category, name "
                                                "FROM sqlite_master"}, "not a table of source"),
]


@pytest.mark.parametrize(("body", "problem"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_a_refused_source_is_400_before_a_job_exists(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue, server: Path,
    secret_env: str, body: dict[str, Any], problem: str,
) -> None:
    body = {k: v.format(tmp=server) for k, v in body.items()}

    response = api_client.post(URL, json=body, headers=ADMIN)

    assert response.status_code == 400, response.text
    assert problem in response.json()["detail"]
    assert SECRET not in response.text
    assert str(server) not in response.text
    assert stored_jobs(job_store) == []
    assert fake_queue.sent == []
    assert not (server / "new.db").exists()
    with sqlite3.connect(server / "erp.db") as connection:
        assert connection.execute("SELECT count(*) FROM secrets").fetchone() == (1,)
    connection.close()


def test_the_legacy_endpoint_and_training_data_go_through_the_same_checks(
    api_client: TestClient, app_settings: Settings, job_store: JobStore, server: Path,
) -> None:
    app_settings.training_data = "/etc/passwd"
    assert api_client.get("/training", headers=ADMIN).status_code == 400

    app_settings.training_data = f"sqlite:///{server}/erp.db"
    app_settings.training_table = "secrets"
    refused = api_client.get("/training", headers=ADMIN)
    assert refused.status_code == 400
    assert "go with a 'source'" in refused.json()["detail"]

    app_settings.training_data = "erp"  # a TRAINING_SOURCES name
    app_settings.training_table = "products"
    assert api_client.get("/training", headers=ADMIN).status_code == 202
    [job] = stored_jobs(job_store)
    assert job.params == {"data": None, "source": "erp", "table": "products", "query": None,
                          "include_labels": True}


def test_a_planted_secret_never_appears_in_a_failed_jobs_answers(
    api_client: TestClient, job_store: JobStore, tasks: TaskHarness, server: Path,
) -> None:
    """A file allowed at submission and swapped for a link to a secret, and a catalog whose
    bad rows hold the secret: the jobs fail naming the problem, row and column only."""
    catalogs = server / "catalogs"
    (catalogs / "swap.csv").write_text("category,name\nA,b\n")
    (catalogs / "rows.csv").write_text(f"category,name\n{SECRET},x\n,{SECRET}\n")
    (catalogs / "header.csv").write_text(f"{SECRET},{SECRET}\nA,b\n")
    ids = {}
    for name in ("swap.csv", "rows.csv", "header.csv"):
        response = api_client.post(URL, json={"data": name}, headers=ADMIN)
        assert response.status_code == 202, response.text
        ids[name] = response.json()["job_id"]
    (catalogs / "swap.csv").unlink()
    (catalogs / "swap.csv").symlink_to(server / "secret.csv")

    for job_id in ids.values():
        tasks.task("training.run").run(job_id)

    errors = {}
    for name, job_id in ids.items():
        answer = api_client.get(f"/v1/jobs/{job_id}", headers=ADMIN)
        assert answer.json()["state"] == "failed"
        assert SECRET not in answer.text
        assert str(server) not in answer.text
        errors[name] = answer.json()["error"]
    assert "not a file in the training data folders" in errors["swap.csv"]
    assert errors["rows.csv"] == "rows.csv, row 3, column 'category': empty category"
    assert errors["header.csv"].startswith("header.csv, row 1: missing column(s) category, name")
