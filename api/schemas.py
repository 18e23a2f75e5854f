"""Request and response schemas: what clients send and what they can rely on getting back."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, NotRequired

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from core.jobs import JobKind, JobState

# Bounds on what a path or query carries, so that no number or string reaches a store unchecked
# (a 64-bit offset overflowed the database; a 23-digit version reached the registry).
MAX_INT = 2**31 - 1
JobId = Annotated[str, Path(min_length=1, max_length=64, description="a job's id")]
Version = Annotated[int, Path(ge=1, le=MAX_INT, description="a model version")]
ItemId = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


class TrainingJobCreate(BaseModel):
    """A training job from a file the operator placed, or a SQL source the operator named.

    A request never carries a URL: `data` is a CSV file in one of the training data folders
    (TRAINING_DATA_DIRS); `source` is the name of a connection in TRAINING_SOURCES, with the
    `table` to read (or a `query`, when the server allows queries). Uploads (multipart) are the
    easy path.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"data": "catalog.csv"},
                     {"source": "erp", "table": "products"}]})

    data: str | None = Field(default=None, min_length=1, max_length=1000,
                             description="a CSV file in a training data folder (relative to "
                                         "the folders, or absolute)")
    source: str | None = Field(default=None, min_length=1, max_length=64,
                               pattern=r"^[A-Za-z0-9_.-]+$",
                               description="the name of a SQL source the operator configured")
    table: str | None = Field(default=None, min_length=1, max_length=200,
                              pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$",
                              description="a table of `source` with category and name columns")
    query: str | None = Field(default=None, min_length=1, max_length=10_000,
                              description="one SELECT over `source`'s tables returning "
                                          "category and name (if TRAINING_QUERIES allows)")
    include_labels: bool = Field(
        default=True, description="also learn from the stored review labels (the later of a "
                                  "reviewer's and the catalog's decision wins per name)")


class JobProgress(BaseModel):
    stage: str | None = Field(description="training stage, or 'categorizing' for batches")
    rows_done: int | None = None
    rows_total: int | None = None


class JobPublic(BaseModel):
    """A job as clients poll it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "job_id": "3f2c9a7e0d4b4d7c9a8b6e5f4d3c2b1a", "kind": "batch", "state": "running",
        "progress": {"stage": "categorizing", "rows_done": 20000, "rows_total": 50000},
        "model_version": 3, "created_at": "2026-11-26T04:00:00Z",
        "started_at": "2026-11-26T04:00:01Z", "finished_at": None, "result": None,
        "error": None, "links": {"self": "/v1/jobs/3f2c9a7e0d4b4d7c9a8b6e5f4d3c2b1a"}}]})

    job_id: str
    kind: JobKind
    state: JobState
    progress: JobProgress
    model_version: int | None = None
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    reason: str | None = Field(
        default=None, description="why the retrain check queued this training job (if it did)")
    links: dict[str, str] = Field(default_factory=dict)


class JobsPage(BaseModel):
    """A page of jobs, newest first."""

    total: int = Field(description="jobs matching the filters, over all pages")
    offset: int
    limit: int
    items: list[JobPublic]


class JobAccepted(BaseModel):
    job_id: str
    state: str
    status_url: str


class InferenceRequest(BaseModel):
    """The predecessor's contract: a list of product names."""

    model_config = ConfigDict(json_schema_extra={
        "examples": [{"product_list": ["Foco LED 9W luz cálida", "Tubo PVC 1/2\""]}]})

    product_list: list[str] = Field(min_length=1)


# The inference answer is typed dicts rather than models: the busiest route builds plain dicts
# and serializes them in one pass (INFERENCE_RESPONSE), about 3 µs against 17 µs for building
# and dumping the equivalent models. The OpenAPI schema is the same.
class CategoryScore(TypedDict):
    category: str
    confidence: float


Decision = Literal["auto", "review"]


class CategoryPrediction(TypedDict):
    """`decision` "auto": file it; "review": a person should look. `known` false: the model
    knew none of the name's words or n-grams (the decision is then always "review")."""

    name: str
    category: str
    confidence: float
    top_k: list[CategoryScore]
    decision: Decision
    known: bool
    # Only for a model whose categories are paths (`A > B > C`): each level of the path, top
    # first, with the probability mass of its subtree; and the deepest level sure enough to be
    # filed with no human look (the category itself when `decision` is "auto"), or null.
    levels: NotRequired[list[CategoryScore]]
    filed_under: NotRequired[str | None]


