"""Product-name normalization as a scikit-learn transformer, so training and serving share it.

Every step is a switch, so the benchmark can measure what each does to accuracy. Sizes and units
are kept as signal (`1/2"` -> `1/2in`, `25 kg` -> `25kg`, `B-100`, `c/100`): in a hardware catalog
they separate a PVC fitting from a paint can better than most words do. The shorthand of
Spanish shop labels is written out (`p/cable` -> `para cable`, `c/tapa` -> `con tapa`), so the
word after the slash counts as a word of its own.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin

# Spreadsheet exports leave escaped carriage returns in cells.
_EXCEL_ESCAPE = re.compile(r"_x000[dDaA]_")
# Inch marks: `1/2"`, `1/2''`, `3 in`, `2 pulg` -> `1/2in`.
_INCH = re.compile(r"(\d)\s*(?:\"+|''|”|″|\bpulg(?:adas?)?\b\.?|\bin\b\.?)")
_UNITS = (
    "mm|cm|mts|mt|m|km|kg|kgs|g|gr|grs|lb|lbs|oz|l|lt|lts|ml|gal|w|kw|v|a|amp|amps|hp|ft|pies?|"
    "pza|pzas|pz|pzs|pcs|pc|psi|rpm|mah|ah"
)
# `25 kg` -> `25kg`, so a quantity and its unit are one token.
_NUMBER_UNIT = re.compile(rf"(\d)\s+({_UNITS})\b")
# `p/`, `c/`, `s/` before a word mean para/con/sin; before a digit (`c/100`) it is a pack count.
_SHORTHAND = re.compile(r"\b([pcs])/\s*(?=[^\W\d_])", re.IGNORECASE)
_SHORTHAND_WORDS = {"p": "para ", "c": "con ", "s": "sin "}
# Letters of any case or script, digits, `#` gauges; `/ . , -` inside a token (`1/2in`, `b-100`).
_TOKEN = re.compile(r"(?:[^\W_]|#)+(?:[/.,\-][^\W_]+)*")
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from stop_words import get_stop_words  # ships its lists; nothing is downloaded

    words = set(get_stop_words("es")) | set(get_stop_words("en"))
    return frozenset(_fold(word) for word in words) | frozenset(words)


@cache
def _stemmer(language: str) -> Any:
    from nltk.stem.snowball import SnowballStemmer  # the algorithm needs no corpus download

    return SnowballStemmer(language)


@lru_cache(maxsize=200_000)
def _stem(token: str) -> str:
    # Spanish first: most names are Spanish, and the Spanish stemmer leaves English plurals
    # (`screws`) alone, so English ones get the English stemmer as a second pass.
    stemmed = _stemmer("spanish").stem(token)
    return _stemmer("english").stem(stemmed) if stemmed == token else stemmed


@lru_cache(maxsize=200_000)
def _lemma(token: str) -> str:
    import simplemma  # ships its ES and EN dictionaries

    return simplemma.lemmatize(token, lang=("es", "en"))


def _fold_char(ch: str) -> str:
    """One character without its diacritics, compatibility forms decomposed (`ﬁ` -> `fi`)."""
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _FoldTable(dict[int, str]):
    """`str.translate` table that learns each character's folding the first time it meets it.

    Folding character by character is folding the whole text: NFKD only decomposes, and the
    reordering of combining marks it does cannot matter once they are dropped.
    """

    def __missing__(self, code: int) -> str:
        folded = self[code] = _fold_char(chr(code))
        return folded


_FOLD_TABLE = _FoldTable()


def _fold(text: str) -> str:
    if text.isascii():  # nothing to fold: a flag check
        return text
    return text.translate(_FOLD_TABLE)


class ProductNameNormalizer(TransformerMixin, BaseEstimator):
    """Turn raw product names into normalized, space-separated tokens.

    Args:
        lowercase: fold case.
        fold_accents: drop diacritics (`cálida` -> `calida`, `ñ` -> `n`).
        keep_numbers: keep tokens with digits (sizes, gauges, pack counts). The predecessor
            stripped every digit; `False` reproduces that for the baseline.
        stopwords: drop Spanish and English stopwords (tokens with digits are never dropped).
        stem: apply NLTK's Snowball stemmers (Spanish, then English) to alphabetic tokens.
        lemmatize: lemmatize alphabetic tokens with simplemma's ES+EN dictionaries.
    """

    def __init__(
        self,
        *,
        lowercase: bool = True,
        fold_accents: bool = True,
        keep_numbers: bool = True,
        stopwords: bool = False,
        stem: bool = False,
        lemmatize: bool = False,
    ) -> None:
        self.lowercase = lowercase
        self.fold_accents = fold_accents
        self.keep_numbers = keep_numbers
        self.stopwords = stopwords
        self.stem = stem
        self.lemmatize = lemmatize

    def fit(self, X: Any, y: Any = None) -> ProductNameNormalizer:  # noqa: N803 - sklearn API
        return self

    def transform(self, X: Any) -> list[str]:  # noqa: N803 - sklearn API
        return [self.normalize(str(name)) for name in X]

    def normalize(self, name: str) -> str:
        """Normalize one product name."""
        # (The substring checks spare a regex pass over the many names they cannot change.)
        text = _EXCEL_ESCAPE.sub(" ", name) if "_x000" in name else name
        if self.lowercase:
            text = text.lower()
        if self.fold_accents:
            text = _fold(text)
        if "/" in text:
            text = _SHORTHAND.sub(lambda match: _SHORTHAND_WORDS[match[1].lower()], text)
        text = _INCH.sub(r"\1in ", text)
        text = _NUMBER_UNIT.sub(r"\1\2", text)
        tokens = _TOKEN.findall(text)
        if self.keep_numbers and not (self.stopwords or self.lemmatize or self.stem):
            return " ".join(tokens)  # every token stays as it is
        stop = _stopwords() if self.stopwords else frozenset()
        out = []
        for token in tokens:
            has_digit = _DIGIT.search(token) is not None
            if has_digit:
                if self.keep_numbers:
                    out.append(token)
                continue
            if token in stop:
                continue
            if self.lemmatize:
                token = _lemma(token)
            if self.stem:
                token = _stem(token)
            out.append(token)
        return " ".join(out)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags
