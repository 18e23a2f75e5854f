"""Product-name normalization: every switch, and the sizes and codes it must keep as signal."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from core.models import PreprocessingOptions, linear_pipeline
from core.preprocessing import ProductNameNormalizer, _fold

DEFAULT = ProductNameNormalizer()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("TUBO PVC", "tubo pvc", id="lowercase"),
        pytest.param("Foco LED luz cálida", "foco led luz calida", id="accents-folded"),
        pytest.param("Caño de cobre", "cano de cobre", id="enye-folded"),
        pytest.param("  Foco   LED \t blanco ", "foco led blanco", id="extra-spaces"),
        pytest.param('Tubo PVC 1/2"', "tubo pvc 1/2in", id="inch-mark"),
        pytest.param("Tubo PVC 1/2''", "tubo pvc 1/2in", id="two-apostrophes"),
        pytest.param("Tubo PVC 1/2”", "tubo pvc 1/2in", id="typographic-inch-mark"),
        pytest.param('Tornillo 8 x 1" Ne', "tornillo 8 x 1in ne", id="inch-mark-mid-name"),
        pytest.param("Rodillo 9 pulg", "rodillo 9in", id="pulg"),
        pytest.param("Rodillo 9 pulgadas", "rodillo 9in", id="pulgadas"),
        pytest.param("PVC Coupling 3/4 in. x 1/2 in", "pvc coupling 3/4in x 1/2in", id="in-word"),
        pytest.param("Cemento 25 kg", "cemento 25kg", id="number-space-unit"),
        pytest.param("Cemento 25kg", "cemento 25kg", id="number-unit"),
        pytest.param("Broca 6mm", "broca 6mm", id="mm-kept"),
        pytest.param("Broca 6 mm", "broca 6mm", id="mm-joined"),
        pytest.param("Taquete 3.5 mm", "taquete 3.5mm", id="decimal-size"),
        pytest.param("Lija B-100", "lija b-100", id="model-code-kept"),
        pytest.param("Clavos c/100", "clavos c/100", id="pack-count-kept"),
        pytest.param("Cable #12 AWG", "cable #12 awg", id="gauge-kept"),
        pytest.param("Pintura_x000D_blanca", "pintura blanca", id="excel-cr-escape"),
        pytest.param("Pintura_x000a_blanca", "pintura blanca", id="excel-lf-escape"),
        pytest.param("¡Oferta! ¿Llave?", "oferta llave", id="punctuation-dropped"),
        pytest.param("", "", id="empty"),
    ],
)
def test_normalize_default(name: str, expected: str) -> None:
    assert DEFAULT.normalize(name) == expected


@pytest.mark.parametrize(
    ("options", "name", "expected"),
    [
        pytest.param({"keep_numbers": False}, 'Cemento 25 kg broca 6mm B-100 c/100 1/2"',
                     "cemento broca", id="numbers-dropped"),
        pytest.param({"keep_numbers": True}, "Cemento 25 kg broca 6mm",
                     "cemento 25kg broca 6mm", id="numbers-kept"),
        pytest.param({"stopwords": False}, "Tubo de PVC para el baño",
                     "tubo de pvc para el bano", id="stopwords-off"),
        pytest.param({"stopwords": True}, "Tubo de PVC para el baño",
                     "tubo pvc bano", id="stopwords-spanish"),
        pytest.param({"stopwords": True}, "Screws for the wall", "screws wall",
                     id="stopwords-english"),
        pytest.param({"stopwords": True}, 'Juego de 10 con 3/4" y 2 para 5',
                     "juego 10 3/4in 2 5", id="stopwords-never-digit-tokens"),
        pytest.param({"stem": True}, "Tornillos galvanizados 6mm", "tornill galvaniz 6mm",
                     id="stem-spanish-digits-untouched"),
        pytest.param({"stem": True}, "Screws", "screw", id="stem-english"),
        pytest.param({"lemmatize": True}, "Tornillos llaves brochas screws",
                     "tornillo llave brocha screw", id="lemmatize"),
        pytest.param({"lowercase": False}, "TUBO Pvc", "TUBO Pvc", id="case-kept"),
        pytest.param({"fold_accents": False}, "Foco luz cálida caño",
                     "foco luz cálida caño", id="accents-kept"),
    ],
)
def test_normalize_switches(options: dict[str, bool], name: str, expected: str) -> None:
    assert ProductNameNormalizer(**options).normalize(name) == expected


@pytest.mark.parametrize(
    ("singular", "plural"),
    [("tornillo", "tornillos"), ("llave", "llaves"), ("Brocha", "BROCHAS"), ("screw", "screws")],
)
def test_stemming_merges_singular_and_plural(singular: str, plural: str) -> None:
    assert DEFAULT.normalize(singular) != DEFAULT.normalize(plural)
    stemmer = ProductNameNormalizer(stem=True)
    assert stemmer.normalize(singular) == stemmer.normalize(plural)


def test_transform_normalizes_each_name() -> None:
    names = ['TUBO PVC 1/2"', "Foco LED cálido", "Cemento 25 kg"]
    expected = ["tubo pvc 1/2in", "foco led calido", "cemento 25kg"]
    assert DEFAULT.transform(names) == expected
    assert DEFAULT.transform(np.array(names, dtype=object)) == expected
    assert DEFAULT.fit(names) is DEFAULT
    assert DEFAULT.fit_transform(names) == expected


def test_clone_and_params_round_trip() -> None:
    options = {"lowercase": True, "fold_accents": False, "keep_numbers": False,
               "stopwords": True, "stem": True, "lemmatize": False}
    normalizer = ProductNameNormalizer(**options)
    copy = clone(normalizer)
    assert copy is not normalizer
    assert copy.get_params() == options
    assert copy.normalize("Los tornillos de 6 mm") == normalizer.normalize("Los tornillos de 6 mm")
    copy.set_params(stem=False)
    assert copy.stem is False
    assert normalizer.stem is True


def test_preprocessing_options_reach_the_pipeline() -> None:
    pipeline = linear_pipeline(PreprocessingOptions(stem=True, keep_numbers=False))
    params = clone(pipeline).get_params()
    assert params["normalize__stem"] is True
    assert params["normalize__keep_numbers"] is False
    assert params["normalize__lemmatize"] is False


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40))
def test_accent_folding_char_by_char_is_folding_the_whole_text(text: str) -> None:
    """The memoized per-character folding gives what NFKD of the whole text, marks dropped,
    gives: for every text, not only the Latin letters a catalog has."""
    decomposed = unicodedata.normalize("NFKD", text)
    reference = "".join(ch for ch in decomposed if not unicodedata.combining(ch))

    assert _fold(text) == reference
