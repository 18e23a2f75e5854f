"""Synchronous categorization, answered from the champion cached in this process."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import ClassifierDep, StateDep
from api.schemas import CategoryPrediction, CategoryScore, InferenceRequest, InferenceResponse
from core.batch import check_name

router = APIRouter(tags=["inference"])


# `async def` on purpose: a lean prediction takes well under a millisecond of CPU, less than a
# hop to the thread pool would cost, so it runs on the event loop directly.
@router.post("/v1/categorizer/inference", response_model=InferenceResponse,
             responses={422: {"description": "bad input"}, 503: {"description": "no model"}})
async def categorize(body: InferenceRequest, classifier: ClassifierDep,
                     state: StateDep) -> InferenceResponse:
    """Categorize product names with the champion model."""
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
    return InferenceResponse(
        categories=[p.category for p in predictions],
        predictions=[
            CategoryPrediction(
                name=name, category=p.category, confidence=p.confidence,
                top_k=[CategoryScore(category=c, confidence=s) for c, s in p.top_k],
            )
            for name, p in zip(body.product_list, predictions, strict=True)
        ],
        model_name=classifier.name,
        model_version=classifier.version,
    )
