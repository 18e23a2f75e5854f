"""The console's review queue: decide by form (what the keys and the mouse post), bulk, undo,
the category picker."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from api.deps import AppState
from core.batch_store import InputRow
from core.review import NewItem
from tests.api.ui.console import csrf, sign_in
from tests.fixtures.app import REVIEWER_KEY

CATEGORIES = ["Herramientas", "Plomería", "Electricos"]


def _items(state: AppState, confidences: list[float]) -> tuple[str, list[int]]:
    """A batch job whose rows went to review with these confidences; the items' ids, least
    confident first."""
    rows = [InputRow(id=str(i), name=f"producto {i}") for i in range(len(confidences))]
    job, _ = state.batches.create_batch([rows])
    state.review.add_items(job.id, [
        NewItem(row=i, name=f"producto {i}", category=CATEGORIES[i % 3], confidence=c,
                top_k=[{"category": CATEGORIES[i % 3], "confidence": c},
                       {"category": CATEGORIES[(i + 1) % 3], "confidence": 1 - c}])
        for i, c in enumerate(confidences)], model_version=1)
    page = state.review.list_items(job_id=job.id, limit=100)
    return job.id, [item.id for item in page.items]


def _queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-item="(\d+)"', html)]


def _left(html: str) -> int:
    match = re.search(r'data-left="(\d+)"', html)
    assert match, html
    return int(match.group(1))


def test_the_review_page_needs_a_reviewer_or_admin_key(api_client: TestClient) -> None:
    response = api_client.get("/ui/review", follow_redirects=False)
    queue = api_client.get("/ui/review/queue", follow_redirects=False)

    assert response.status_code == queue.status_code == 303
    assert response.headers["location"].startswith("/ui/sign-in?next=/ui/review")
    sign_in(api_client, REVIEWER_KEY)
    assert api_client.get("/ui/review").status_code == 200


def test_the_queue_is_least_confident_first_with_numbered_choices(
    api_client: TestClient, app_state: AppState,
) -> None:
    job_id, ids = _items(app_state, [0.7, 0.3, 0.5])
    sign_in(api_client, REVIEWER_KEY)

    html = api_client.get("/ui/review/queue", params={"job_id": job_id}).text

    assert _queue_ids(html) == ids
    assert [app_state.review.get_item(i).confidence for i in ids] == [0.3, 0.5, 0.7]
    assert _left(html) == 3
    first = html.split('data-item="', 2)[1]
    assert 'data-key="1"' in first
    assert 'data-action="accept"' in first
    assert 'data-action="skip"' in first
    assert 'type="search"' not in html  # three categories fit on the keys


def test_accept_correct_and_skip_leave_the_queue(api_client: TestClient,
                                                 app_state: AppState) -> None:
    job_id, ids = _items(app_state, [0.2, 0.3, 0.4, 0.5])
    token = sign_in(api_client, REVIEWER_KEY)
    htmx = {"HX-Request": "true"}
    proposed = app_state.review.get_item(ids[0]).category
    other = next(c for c in CATEGORIES if c != app_state.review.get_item(ids[1]).category)

    api_client.post(f"/ui/review/{ids[0]}", headers=htmx,
                    data={"category": proposed, "csrf_token": token, "job_id": job_id})
    api_client.post(f"/ui/review/{ids[1]}", headers=htmx,
                    data={"category": other, "csrf_token": token, "job_id": job_id})
    last = api_client.post(f"/ui/review/{ids[2]}", headers=htmx,
                           data={"skip": "1", "csrf_token": token, "job_id": job_id})

    states = [app_state.review.get_item(i) for i in ids]
    assert [s.state for s in states] == ["accepted", "corrected", "skipped", "pending"]
    assert states[1].decided_category == other
    assert states[0].decided_by == "reviewer"
    assert _queue_ids(last.text) == [ids[3]]
    assert _left(last.text) == 1
    assert f'data-decided="{ids[2]}"' in last.text


def test_a_decision_without_the_csrf_token_is_refused(api_client: TestClient,
                                                      app_state: AppState) -> None:
    _, ids = _items(app_state, [0.2])
    sign_in(api_client, REVIEWER_KEY)

    response = api_client.post(f"/ui/review/{ids[0]}", data={"skip": "1"})

    assert response.status_code == 403
    assert app_state.review.get_item(ids[0]).state == "pending"


def test_bulk_accept_and_undo(api_client: TestClient, app_state: AppState) -> None:
    job_id, ids = _items(app_state, [0.2, 0.3, 0.4])
    token = sign_in(api_client)  # the admin may review too

    accepted = api_client.post("/ui/review/accept", headers={"HX-Request": "true"}, data={
        "ids": [str(ids[0]), str(ids[2])], "csrf_token": token, "job_id": job_id})
    undone = api_client.post(f"/ui/review/{ids[2]}/undo", headers={"HX-Request": "true"},
                             data={"csrf_token": token, "job_id": job_id})

    assert _queue_ids(accepted.text) == [ids[1]]
    assert app_state.review.get_item(ids[0]).state == "accepted"
    assert app_state.review.get_item(ids[0]).decided_by == "admin"
    assert _queue_ids(undone.text) == [ids[1], ids[2]]
    assert app_state.review.get_item(ids[2]).state == "pending"
    assert [d.state for d in app_state.review.history(ids[2])] == ["accepted", "pending"]
    labels = app_state.review.list_labels(job_id=job_id).items
    assert [label.name for label in labels] == ["producto 0"]


def test_with_more_than_nine_categories_the_picker_searches_and_shows_paths(
    api_client: TestClient, app_state: AppState,
) -> None:
    for i in range(12):
        app_state.review.add_category(f"Herramientas > Eléctricas > Taladro {i}", by="admin")
    _, ids = _items(app_state, [0.2])
    token = sign_in(api_client, REVIEWER_KEY)

    html = api_client.get("/ui/review/queue").text
    found = api_client.get("/ui/review/categories", params={"item": ids[0], "q": "taladro 1"})
    chosen = "Herramientas > Eléctricas > Taladro 11"
    api_client.post(f"/ui/review/{ids[0]}", data={"category": chosen, "csrf_token": token})

    assert f'id="search-{ids[0]}"' in html
    assert html.count('data-key="') == 2  # the proposal and its one alternative
    assert found.status_code == 200
    assert re.findall(r'<span class="leaf">([^<]+)</span>', found.text) == [
        "Taladro 1", "Taladro 10", "Taladro 11"]
    assert '<span class="path">Herramientas &gt; Eléctricas</span>' in found.text
    assert app_state.review.get_item(ids[0]).decided_category == chosen


def test_an_unknown_category_is_refused_with_a_message(api_client: TestClient,
                                                       app_state: AppState) -> None:
    _, ids = _items(app_state, [0.2])
    token = sign_in(api_client, REVIEWER_KEY)

    response = api_client.post(f"/ui/review/{ids[0]}",
                               data={"category": "Juguetes", "csrf_token": csrf(api_client)})

    assert token
    assert response.status_code == 422
    assert "unknown category" in response.text
    assert app_state.review.get_item(ids[0]).state == "pending"


def test_the_import_results_show_the_reviewers_category(api_client: TestClient,
                                                        app_state: AppState) -> None:
    job_id, ids = _items(app_state, [0.2])
    item = app_state.review.get_item(ids[0])
    app_state.batches.put_result(job_id, 0, [(item.category, 0.2, None, "review")])
    app_state.store.succeed(job_id, {"rows": 1, **app_state.batches.decision_counts(job_id)})
    other = next(c for c in CATEGORIES if c != item.category)
    app_state.review.decide(ids[0], by="reviewer", category=other)

    page = api_client.get(f"/ui/jobs/{job_id}").text

    row = page.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert f"<td>{other}</td>" in row
    assert "<td>review</td>" in row  # the source: a person gave it
