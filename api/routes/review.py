"""The review loop: the queue of rows the model sent to a person, decisions, categories, labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from api.deps import AdminDep, ReviewerDep, StateDep
from api.schemas import (
    CategoriesPage,
    CategoryCreate,
    CategoryPublic,
    LabelPublic,
    LabelsPage,
    ReviewAccept,
    ReviewAccepted,
    ReviewDecisionCreate,
    ReviewItemPublic,
    ReviewItemsPage,
    ReviewStateName,
    problems,
)
from core.review import Category, Label, ReviewItem, labels_csv_lines

router = APIRouter(tags=["review"], responses=problems(401, 403))

Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Text = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


def _item(item: ReviewItem) -> ReviewItemPublic:
    return ReviewItemPublic.model_validate(item, from_attributes=True)


def _sync_champion_categories(state: StateDep) -> None:
    """Make sure the served model's categories are among the known ones."""
    holder = state.champion
    if holder.loaded:
        classifier = holder.classifier
        state.review.sync_model_categories(classifier.version, classifier.classes)


@router.get("/v1/review-items", response_model=ReviewItemsPage)
def list_review_items(
    state: StateDep, _role: ReviewerDep,
    job_id: Annotated[str | None, Query(max_length=64, pattern=Text)] = None,
    category: Annotated[str | None, Query(max_length=500, pattern=Text,
                                          description="the proposed category")] = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    review_state: Annotated[ReviewStateName | None, Query(alias="state")] = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> ReviewItemsPage:
    """List review items, least confident first, filtered and paged."""
    page = state.review.list_items(
        job_id=job_id, category=category, min_confidence=min_confidence,
        max_confidence=max_confidence, state=review_state, offset=offset, limit=limit)
    return ReviewItemsPage(total=page.total, offset=offset, limit=limit,
                           items=[_item(item) for item in page.items])


@router.post("/v1/review-items/accept", response_model=ReviewAccepted,
             responses=problems(404))
def accept_review_items(body: ReviewAccept, state: StateDep,
                        role: ReviewerDep) -> ReviewAccepted:
    """Accept the proposed category of every listed item; none is changed if one is unknown."""
    items = state.review.accept(body.ids, by=role)
    return ReviewAccepted(accepted=len(items), items=[_item(item) for item in items])


@router.get("/v1/review-items/{item_id}", response_model=ReviewItemPublic,
            responses=problems(404))
def get_review_item(item_id: ItemId, state: StateDep, _role: ReviewerDep) -> ReviewItemPublic:
    """Show one review item."""
    return _item(state.review.get_item(item_id))


@router.post("/v1/review-items/{item_id}", response_model=ReviewItemPublic,
             responses=problems(404))
def decide_review_item(item_id: ItemId, body: ReviewDecisionCreate, state: StateDep,
                       role: ReviewerDep) -> ReviewItemPublic:
    """Accept the proposed category, correct it, or skip the item (a new decision replaces
    the last; the history stays)."""
    if body.skip == (body.category is not None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "send either a category or \"skip\": true")
    if body.category is not None:
        _sync_champion_categories(state)
    return _item(state.review.decide(item_id, by=role, category=body.category, skip=body.skip))


def _category(category: Category) -> CategoryPublic:
    return CategoryPublic.model_validate(category, from_attributes=True)


@router.get("/v1/categories", response_model=CategoriesPage)
def list_categories(
    state: StateDep, _role: ReviewerDep,
    q: Annotated[str | None, Query(max_length=200, pattern=Text,
                                   description="keep names containing this (any case)")] = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> CategoriesPage:
    """List the categories a decision may name: the models' and those an admin added."""
    _sync_champion_categories(state)
    page = state.review.list_categories(q=q, offset=offset, limit=limit)
    return CategoriesPage(total=page.total, offset=offset, limit=limit,
                          items=[_category(c) for c in page.items])


@router.post("/v1/categories", response_model=CategoryPublic, dependencies=[AdminDep],
             status_code=status.HTTP_201_CREATED,
             responses={200: {"model": CategoryPublic, "description": "already known"}})
def add_category(body: CategoryCreate, state: StateDep, response: Response) -> CategoryPublic:
    """Add a category reviewers may file names under (200 if it is already known)."""
    _sync_champion_categories(state)
    category, created = state.review.add_category(body.name, by="admin")
    if not created:
        response.status_code = status.HTTP_200_OK
    return _category(category)


def _label(label: Label) -> LabelPublic:
    return LabelPublic.model_validate(label, from_attributes=True)


LabelSourceQuery = Annotated[str | None, Query(pattern="^(review|catalog)$")]


@router.get("/v1/labels", response_model=LabelsPage)
def list_labels(
    state: StateDep, _role: ReviewerDep,
    source: LabelSourceQuery = None,
    job_id: Annotated[str | None, Query(max_length=64, pattern=Text)] = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> LabelsPage:
    """List stored labels in the order they were first made, with their provenance."""
    page = state.review.list_labels(source=source, job_id=job_id, offset=offset, limit=limit)
    return LabelsPage(total=page.total, offset=offset, limit=limit,
                      items=[_label(label) for label in page.items])


@router.get("/v1/labels.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}})
def download_labels(state: StateDep, _role: ReviewerDep,
                    source: LabelSourceQuery = None,
                    job_id: Annotated[str | None, Query(max_length=64, pattern=Text)] = None,
                    ) -> StreamingResponse:
    """Download every stored label as CSV (formula cells neutralised)."""
    return StreamingResponse(
        labels_csv_lines(state.review.iter_labels(source=source, job_id=job_id)),
        media_type="text/csv", headers={"Content-Disposition": 'attachment; filename="labels.csv"'},
    )
