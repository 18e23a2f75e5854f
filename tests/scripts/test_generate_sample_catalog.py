"""The sample catalog is what its generator makes of the vocabulary tables, byte for byte."""

from __future__ import annotations

import random
from pathlib import Path
from types import ModuleType

import pytest

from core.data import SAMPLE_CATALOG, load_catalog
from tests.fixtures.scripts import load_script


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    return load_script("generate_sample_catalog.py", "sample_catalog_generator")


def test_the_committed_sample_catalog_is_what_the_generator_writes(
    generator: ModuleType, tmp_path: Path
) -> None:
    out = tmp_path / "sample.csv"
    assert generator.main(["--out", str(out)]) == 0
    assert out.read_bytes() == SAMPLE_CATALOG.read_bytes(), (
        "core/sample_data/sample_catalog.csv differs from what scripts/generate_sample_catalog.py "
        "makes of scripts/sample_vocabulary.toml: regenerate it and commit both")


def test_the_vocabulary_covers_every_category_in_both_languages(generator: ModuleType) -> None:
    vocabulary = generator.load_vocabulary()
    categories = set(vocabulary.category_share)
    assert categories == set(load_catalog(SAMPLE_CATALOG).categories)
    assert set(vocabulary.brands) == categories
    for category in categories:
        assert set(vocabulary.families[category]) == {"es", "en"}, category
    assert sum(vocabulary.category_share.values()) == pytest.approx(1.0)


def test_every_template_slot_is_filled_from_the_family_the_brands_or_the_shared_slots(
    generator: ModuleType,
) -> None:
    """A slot name the tables never define would fail only when the generator picks it."""
    vocabulary = generator.load_vocabulary()
    for category, by_lang in vocabulary.families.items():
        for lang, families in by_lang.items():
            for family in families:
                known = {*family.slots, "brand", *vocabulary.shared}
                texts = [*family.templates, *(o for v in family.slots.values() for o in v),
                         *(o for v in vocabulary.shared.values() for o in v)]
                for text in texts:
                    missing = set(generator.SLOT.findall(text)) - known
                    assert not missing, f"{category}/{lang}: {text!r} uses {missing}"


def test_a_changed_vocabulary_changes_the_catalog(generator: ModuleType, tmp_path: Path) -> None:
    """The generator reads the tables it is given: the data, not code, decides the names."""
    source = generator.VOCABULARY.read_text(encoding="utf-8")
    changed = tmp_path / "vocabulary.toml"
    changed.write_text(source.replace("'Plomería' = 0.35", "'Plomería' = 0.30")
                       .replace("'Pinturas' = 0.06", "'Pinturas' = 0.11"), encoding="utf-8")
    rows, _ = generator.generate(500, random.Random(generator.SEED),
                                 generator.load_vocabulary(changed))
    assert sum(category == "Pinturas" for category, _ in rows) == 55
