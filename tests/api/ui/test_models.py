"""The console's models page: versions, figures, and the admin's promote, rollback, train."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sklearn.pipeline import Pipeline

from core.jobs import JobStore
from tests.api.ui.console import csrf, sign_in
from tests.fixtures.app import FAKE_PNG, FakeQueue, FakeRegistry, stored_jobs

CATALOG_CSV = ("category,name\n" + "".join(
    f"Plomería,Codo PVC {i}\nElectricos,Foco LED {i}W\n" for i in range(1, 6))).encode()


def test_shows_versions_with_the_champion_and_the_gate_decision(
    api_client: TestClient, fake_registry: FakeRegistry, app_pipeline: Pipeline
) -> None:
    fake_registry.add_version(app_pipeline)

    page = api_client.get("/ui/models").text

    assert '<tr class="champion">' in page
    assert 'href="/ui/models/1">v1</a> <span class="badge">Serving' in page
    assert "v1: first model: no champion yet" in page
    assert "0.9000" in page
    assert "0.931" in page  # the auto-file threshold
    assert "87.1 %" in page  # its coverage on the test split
    assert "Sign in as admin" in page
    assert "/promote" not in page  # no admin buttons without the admin key


def test_a_version_page_shows_its_figures(api_client: TestClient) -> None:
    page = api_client.get("/ui/models/1").text
    image = api_client.get("/ui/models/1/figures/confusion_matrix.png")

    assert '<img src="/ui/models/1/figures/confusion_matrix.png"' in page
    assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
    assert image.content == FAKE_PNG
    assert api_client.get("/ui/models/1/figures/other.png").status_code == 404
    assert api_client.get("/ui/models/9").status_code == 404


def test_promoting_needs_the_admin_key(api_client: TestClient, fake_registry: FakeRegistry,
                                       app_pipeline: Pipeline) -> None:
    fake_registry.add_version(app_pipeline)
    token = csrf(api_client)

    confirm = api_client.get("/ui/models/2/promote", follow_redirects=False)
    post = api_client.post("/ui/models/2/promote", data={"csrf_token": token},
                           follow_redirects=False)

    assert confirm.status_code == post.status_code == 303
    assert confirm.headers["location"].startswith("/ui/sign-in?next=/ui/models/2/promote")
    assert fake_registry.champion == 1


def test_promote_asks_for_confirmation_then_promotes(
    api_client: TestClient, fake_registry: FakeRegistry, app_pipeline: Pipeline
) -> None:
    fake_registry.add_version(app_pipeline)
    token = sign_in(api_client)

    confirm = api_client.get("/ui/models/2/promote")
    forged = api_client.post("/ui/models/2/promote", data={"csrf_token": "x"})
    assert fake_registry.champion == 1
    done = api_client.post("/ui/models/2/promote", data={"csrf_token": token},
                           follow_redirects=False)

    assert "Make version 2 the champion?" in confirm.text
    assert forged.status_code == 403
    assert done.status_code == 303
    assert fake_registry.champion == 2
    assert "Done: version 2 is the champion." in api_client.get(done.headers["location"]).text


def test_rollback_restores_the_previous_champion(
    api_client: TestClient, fake_registry: FakeRegistry, app_pipeline: Pipeline
) -> None:
    fake_registry.add_version(app_pipeline)
    fake_registry.promote(2)
    token = sign_in(api_client)

    confirm = api_client.get("/ui/models/rollback/confirm")
    api_client.post("/ui/models/rollback", data={"csrf_token": token})

    assert "Roll back to the champion before version 2?" in confirm.text
    assert fake_registry.champion == 1


def test_training_from_an_upload_queues_a_job(
    api_client: TestClient, job_store: JobStore, fake_queue: FakeQueue
) -> None:
    token = sign_in(api_client)

    response = api_client.post("/ui/models/train", data={"csrf_token": token},
                               files={"file": ("catalog.csv", CATALOG_CSV, "text/csv")},
                               follow_redirects=False)

    (job,) = stored_jobs(job_store)
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/jobs/{job.id}"
    assert job.kind == "training"
    assert job_store.get_upload(job.id) == CATALOG_CSV
    assert fake_queue.sent == [("training.run", [job.id])]


def test_a_bad_training_upload_shows_the_problem(
    api_client: TestClient, job_store: JobStore
) -> None:
    token = sign_in(api_client)

    response = api_client.post("/ui/models/train", data={"csrf_token": token},
                               files={"file": ("catalog.csv", b"nombre\nx\n", "text/csv")})

    assert response.status_code == 400
    assert "<html" in response.text
    assert "category" in response.text
    assert stored_jobs(job_store) == []


def test_the_page_shows_each_challengers_shadow_record(
    app_state: Any, fake_registry: FakeRegistry, app_pipeline: Pipeline,
    make_client: Callable[[], TestClient],
) -> None:
    from tests.api.test_models import disagreed_then_labelled

    fake_registry.challenger = fake_registry.add_version(app_pipeline)
    disagreed_then_labelled(app_state, n=25, truth="Herramientas")  # the champion was right

    page = make_client().get("/ui/models").text

    assert "agreed on 50 of 75 names" in page
    assert "on 25 labelled: champion right 25, challenger 0" in page
    assert "did worse on labelled names" in page
