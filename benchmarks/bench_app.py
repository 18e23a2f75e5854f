"""The product's app plus reference endpoints, served by uvicorn for benchmarks/inference_load.py.

The reference routes live here, never in the product's routes, so that the numbers compare
endpoints in the same process, behind the same middleware and server:

- `POST /bench/ceiling`: a constant answer, the ceiling of the HTTP stack on this machine.
- `POST /bench/predecessor`: the predecessor's serving approach, a `def` endpoint computing
  `RandomForest(n_jobs=9).predict(CountVectorizer.transform(names).toarray())`, fitted at start-up
  on the catalog in BENCH_CATALOG with the predecessor's recipe (digits stripped, 2,000 word
  counts; core.models.baseline_pipeline).
- `POST /bench/sklearn`: the champion's plain `pipeline.predict(names)` per request, in a `def`
  endpoint: what serving costs with scikit-learn's per-call overhead left in.
"""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import Depends
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer

from api.deps import get_classifier
from api.main import create_app
from api.schemas import InferenceRequest
from core.data import load_catalog
from core.models import PreprocessingOptions
from core.prediction import Classifier

app = create_app()

_catalog = load_catalog(os.environ["BENCH_CATALOG"])
_normalizer = PreprocessingOptions(keep_numbers=False).normalizer()
_vectorizer = CountVectorizer(max_features=2000, token_pattern=r"\S+", lowercase=False)
_forest = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=9)
_forest.fit(_vectorizer.fit_transform(_normalizer.transform(_catalog.names)), _catalog.categories)

_CONSTANT = {"categories": ["Ferretería"]}


@app.post("/bench/ceiling")
async def ceiling() -> dict[str, list[str]]:
    return _CONSTANT


@app.post("/bench/predecessor")
def predecessor(body: InferenceRequest) -> dict[str, list[str]]:
    names = _normalizer.transform(body.product_list)
    return {"categories": _forest.predict(_vectorizer.transform(names).toarray()).tolist()}


@app.post("/bench/sklearn")
def sklearn_per_request(
    body: InferenceRequest, classifier: Annotated[Classifier, Depends(get_classifier)]
) -> dict[str, list[str]]:
    return {"categories": classifier.pipeline.predict(body.product_list).tolist()}
