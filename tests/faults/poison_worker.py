"""A real Celery worker whose model raises on one product name: a poison row, injected.

Started as `celery -A tests.faults.poison_worker worker`. Everything is the project's worker
except that `Classifier` raises on any name containing POISON, in the vectorized pass and
row by row, as a model might on an input it cannot handle.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.prediction import CategoryPrediction, Classifier
from worker import app  # noqa: F401  (celery -A finds the app here)

POISON = "POISON-ROW"

_predict = Classifier.predict
_predict_batch = Classifier.predict_batch


def _poisoned_predict(self: Classifier, name: str) -> CategoryPrediction:
    if POISON in name:
        raise ValueError("the model cannot handle this name")
    return _predict(self, name)


def _poisoned_predict_batch(self: Classifier, names: Sequence[str]) -> list[CategoryPrediction]:
    if any(POISON in name for name in names):
        raise ValueError("the model cannot handle one of these names")
    return _predict_batch(self, names)


Classifier.predict = _poisoned_predict  # type: ignore[method-assign]
Classifier.predict_batch = _poisoned_predict_batch  # type: ignore[method-assign]
