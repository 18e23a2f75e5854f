"""Behaviour of a model trained on the sample catalog: minimum functionality, invariance, direction.

Made-With-ML style: tables of inputs and the behaviour a hardware clerk would expect.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline


def category(model: Pipeline, name: str) -> str:
    return str(model.predict([name])[0])


def probability(model: Pipeline, name: str, label: str) -> float:
    return float(model.predict_proba([name])[0][list(model.classes_).index(label)])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("taladro", "Herramientas"),
        ("martillo", "Herramientas"),
        ("desarmador", "Herramientas"),
        ("foco led", "Electricos"),
        ("cable", "Electricos"),
        ("apagador", "Electricos"),
        ("tubo pvc", "Plomería"),
        ("codo pvc", "Plomería"),
        ("cinta de embalaje", "Ferretería"),
        ("candado", "Ferretería"),
        ("pintura vinilica", "Pinturas"),
        ("aerosol", "Pinturas"),
        ("regadera", "Aseo, Baños y Cocinas"),
        ("fregadero", "Aseo, Baños y Cocinas"),
    ],
)
def test_minimum_functionality(sample_pipeline: Pipeline, name: str, expected: str) -> None:
    assert category(sample_pipeline, name) == expected


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        pytest.param('TUBO PVC 1/2"', 'tubo pvc 1/2"', id="case"),
        pytest.param("Foco LED luz cálida", "foco led luz calida", id="case-and-accents"),
        pytest.param("PINTURA VINÍLICA BLANCA 19 L", "pintura vinilica blanca 19 l", id="accents"),
        pytest.param("Regadera de baño", "REGADERA DE BANO", id="enye"),
        pytest.param("Taladro  inalámbrico   18V", "taladro inalambrico 18v", id="spaces"),
        pytest.param("Cinta de Embalaje  48 mm", "cinta de embalaje 48mm", id="unit-spacing"),
        pytest.param("Llave de paso 1/2''", 'llave de paso 1/2"', id="inch-marks"),
        pytest.param("Rodillo 9 pulg", 'rodillo 9"', id="pulg-vs-inch-mark"),
    ],
)
def test_invariance(sample_pipeline: Pipeline, name: str, variant: str) -> None:
    assert category(sample_pipeline, name) == category(sample_pipeline, variant)
    np.testing.assert_allclose(
        sample_pipeline.predict_proba([name]), sample_pipeline.predict_proba([variant]),
        atol=1e-9,
    )


@pytest.mark.parametrize(
    ("name", "word", "expected"),
    [
        ("kit", "led", "Electricos"),
        ("cinta", "teflon", "Plomería"),
        ("tuerca", "pvc", "Plomería"),
        ("pistola", "silicon", "Ferretería"),
        ("cubeta", "pintura", "Pinturas"),
        ("bote", "pintura", "Pinturas"),
        ("soporte", "regadera", "Aseo, Baños y Cocinas"),
        ("llave", "lavabo", "Aseo, Baños y Cocinas"),
    ],
)
def test_directional(sample_pipeline: Pipeline, name: str, word: str, expected: str) -> None:
    before = probability(sample_pipeline, name, expected)
    after = probability(sample_pipeline, f"{name} {word}", expected)
    assert category(sample_pipeline, name) != expected
    assert category(sample_pipeline, f"{name} {word}") == expected
    assert after > before + 0.2
