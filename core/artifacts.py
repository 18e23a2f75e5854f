"""What a training run writes beside its model, rendered: the frozen test split as CSV, the
confusion matrix as a figure, MLflow-safe metric names. MLflow I/O stays in core/registry.py."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from core.evaluation import confusion


def metric_key(category: str) -> str:
    """MLflow metric names allow only a few characters."""
    folded = unicodedata.normalize("NFKD", category).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9_]+", "_", folded).strip("_").lower()


def held_out_csv(names: list[str], categories: list[str]) -> str:
    """The test split as CSV (`category,name`), the columns a catalog file has."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["category", "name"])
    writer.writerows(zip(categories, names, strict=True))
    return buffer.getvalue()


def read_held_out_csv(text: str) -> tuple[list[str], list[str]]:
    """(names, categories) from what held_out_csv wrote."""
    rows = list(csv.DictReader(io.StringIO(text)))
    return [row["name"] for row in rows], [row["category"] for row in rows]


def confusion_figure(true: list[str], predicted: list[str]) -> Any:
    """The confusion matrix with counts, as a matplotlib Figure (no pyplot: no global state,
    no display backend)."""
    from matplotlib.figure import Figure

    labels, matrix = confusion(true, predicted)
    figure = Figure(figsize=(7, 6))
    axes = figure.subplots()
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (i, j), value in _cells(matrix):
        axes.text(j, i, str(value), ha="center", va="center", fontsize=8)
    figure.tight_layout()
    return figure


def _cells(matrix: Any) -> Iterator[tuple[tuple[int, int], int]]:
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            yield (i, j), int(value)
