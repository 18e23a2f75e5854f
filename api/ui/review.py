"""The review queue: least confident first, one key per decision, bulk accept, undo.

Each decision posts a form (htmx) and gets the refreshed queue back, so the page shows what
the store now holds: the item leaves the queue and the counter of what is left drops.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from api.ui.web import Role, check_csrf, redirect, render, require_role, state_of

router = APIRouter()
Form = Annotated[dict, Depends(check_csrf)]

PAGE = 10
CHOICES = 9  # the keys 1-9


def _reviewer(request: Request) -> Role:
    return require_role(request, "reviewer", "admin")


def _sync_categories(request: Request) -> None:
    """The served model's categories are among the known ones (what a correction may name)."""
    holder = state_of(request).champion
    if holder.loaded:
        classifier = holder.classifier
        state_of(request).review.sync_model_categories(classifier.version, classifier.classes)


def _separator(request: Request) -> str:
    return str(getattr(state_of(request).settings, "category_separator", " > "))


def _choices(item: Any, known: list[str] | None) -> list[dict[str, Any]]:
    """The categories keys 1-9 pick: the proposal, its alternatives, then (when every known
    category fits on the keys) the rest."""
    scores = {entry["category"]: entry.get("confidence") for entry in item.top_k}
    names = list(dict.fromkeys([item.category, *scores]))
    if known is not None:
        names += sorted(set(known) - set(names))
    return [{"name": name, "confidence": scores.get(name)} for name in names[:CHOICES]]


def _queue(request: Request, job_id: str | None, *, decided: list[int] | None = None,
           error: str | None = None, status_code: int = 200) -> HTMLResponse:
    review = state_of(request).review
    page = review.list_items(job_id=job_id, state="pending", limit=PAGE)
    categories = review.list_categories(limit=CHOICES + 1)
    few = categories.total <= CHOICES
    known = [c.name for c in categories.items] if few else None
    items = [{"item": item, "choices": _choices(item, known)} for item in page.items]
    return render(request, "_queue.html", {
        "items": items, "left": page.total, "job_id": job_id or "", "searchable": not few,
        "decided": decided or [], "error": error, "separator": _separator(request)},
        status_code=status_code)


@router.get("/review")
def review_page(request: Request,
                job_id: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    _reviewer(request)
    _sync_categories(request)
    return render(request, "review.html", {"job_id": job_id or ""})


@router.get("/review/queue")
def queue(request: Request,
          job_id: Annotated[str | None, Query(max_length=64)] = None) -> HTMLResponse:
    _reviewer(request)
    return _queue(request, job_id or None)


def _answer(request: Request, form: dict, decided: list[int]) -> Response:
    job_id = str(form.get("job_id") or "") or None
    if request.headers.get("hx-request") == "true":
        return _queue(request, job_id, decided=decided)
    return redirect("/ui/review" + (f"?job_id={job_id}" if job_id else ""))


@router.post("/review/accept")
async def accept_many(request: Request, form: Form) -> Response:
    """Accept the proposal of every selected item at once."""
    role = _reviewer(request)
    raw = (await request.form()).getlist("ids")
    ids = [int(str(i)) for i in raw if str(i).isdigit()]
    if not ids:
        return _queue(request, str(form.get("job_id") or "") or None,
                      error="select at least one item", status_code=422)
    state_of(request).review.accept(ids, by=role)
    return _answer(request, form, ids)


@router.post("/review/{item_id}")
def decide(request: Request, item_id: int, form: Form) -> Response:
    """Accept the proposal, correct it (another category) or skip the item."""
    role = _reviewer(request)
    review = state_of(request).review
    category = str(form.get("category") or "") or None
    skip = bool(form.get("skip"))
    if skip == (category is not None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "choose a category or skip, not both")
    if category is not None:
        _sync_categories(request)
    review.decide(item_id, by=role, category=category, skip=skip)
    return _answer(request, form, [item_id])


@router.post("/review/{item_id}/undo")
def undo(request: Request, item_id: int, form: Form) -> Response:
    """Take back the decision on an item: it is pending again (the history keeps both)."""
    role = _reviewer(request)
    state_of(request).review.reopen(item_id, by=role)
    return _answer(request, form, [])


@router.get("/review/categories")
def search_categories(request: Request, item: Annotated[int, Query(ge=1)],
                      q: Annotated[str, Query(max_length=200)] = "",
                      job_id: Annotated[str, Query(max_length=64)] = "") -> HTMLResponse:
    """Known categories containing the typed letters, for the picker of one item."""
    _reviewer(request)
    _sync_categories(request)
    matches = state_of(request).review.list_categories(q=q.strip() or None, limit=CHOICES)
    return render(request, "_categories.html", {
        "item_id": item, "matches": matches.items, "total": matches.total, "job_id": job_id,
        "separator": _separator(request)})
