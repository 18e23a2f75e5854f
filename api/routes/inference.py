"""Synchronous categorization, answered from the champion cached in this process."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from api.deps import get_classifier, get_state
from api.schemas import (
    INFERENCE_RESPONSE,
    CategoryPrediction,
    InferenceRequest,
    InferenceResponse,
    problems,
)
from api.uploads import json_body
from core import metrics
from core.batch import check_name
from core.prediction import CategoryPrediction as Prediction

router = APIRouter(tags=["inference"])

_REQUEST_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": InferenceRequest.model_json_schema()}}}}


# `async def` on purpose: a lean prediction takes well under a millisecond of CPU, less than a
# hop to the thread pool would cost, so it runs on the event loop directly. The state and the
# model are read by calling the dependencies rather than declaring them, which spares FastAPI's
# dependency solving on the hottest route. The answer is built as plain dicts of the response's
# typed-dict schema and serialized once (see api.schemas): returning it would have FastAPI
# validate it a second time.
@router.post("/v1/categorizer/inference", response_model=InferenceResponse,
             responses=problems(413, 415), openapi_extra=_REQUEST_BODY)
async def categorize(request: Request) -> Response:
    """Categorize product names with the champion model."""
    body = await json_body(request, InferenceRequest)
    state = await get_state(request)
    classifier = await get_classifier(state)  # NoChampionError -> 503 in api.errors
    limit = state.settings.max_inference_items
    if len(body.product_list) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"at most {limit} names per request; use /v1/batch-jobs for more")
    for index, name in enumerate(body.product_list):
        problem = check_name(name, max_length=state.settings.max_name_length)
        if problem:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"product_list[{index}]: {problem}")
    predictions = [classifier.predict(name) for name in body.product_list]
    state.recorder.add(classifier.version, body.product_list, predictions)  # drift, later
    state.shadow.offer(challenger_version=state.champion.challenger_version,  # sent later
                       champion_version=classifier.version, names=body.product_list,
                       predictions=predictions)
    metrics.record_predictions(
        version=classifier.version, classes=classifier.classes, source="sync",
        outcomes=[(p.category, p.confidence, p.decision)
                  for p in predictions])
    answer: InferenceResponse = {
        "categories": [p.category for p in predictions],
        "predictions": [_public(name, p)
                        for name, p in zip(body.product_list, predictions, strict=True)],
        "model_name": classifier.name,
        "model_version": classifier.version,
        "errors": False,  # the predecessor's clients read it; a bad request is a 4xx instead
    }
    return Response(INFERENCE_RESPONSE.dump_json(answer), media_type="application/json")


def _public(name: str, p: Prediction) -> CategoryPrediction:
    item: CategoryPrediction = {
        "name": name, "category": p.category, "confidence": p.confidence,
        "top_k": [{"category": c, "confidence": s} for c, s in p.top_k],
        "decision": p.decision, "known": p.known}
    if p.levels is not None:  # a model of category paths
        item["levels"] = [{"category": c, "confidence": s} for c, s in p.levels]
        item["filed_under"] = p.filed_under
    return item
