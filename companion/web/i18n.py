"""The message catalogues (one JSON file per language) and choosing a page's language.

Swedish when the browser prefers it (or the visitor chose it), otherwise English.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("sv", "en")
DEFAULT = "en"
COOKIE = "lang"


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every string of one language, by dotted key such as `questions.send`."""
    text = resources.files("companion").joinpath(f"i18n/{lang}.json").read_text("utf-8")
    return _flatten(json.loads(text))


def translator(lang: str) -> Callable[..., str]:
    """`t(key, **vars)` for one language; a missing key shows itself, never crashes."""
    strings = catalogue(lang)

    def t(key: str, **values: object) -> str:
        text = strings.get(key, key)
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    return t


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
