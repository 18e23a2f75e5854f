"""Generate the project's built-in sample catalog, ``core/sample_data/sample_catalog.csv``.

The service needs labelled product names to train its default model, and a fresh install has no
store data yet. This script writes a synthetic hardware-store catalog (columns ``category,name``)
so that a new install can train a useful default model out of the box.

Every name is assembled from small tables of product families, brands, sizes, units and pack
sizes written for this project, kept as data in ``scripts/sample_vocabulary.toml``. Nothing is
read from, or copied out of, any real store's catalog. The names are deliberately messy the
way real point-of-sale catalogs are: mostly Mexican/Latin-American Spanish with about a fifth
in English, mixed capitalisation,
abbreviations (``p/``, ``c/100``, ``Gde``), inch marks written several ways, dropped accents,
the odd doubled space, and some repeated rows. A name never appears under two categories.

The output is deterministic: the same ``--rows`` always produces a byte-identical file.

Usage::

    python scripts/generate_sample_catalog.py [--out PATH] [--rows N] [--vocabulary TOML]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import tomllib
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

SEED = 20261126
DEFAULT_ROWS = 2000
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "core" / "sample_data" / "sample_catalog.csv"
VOCABULARY = Path(__file__).resolve().with_name("sample_vocabulary.toml")

ENGLISH_SHARE = 0.22  # share of newly written names that are in English
REPEAT_SHARE = 0.10  # chance that a row repeats an earlier name of the same category
ABBREVIATE_SHARE = 0.35  # Spanish names written with store abbreviations (p/, c/, Gde, ...)
INCH_VARIANT_SHARE = 0.12  # Spanish names writing 1/2" as 1/2 pulg, 1/2'', ...
DROP_ACCENT_SHARE = 0.25  # Spanish names typed without accents
DOUBLE_SPACE_SHARE = 0.04

CASE_STYLES = ("title", "as_is", "upper", "lower", "crude_title")
CASE_WEIGHTS = {"es": (40, 30, 15, 8, 7), "en": (55, 30, 8, 4, 3)}


class Family(NamedTuple):
    """A product family: name templates plus the slot values that fill them."""

    weight: int
    templates: tuple[str, ...]
    slots: dict[str, tuple[str, ...]]


def options(text: str) -> tuple[str, ...]:
    """Split ``"a|b|"`` into ``("a", "b", "")``; an empty option makes the slot optional."""
    return tuple(text.split("|"))


@dataclass(frozen=True)
class Vocabulary:
    """The tables of scripts/sample_vocabulary.toml, ready for the generator."""

    category_share: dict[str, float]
    shared: dict[str, tuple[str, ...]]
    brands: dict[str, tuple[str, ...]]
    families: dict[str, dict[str, tuple[Family, ...]]]  # category -> language -> families
    abbreviations: tuple[tuple[str, str], ...]
    keep_lower: tuple[str, ...]


def load_vocabulary(path: Path = VOCABULARY) -> Vocabulary:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    families: dict[str, dict[str, list[Family]]] = {}
    for entry in data["family"]:
        family = Family(entry["weight"], tuple(entry["templates"]),
                        {key: options(value) for key, value in entry.get("slots", {}).items()})
        families.setdefault(entry["category"], {}).setdefault(entry["lang"], []).append(family)
    return Vocabulary(
        category_share=dict(data["category_share"]),
        shared={key: options(value) for key, value in data["shared"].items()},
        brands={key: options(value) for key, value in data["brands"].items()},
        families={category: {lang: tuple(found) for lang, found in by_lang.items()}
                  for category, by_lang in families.items()},
        abbreviations=tuple((pattern, short) for pattern, short in data["abbreviations"]),
        keep_lower=tuple(data["keep_lower"].split("|")),
    )


INCH_MARK = re.compile(r'(?<=\d)"')
INCH_ALTERNATIVES = (" pulg", "''", " in", " plg", "in")
NO_ACCENTS = str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU")
SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, slots: Mapping[str, tuple[str, ...]], rng: random.Random) -> str:
    """Replace every ``{slot}`` with a random option; options may contain slots themselves."""
    text = template
    for _ in range(3):
        text, count = SLOT.subn(lambda match: rng.choice(slots[match.group(1)]), text)
        if not count:
            break
    return " ".join(text.split())


def title_case(name: str, keep_lower: tuple[str, ...]) -> str:
    """Capitalise plain lowercase words, leaving units, codes and short joiners alone."""
    words = name.split(" ")
    return " ".join(
        word[:1].upper() + word[1:]
        if word.isalpha() and word.islower() and word not in keep_lower
        else word
        for word in words
    )


def apply_case(name: str, style: str, keep_lower: tuple[str, ...]) -> str:
    if style == "title":
        return title_case(name, keep_lower)
    if style == "upper":
        return name.upper()
    if style == "lower":
        return name.lower()
    if style == "crude_title":
        return name.title()
    return name


def roughen(name: str, lang: str, rng: random.Random, vocabulary: Vocabulary) -> str:
    """Add the inconsistencies typical of hand-typed point-of-sale catalogs."""
    if lang == "es":
        if rng.random() < ABBREVIATE_SHARE:
            for pattern, short in vocabulary.abbreviations:
                name = re.sub(pattern, short, name, flags=re.IGNORECASE)
        if rng.random() < INCH_VARIANT_SHARE:
            name = INCH_MARK.sub(rng.choice(INCH_ALTERNATIVES), name)
        if rng.random() < DROP_ACCENT_SHARE:
            name = name.translate(NO_ACCENTS)
    style = rng.choices(CASE_STYLES, weights=CASE_WEIGHTS[lang])[0]
    name = apply_case(name, style, vocabulary.keep_lower)
    if rng.random() < DOUBLE_SPACE_SHARE and " " in name:
        spaces = [i for i, char in enumerate(name) if char == " "]
        cut = rng.choice(spaces)
        name = name[:cut] + " " + name[cut:]
    return name


def family_name(vocabulary: Vocabulary, category: str, lang: str, rng: random.Random) -> str:
    """A new name of one of the category's families in that language, roughened."""
    families = vocabulary.families[category][lang]
    chosen = rng.choices(families, weights=[f.weight for f in families])[0]
    slots = ChainMap(chosen.slots, {"brand": vocabulary.brands[category]}, vocabulary.shared)
    return roughen(fill(rng.choice(chosen.templates), slots, rng), lang, rng, vocabulary)


