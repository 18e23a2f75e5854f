"""The web console in a real browser, against a real API process, worker, Redis and PostgreSQL.

These tests also take the README's screenshots (docs/screenshots/), so those stay current, and
run axe-core (bundled with axe-playwright-python, injected into the page: no network) on every
page they visit: no serious or critical accessibility violation may appear.
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
from tests.fixtures.browser import LAPTOP, TABLET
from tests.fixtures.services import ADMIN_KEY, Stack

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, FilePayload, Page

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
N_ROWS = 300
REVIEWER_KEY = "integration-reviewer-key"


@pytest.fixture(scope="module")
def console(stack: Stack) -> Stack:
    """A worker and the API, with a champion trained by a training job on the sample catalog."""
    stack.env["BATCH_CHUNK_SIZE"] = "50"  # a few chunks: the bar moves in steps
    stack.env["REVIEWER_API_KEY"] = REVIEWER_KEY
    # A looser precision target than the default's, so that the sample catalog's model files
    # some names itself: the results show both decisions.
    stack.env["AUTO_FILE_PRECISION"] = "0.99"
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
    """Catalog names, and every fifth row a name no category fits: the model files the first
    kind itself (`auto`) and sends the second to a person (`review`)."""
    catalog = load_catalog(SAMPLE_CATALOG)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "name"])
    for i in range(n_rows):
        name = (f"artículo surtido lote {i}" if i % 5 == 4
                else catalog.names[(i * 7) % len(catalog)])
        writer.writerow([f"SKU-{i:04d}", name])
    return out.getvalue().encode()


def _audit(page: Page) -> None:
    """No serious or critical accessibility violation on the page as it is now (axe-core's
    WCAG 2 A/AA and best-practice rules: labels, contrast, names, landmarks, tab order)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = [f"{v['impact']} {v['id']}: {v['help']} at "
             f"{[node['target'] for node in v['nodes'][:3]]}"
             for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert found == [], f"{page.url}: {found}"


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    _audit(page)
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
    _audit(page)
    job_id = page.url.split("/")[-1].split("?")[0]
    summary = httpx.get(f"{console.api_url}/v1/jobs/{job_id}", timeout=10).json()["result"]
    assert summary["auto"] > 3, summary
    assert summary["review"] > 0, summary
    # Most confident first, from a few rows above where filing stops: both decisions show.
    page.goto(f"{console.api_url}/ui/jobs/{job_id}?sort=-confidence"
              f"&offset={summary['auto'] - 3}")
    decisions = page.locator("#results-table tbody tr td:nth-child(6)").all_inner_texts()
    assert decisions[:4] == ["auto"] * 3 + ["review"]
    page.locator("#results-title").scroll_into_view_if_needed()
    _shot(page, "job")

    page.select_option("#f-decision", "review")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**decision=review*")
    decisions = page.locator("#results-table tbody tr td:nth-child(6)").all_inner_texts()
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
    _audit(page)


def _sign_in(page: Page, console: Stack, next_path: str, key: str = ADMIN_KEY) -> None:
    page.goto(f"{console.api_url}/ui/sign-in?next={next_path}")
    _audit(page)
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


def _small_import(console: Stack, n_rows: int = 60) -> tuple[str, dict]:
    """A finished import with at least six rows waiting for review: (id, summary)."""
    with console.client() as client:
        job_id = client.post("/v1/batch-jobs", files={
            "file": ("few.csv", _catalog_csv(n_rows), "text/csv")}).json()["job_id"]
    summary = console.wait_for_job(job_id)["result"]
    assert summary["review"] >= 6, summary  # rows the model sent to a person
    return job_id, summary


def test_the_console_speaks_spanish_by_accept_language_and_switches(
    browser: Browser, console: Stack,
) -> None:
    job_id, _ = _small_import(console)
    context = browser.new_context(viewport=LAPTOP, locale="es-ES")  # Accept-Language: es-ES
    try:
        page = context.new_page()
        page.goto(f"{console.api_url}/ui/jobs/{job_id}?sort=confidence")
        page.wait_for_selector("#results-table tbody tr")
        assert page.locator("html").get_attribute("lang") == "es"
        assert page.locator("#results-title").inner_text() == "Resultados"
        assert page.get_by_role("link", name="Descargar CSV").is_visible()
        page.locator("#results-title").scroll_into_view_if_needed()
        _shot(page, "job_es")

        page.get_by_role("button", name="English").click()  # the switch, kept in a cookie
        page.wait_for_selector("html[lang=en]")
        assert page.locator("#results-title").inner_text() == "Results"
        assert "sort=confidence" in page.url  # back on the same view
        page.goto(f"{console.api_url}/ui/import")
        assert page.locator("html").get_attribute("lang") == "en"
    finally:
        context.close()


def test_with_many_categories_the_picker_searches_by_typing_and_bulk_accept_takes_many(
    page: Page, console: Stack,
) -> None:
    paths = [f"Herramientas > Eléctricas > Taladro {i}" for i in range(1, 11)]
    with console.client(admin=True) as client:
        for path in paths:  # more than the nine number keys
            assert client.post("/v1/categories", json={"name": path}).status_code in (200, 201)
    job_id, summary = _small_import(console)
    _sign_in(page, console, f"/ui/review?job_id={job_id}", key=REVIEWER_KEY)
    _wait_left(page, summary["review"])
    left = _left(page)

    item = int(page.locator(".review-item.current").get_attribute("data-item") or 0)
    search = page.locator(f"#search-{item}")
    search.type("taladro 1")  # typing in the box picks no category by its number keys
    match = page.locator(f"#picker-{item} button.match").first
    match.wait_for()
    assert _left(page) == left
    assert set(page.locator(f"#picker-{item} .path").all_inner_texts()) == {
        "Herramientas > Eléctricas"}
    leaves = page.locator(f"#picker-{item} .leaf").all_inner_texts()
    assert leaves
    assert all(leaf.startswith("Taladro 1") for leaf in leaves)
    _audit(page)
    chosen = f"Herramientas > Eléctricas > {leaves[0]}"
    match.click()
    _wait_left(page, left - 1)

    ids = [int(i or 0) for i in page.locator(".review-item").evaluate_all(
        "items => items.slice(0, 2).map(i => i.dataset.item)")]
    for i in ids:
        page.locator(f"#select-{i}").check()
    page.get_by_role("button", name="Accept selected").click()
    _wait_left(page, left - 3)
    assert page.locator("#decided-count").inner_text() == "3"

    with console.client(admin=True) as client:
        decided = client.get(f"/v1/review-items/{item}").json()
        bulk = [client.get(f"/v1/review-items/{i}").json() for i in ids]
    assert (decided["state"], decided["decided_category"]) == ("corrected", chosen)
    assert [b["state"] for b in bulk] == ["accepted", "accepted"]


def _left(page: Page) -> int:
    return int(page.locator("#left-count").inner_text())


def _wait_left(page: Page, expected: int) -> None:
    page.wait_for_function(
        f"document.getElementById('left-count').textContent === '{expected}'")


def test_review_by_keyboard_and_mouse_shrinks_the_queue_and_changes_the_results(
    page: Page, console: Stack,
) -> None:
    job_id, summary = _small_import(console)
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
