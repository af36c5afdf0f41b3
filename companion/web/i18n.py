"""The message catalogues (one JSON file per language), choosing a page's language, and
writing counts, numbers, times and dates the way each language writes them.

Catalogue format (`companion/i18n/<lang>.json`): nested objects whose leaves are strings,
addressed by dotted key (`questions.send`). A *count* is an object whose keys are CLDR
plural categories (`zero`, `one`, `two`, `few`, `many`, `other`; `other` is required),
for example `"votes": {"one": "{n} röst", "other": "{n} röster"}`. It is flattened to
`votes.one`, `votes.other`, and `Translator.count("common.votes", n)` picks the form with
the language's CLDR plural rule (Babel here, `Intl.PluralRules` in the browser, see
static/js/i18n.js) and fills `{n}` with the number written for the language ("1 000").

Formats: Swedish as Swedish agencies write it — times "09.30", dates "tisdag 5 maj
2020", "50 %" — and English in British form ("09:30", "Tuesday 5 May 2020", "50%").
Data formats (JSON, CSV) keep ISO times.

Swedish when the browser prefers it (or the visitor chose it), otherwise English.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal

LANGUAGES = ("sv", "en")
DEFAULT = "en"
COOKIE = "lang"
PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})
# The Babel locale behind each language: British English writes 24-hour times and
# "5 May 2020", as the Swedish public sector's English-speaking guests expect.
LOCALES = {"sv": "sv_SE", "en": "en_GB"}
TIME_PATTERNS = {"sv": "{h:02d}.{m:02d}", "en": "{h:02d}:{m:02d}"}
DATE_PATTERN = "EEEE d MMMM y"


def _is_count(value: dict[str, Any]) -> bool:
    return "other" in value and set(value) <= PLURAL_CATEGORIES


def _flatten(tree: dict[str, Any], prefix: str = "") -> tuple[dict[str, str], set[str]]:
    flat: dict[str, str] = {}
    counts: set[str] = set()
    for key, value in tree.items():
        if isinstance(value, dict):
            if _is_count(value):
                counts.add(f"{prefix}{key}")
            inner, inner_counts = _flatten(value, f"{prefix}{key}.")
            flat.update(inner)
            counts |= inner_counts
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat, counts


@cache
def _load(lang: str) -> tuple[dict[str, str], frozenset[str]]:
    text = resources.files("companion").joinpath(f"i18n/{lang}.json").read_text("utf-8")
    flat, counts = _flatten(json.loads(text))
    return flat, frozenset(counts)


def catalogue(lang: str) -> dict[str, str]:
    """Every string of one language, by dotted key such as `questions.send`."""
    return _load(lang)[0]


def count_keys(lang: str) -> frozenset[str]:
    """The keys of one language's counts (each with a form per plural category)."""
    return _load(lang)[1]


def _fill(text: str, values: dict[str, object]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


class Translator:
    """`t(key, **values)`, `t.count(key, n)`, `t.number`, `t.time`, `t.date` for one
    language; a missing key shows itself, never crashes."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.locale = Locale.parse(LOCALES[lang])
        self.strings = catalogue(lang)

    def __call__(self, key: str, **values: object) -> str:
        return _fill(self.strings.get(key, key), values)

    def plural_category(self, n: float) -> str:
        """The CLDR plural category of n in this language ("one", "other", ...)."""
        return self.locale.plural_form(n)

    def count(self, key: str, n: float, **values: object) -> str:
        """A count: the form of `key` for n, with `{n}` written for the language."""
        text = self.strings.get(f"{key}.{self.plural_category(n)}") or self.strings.get(
            f"{key}.other", key
        )
        return _fill(text, {"n": self.number(n), **values})

    def number(self, value: float, digits: int = 1) -> str:
        """A number as the language writes it: "1 000", "4,5" in Swedish."""
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float) -> str:
        """A percentage, whole or with one decimal: "50 %", "66,7 %" in Swedish."""
        number = self.number(value)
        return f"{number}\u00a0%" if self.lang == "sv" else f"{number}%"

    def time(self, value: dt.time | dt.datetime | str | float | None) -> str:
        """A time of day: "09.30" in Swedish, "09:30" in English; "" for none.

        Takes a time, a datetime, an ISO string ("09:30", "2020-05-05T09:30:00+02:00")
        or a unix time (shown in the server's time zone)."""
        if value is None or value == "":
            return ""
        if isinstance(value, int | float):
            value = dt.datetime.fromtimestamp(value)
        elif isinstance(value, str):
            value = (
                dt.datetime.fromisoformat(value) if "T" in value else dt.time.fromisoformat(value)
            )
        return TIME_PATTERNS[self.lang].format(h=value.hour, m=value.minute)

    def time_range(self, start: object, end: object) -> str:
        """ "09.30–11.30", or just "09.30" when there is no end (never a dangling dash)."""
        first, last = self.time(start), self.time(end)  # type: ignore[arg-type]
        if not first:
            return ""
        return f"{first}–{last}" if last else first

    def date(self, value: dt.date | str | None) -> str:
        """A date written out: "tisdag 5 maj 2020", "Tuesday 5 May 2020"; "" for none."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = dt.date.fromisoformat(value[:10])
        return format_date(value, DATE_PATTERN, locale=self.locale)


@cache
def translator(lang: str) -> Translator:
    """The translator of one language (the catalogue is read once)."""
    return Translator(lang)


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """The visitor's chosen language, else the first of ours the browser prefers."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag.strip().lower().split("-")[0]))
    for _, _, primary in sorted(ranked):
        if primary in LANGUAGES:
            return primary
    return DEFAULT