class InferenceResponse(TypedDict):
    """`categories` keeps the predecessor's shape; `predictions` adds confidence and top-k."""

    categories: list[str]
    predictions: list[CategoryPrediction]
    model_name: str
    model_version: int
    # Kept for the predecessor's clients, which read it: always false in an answer (a request
    # that cannot be categorized is a 4xx with the reason instead).
    errors: bool


INFERENCE_RESPONSE = TypeAdapter(InferenceResponse)


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | ItemId | None = Field(
        default=None, description="the caller's id, echoed back; at most MAX_ID_LENGTH "
                                  "(default 200) characters")
    name: str


class BatchJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "items": [{"id": "SKU-1", "name": "Tubo PVC 1/2\""}, {"name": "Foco LED 9W"}]}]})

    items: list[BatchItem] = Field(min_length=1)


class CategoryScorePublic(BaseModel):
    category: str
    confidence: float


class BatchResultItem(BaseModel):
    row: int
    id: str | None
    name: str
    category: str | None = Field(description="the final category: a reviewer's, once decided")
    confidence: float | None
    decision: Decision | None = Field(
        default=None, description='"auto": filed; "review": a person should look; '
                                  "null for a row in error")
    known: bool | None = Field(default=None, description="false when the model knew none of "
                                                         "the name's words or n-grams")
    top_k: list[CategoryScorePublic] = Field(default_factory=list)
    filed_under: str | None = Field(
        default=None, description="category paths only: the deepest level of the category's "
                                  "path sure enough to be filed with no human look")
    error: str | None
    source: Literal["model", "review"] = Field(
        default="model", description="who gave the category: the model, or a reviewer")


class BatchResultsPage(BaseModel):
    job_id: str
    model_version: int | None
    total: int
    offset: int
    limit: int
    items: list[BatchResultItem]


class ShadowDisagreementPublic(BaseModel):
    name: str
    champion: str
    challenger: str
    champion_confidence: float | None
    challenger_confidence: float | None
    source: Literal["sync", "batch"]


class ShadowLabelledPublic(BaseModel):
    names: int = Field(description="disagreeing names a reviewer labelled after the shadow "
                                   "scored them")
    champion_right: int
    challenger_right: int
    neither_right: int


class ShadowCheckPublic(BaseModel):
    passed: bool = Field(description="false: a promotion by hand is refused unless forced")
    reason: str


class ShadowRecordPublic(BaseModel):
    """What scoring live names in the shadow showed of a challenger."""

    compared: int = Field(description="names scored by both models")
    agreed: int
    agreement: float | None
    champion_versions: list[int]
    updated_at: dt.datetime
    disagreements_kept: int
    disagreements: list[ShadowDisagreementPublic] = Field(description="the newest few")
    labelled: ShadowLabelledPublic | None = Field(
        description="which model a reviewer's label agreed with, on disagreeing names")
    promotion_check: ShadowCheckPublic | None = Field(
        description="whether the challenger did worse than the champion on the labelled names")


class ModelVersionPublic(BaseModel):
    version: int
    aliases: list[str]
    run_id: str
    created_at: dt.datetime
    metrics: dict[str, float]
    shadow: ShadowRecordPublic | None = Field(
        default=None, description="the shadow record of a version scored as challenger")


class ModelsPublic(BaseModel):
    model_name: str
    champion: int | None
    serving: int | None = Field(description="the version this API process answers with")
    versions: list[ModelVersionPublic]


class PromotionPublic(BaseModel):
    champion: int
    previous: int | None
    shadow: ShadowRecordPublic | None = Field(
        default=None, description="the promoted version's shadow record, if it was scored")


class Problem(BaseModel):
    """An error: what is wrong, in words (or, for a malformed body, pydantic's list of errors)."""

    detail: str | list[dict[str, Any]]