def new_name(vocabulary: Vocabulary, category: str, rng: random.Random) -> str:
    lang = "en" if rng.random() < ENGLISH_SHARE else "es"
    return family_name(vocabulary, category, lang, rng)


def category_quotas(rows: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``rows`` across categories by their shares (largest remainder)."""
    exact = {category: rows * share for category, share in shares.items()}
    quotas = {category: int(value) for category, value in exact.items()}
    leftover = rows - sum(quotas.values())
    by_remainder = sorted(exact, key=lambda c: exact[c] - quotas[c], reverse=True)
    for category in by_remainder[:leftover]:
        quotas[category] += 1
    return quotas


def generate(rows: int, rng: random.Random, vocabulary: Vocabulary
             ) -> tuple[list[tuple[str, str]], int]:
    """Return ``(category, name)`` rows and how many cross-category clashes were dropped."""
    shares = vocabulary.category_share
    schedule = [c for c, count in category_quotas(rows, shares).items() for _ in range(count)]
    rng.shuffle(schedule)
    owner: dict[str, str] = {}
    written: dict[str, list[str]] = {category: [] for category in shares}
    catalog: list[tuple[str, str]] = []
    dropped = 0
    for category in schedule:
        earlier = written[category]
        while True:
            if earlier and rng.random() < REPEAT_SHARE:
                # Store exports often list an item twice in a row, or again much later.
                name = earlier[-1] if rng.random() < 0.4 else rng.choice(earlier)
            else:
                name = new_name(vocabulary, category, rng)
            if owner.setdefault(name, category) == category:
                break
            dropped += 1  # same name already filed under another category
        earlier.append(name)
        catalog.append((category, name))
    return catalog, dropped


def write_csv(path: Path, catalog: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("category", "name"))
        writer.writerows(catalog)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV file to write")
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="number of data rows")
    parser.add_argument("--vocabulary", type=Path, default=VOCABULARY,
                        help="the vocabulary tables (TOML)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")

    catalog, dropped = generate(args.rows, random.Random(SEED), load_vocabulary(args.vocabulary))
    write_csv(args.out, catalog)
    repeats = len(catalog) - len({name for _, name in catalog})
    print(
        f"wrote {len(catalog)} rows to {args.out} "
        f"({repeats} repeated names, {dropped} cross-category clashes dropped)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
