"""The web console in a real browser, against a real API process, worker, Redis and PostgreSQL.

These tests also take the README's screenshots (docs/screenshots/), so those stay current.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from core.data import SAMPLE_CATALOG, load_catalog
from tests.fixtures.browser import TABLET
from tests.fixtures.services import ADMIN_KEY, Stack

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, FilePayload, Page

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
N_ROWS = 300
REVIEWER_KEY = "integration-reviewer-key"


@pytest.fixture(scope="module")
def console(stack: Stack) -> Stack:
    """A worker and the API, with a champion trained by a training job on the sample catalog."""
    stack.env["BATCH_CHUNK_SIZE"] = "50"  # a few chunks: the bar moves in steps
    stack.env["REVIEWER_API_KEY"] = REVIEWER_KEY
    stack.worker("console")
    stack.api()
    with stack.client(admin=True) as client:
        job = client.post("/v1/training-jobs", json={"data": str(SAMPLE_CATALOG)}).json()
    stack.wait_for_job(job["job_id"])
    return stack


@pytest.fixture
def page(console: Stack, browser_context: BrowserContext) -> Iterator[Page]:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"the page's scripts failed: {errors}"


def _catalog_csv(n_rows: int) -> bytes:
    catalog = load_catalog(SAMPLE_CATALOG)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "name"])
    for i in range(n_rows):
        writer.writerow([f"SKU-{i:04d}", catalog.names[(i * 7) % len(catalog)]])
    return out.getvalue().encode()


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _upload(page: Page, console: Stack, content: bytes, *, shot: str | None = None) -> None:
    page.goto(f"{console.api_url}/ui/import")
    upload: FilePayload = {"name": "catalog.csv", "mimeType": "text/csv", "buffer": content}
    page.set_input_files("#import-file", files=[upload])
    if shot:
        _shot(page, shot)
    page.get_by_role("button", name="Categorize").click()


def test_an_import_shows_its_progress_to_the_end_then_its_results(page: Page,
                                                                  console: Stack) -> None:
    _upload(page, console, _catalog_csv(N_ROWS), shot="import")

    page.wait_for_url("**/ui/jobs/*")
    page.wait_for_selector("#results-table tbody tr", timeout=90_000)
    bar = page.locator("#job-bar")
    assert bar.get_attribute("max") == str(N_ROWS)
    assert page.evaluate("document.getElementById('job-bar').value") == N_ROWS
    assert page.locator("#job-rows").inner_text().startswith(f"{N_ROWS} of {N_ROWS} rows")
    assert page.locator("#results-table tbody tr").count() == 100
    assert f"Rows 1–100 of {N_ROWS}" in page.locator("#results-count").inner_text()
    _shot(page, "job")

    page.select_option("#f-decision", "review")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**decision=review*")
    decisions = page.locator("#results-table tbody tr td:nth-child(6)").all_inner_texts()
    summary = httpx.get(f"{console.api_url}/v1/jobs/{page.url.split('/')[-1].split('?')[0]}",
                        timeout=10).json()["result"]
    assert f"of {summary['review']}" in page.locator("#results-count").inner_text()
    assert set(decisions) == {"review"}

    page.select_option("#f-decision", "")
    page.select_option("#f-category", "Plomería")
    page.select_option("#f-sort", "confidence")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**category=Plomer*")
    cells = page.locator("#results-table tbody tr td:nth-child(4)").all_inner_texts()
    confidences = [float(c) for c in
                   page.locator("#results-table tbody tr td:nth-child(5)").all_inner_texts()]
    assert cells
    assert set(cells) == {"Plomería"}
    assert confidences == sorted(confidences)


def test_a_bad_csv_shows_the_apis_message(page: Page, console: Stack) -> None:
    _upload(page, console, b"product,price\ntaladro,10\n")

    error = page.locator("#import-error")
    error.wait_for(state="visible")
    assert "(400)" in error.inner_text()
    assert "name" in error.inner_text()
    assert "/ui/import" in page.url


def _sign_in(page: Page, console: Stack, next_path: str, key: str = ADMIN_KEY) -> None:
    page.goto(f"{console.api_url}/ui/sign-in?next={next_path}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_path}")


def test_the_jobs_page_lists_recent_jobs(page: Page, console: Stack) -> None:
    _sign_in(page, console, "/ui/jobs")

    kinds = page.locator("#jobs-table tbody tr td:nth-child(2)").all_inner_texts()
    assert "training" in kinds
    _shot(page, "jobs")
    page.select_option("#j-kind", "training")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**kind=training*")
    assert set(page.locator("#jobs-table tbody tr td:nth-child(2)").all_inner_texts()) == {
        "training"}


def test_the_models_page_shows_the_champion_and_its_figures(page: Page,
                                                             console: Stack) -> None:
    champion = httpx.get(f"{console.api_url}/v1/models", timeout=10).json()["champion"]
    _sign_in(page, console, "/ui/models")

    row = page.locator("#models-table tr.champion")
    assert row.locator("td").first.inner_text().startswith(f"v{champion}")
    assert "champion" in row.inner_text()
    assert page.get_by_role("link", name="Roll back").is_visible()
    _shot(page, "models")
    page.get_by_role("link", name=f"v{champion}", exact=True).click()
    image = page.locator("figure img").first
    image.wait_for()
    page.wait_for_function("document.querySelector('figure img').naturalWidth > 0")
    _shot(page, "model_version")


def test_try_it_categorizes_as_you_type_on_a_tablet(page: Page, console: Stack) -> None:
    page.set_viewport_size(TABLET)
    page.goto(f"{console.api_url}/ui/try")
    page.get_by_label("Product names").fill("taladro percutor 650W\ntubo pvc hidraulico 1/2")

    page.wait_for_selector("#predictions-table tbody tr:nth-child(2)")
    categories = page.locator("#predictions-table tbody tr td:nth-child(2)").all_inner_texts()
    assert categories == ["Herramientas", "Plomería"]
    _shot(page, "try")


def _left(page: Page) -> int:
    return int(page.locator("#left-count").inner_text())


def _wait_left(page: Page, expected: int) -> None:
    page.wait_for_function(
        f"document.getElementById('left-count').textContent === '{expected}'")


def test_review_by_keyboard_and_mouse_shrinks_the_queue_and_changes_the_results(
    page: Page, console: Stack,
) -> None:
    with console.client() as client:
        job_id = client.post("/v1/batch-jobs", files={
            "file": ("few.csv", _catalog_csv(12), "text/csv")}).json()["job_id"]
    summary = console.wait_for_job(job_id)["result"]
    assert summary["review"] >= 5, summary  # rows the model sent to a person
    _sign_in(page, console, f"/ui/review?job_id={job_id}", key=REVIEWER_KEY)
    _wait_left(page, summary["review"])
    left = _left(page)

    def current() -> tuple[int, str]:
        item = page.locator(".review-item.current")
        return int(item.get_attribute("data-item") or 0), item.locator(".name").inner_text()

    first, _ = current()
    page.keyboard.press("Enter")  # accept the proposal
    _wait_left(page, left - 1)
    second, _ = current()
    choice = page.locator(f'#item-{second} button[data-key="2"] .leaf').inner_text()
    page.keyboard.press("2")  # correct it: the second choice
    _wait_left(page, left - 2)
    third, _ = current()
    page.keyboard.press("s")  # skip
    _wait_left(page, left - 3)
    fourth, _ = current()
    page.locator(f'#item-{fourth} button[data-action="accept"]').click()  # the mouse
    _wait_left(page, left - 4)
    assert page.locator("#decided-count").inner_text() == "4"
    _shot(page, "review")
    page.keyboard.press("u")  # undo the last: the fourth is pending again
    _wait_left(page, left - 3)
    assert page.locator("#decided-count").inner_text() == "3"
    assert page.locator(f"#item-{fourth}").count() == 1

    with console.client(admin=True) as client:
        items = {i: client.get(f"/v1/review-items/{i}").json()
                 for i in (first, second, third, fourth)}
        results = {r["row"]: r for r in client.get(
            f"/v1/batch-jobs/{job_id}/results").json()["items"]}
    assert [items[i]["state"] for i in (first, second, third, fourth)] == [
        "accepted", "corrected", "skipped", "pending"]
    corrected = items[second]
    assert corrected["decided_category"].endswith(choice)
    assert results[corrected["row"]]["category"] == corrected["decided_category"]
    assert results[corrected["row"]]["source"] == "review"
    assert results[items[fourth]["row"]]["source"] == "model"