_PROBLEMS = {
    400: "unreadable body or CSV",
    401: "missing X-API-Key header",
    403: "invalid API key",
    404: "no such job or model version",
    409: "the job is not in a state that allows this",
    413: "request, upload or batch over the configured limit",
    415: "unsupported content type",
    422: "invalid input; the detail says what is wrong",
    503: "a dependency (queue, database, registry, model) is unavailable; retry later",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers, all shaped as `Problem`."""
    return {code: {"model": Problem, "description": _PROBLEMS[code]} for code in codes}


class ReadinessPublic(BaseModel):
    ready: bool
    checks: dict[str, str]
    model_version: int | None


class DriftSignalPublic(BaseModel):
    value: float | None = Field(description="PSI, or the change in a share; null: no data")
    state: Literal["ok", "warn", "alert", "no_data"]
    warn: float
    alert: float
    reference: float | None = Field(default=None, description="the reference's share")
    live: float | None = Field(default=None, description="the live window's share")


class DriftWindowPublic(BaseModel):
    hours: float
    start: dt.datetime | None
    end: dt.datetime | None
    profiles: int
    rows: int
    sources: dict[str, int] = Field(description="rows by source: sync requests, batch jobs")


class DriftPublic(BaseModel):
    """Each drift signal of a version's live window against its training reference."""

    model_version: int | None
    state: Literal["ok", "warn", "alert", "no_data"] = Field(description="the worst signal's")
    window: DriftWindowPublic
    reference: dict[str, int] | None = Field(
        description="the held-out rows profiled at training; null for a version without one")
    signals: dict[str, DriftSignalPublic]


# -- the review loop: review items, categories, labels ------------------------------------------

ReviewStateName = Literal["pending", "accepted", "corrected", "skipped"]


class ReviewItemPublic(BaseModel):
    """A batch row the model sent to a person, with the latest decision taken on it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 17, "job_id": "3f2c9a7e0d4b4d7c9a8b6e5f4d3c2b1a", "row": 42,
        "name": "Kit zorbax 12 piezas", "category": "Herramientas", "confidence": 0.41,
        "top_k": [{"category": "Herramientas", "confidence": 0.41},
                  {"category": "Ferretería", "confidence": 0.33}],
        "model_version": 3, "state": "corrected", "decided_category": "Ferretería",
        "decided_at": "2026-12-01T15:02:11Z", "decided_by": "reviewer"}]})

    id: int
    job_id: str
    row: int = Field(description="the row's place in its batch job (0-based)")
    name: str
    category: str = Field(description="the category the model proposed")
    confidence: float
    top_k: list[CategoryScore]
    model_version: int | None = Field(description="the model version that proposed it")
    state: ReviewStateName
    decided_category: str | None = None
    decided_at: dt.datetime | None = None
    decided_by: str | None = Field(default=None, description="the key's role: admin or reviewer")


class ReviewItemsPage(BaseModel):
    total: int = Field(description="items matching the filters, over all pages")
    offset: int
    limit: int
    items: list[ReviewItemPublic]


class ReviewDecisionCreate(BaseModel):
    """Accept the proposed category (name it), correct it (name another), or skip the item."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{"category": "Ferretería"}, {"skip": True}]})

    category: str | None = Field(default=None, min_length=1, max_length=500,
                                 pattern=r"^[^\x00]*$")
    skip: bool = False


class ReviewAccept(BaseModel):
    """Accept the proposed category of each listed item (all or none)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"ids": [17, 18]}]})

    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1, max_length=1000)


class ReviewAccepted(BaseModel):
    accepted: int
    items: list[ReviewItemPublic]


class CategoryPublic(BaseModel):
    name: str
    source: Literal["model", "admin"] = Field(
        description="model: a model version knows it; admin: an admin added it")
    model_version: int | None = None


class CategoriesPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[CategoryPublic]


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              json_schema_extra={"examples": [{"name": "Jardín"}]})

    name: str = Field(min_length=1, max_length=500, pattern=r"^[^\x00]*$")


class LabelPublic(BaseModel):
    """A labelled product name and where the label came from."""

    id: int
    name: str
    category: str
    source: Literal["review", "catalog"]
    job_id: str | None = Field(description="the batch job (review) or training job (catalog)")
    model_version: int | None = Field(description="the version whose proposal was reviewed")
    decided_by: str | None
    decided_at: dt.datetime


class LabelsPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[LabelPublic]
