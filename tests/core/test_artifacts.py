"""What a training run renders beside its model (core/artifacts.py)."""

from __future__ import annotations

import csv
import io

from core.artifacts import confusion_figure, held_out_csv, metric_key, read_held_out_csv


def test_metric_keys_keep_only_what_mlflow_accepts() -> None:
    assert metric_key("Aseo, Baños y Cocinas") == "aseo_banos_y_cocinas"
    assert metric_key("Herramientas > Eléctricas") == "herramientas_electricas"


def test_the_test_split_reads_back_as_a_catalog_with_quotes_and_commas_intact() -> None:
    names = ['Tubo PVC 1/2"', "Codo, cobre 3/4", "Foco LED 9W luz cálida"]
    categories = ["Plomería", "Plomería", "Electricos"]
    text = held_out_csv(names, categories)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == names
    assert [r["category"] for r in rows] == categories
    assert read_held_out_csv(text) == (names, categories)


def test_the_confusion_figure_shows_each_count_on_its_cell() -> None:
    figure = confusion_figure(["A", "A", "A", "B"], ["A", "A", "B", "B"])
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_xticklabels()] == ["A", "B"]
    assert sorted(t.get_text() for t in axes.texts) == ["0", "1", "1", "2"]
