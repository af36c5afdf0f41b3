"""Words that send a question to the moderator first, even without pre-moderation.

A match never rejects a question: it is held as pending, so a false positive costs the
moderator one tap. Entries are whole words; a trailing `*` also matches longer words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_WORDS = (
    # Swedish
    "jävla",
    "jävlar",
    "jävligt",
    "jävel",
    "helvete",
    "helvetes",
    "skit*",
    "fitta",
    "kuk",
    "kukhuvud",
    "hora",
    "horunge",
    "idiot*",
    "dumhuvud",
    "mongo",
    "CP-*",
    # English
    "fuck*",
    "shit*",
    "bullshit",
    "bitch*",
    "bastard*",
    "cunt*",
    "asshole*",
    "dickhead*",
    "moron*",
    "retard*",
    "whore*",
)


class WordFilter:
    """Case-insensitive whole-word matching of a configurable list."""

    def __init__(self, words: Iterable[str]) -> None:
        patterns = []
        for word in (w.strip() for w in words):
            if not word:
                continue
            stem, prefix = (word[:-1], True) if word.endswith("*") else (word, False)
            patterns.append(re.escape(stem) + (r"\w*" if prefix else ""))
        self.words = tuple(patterns)
        self._regex = (
            re.compile(r"(?<!\w)(?:" + "|".join(patterns) + r")(?!\w)", re.IGNORECASE)
            if patterns
            else None
        )

    @classmethod
    def from_setting(cls, setting: str) -> WordFilter:
        """`default` (the built-in Swedish and English list), `off`, or a comma-separated list."""
        value = setting.strip()
        if value.lower() in ("", "default"):
            return cls(DEFAULT_WORDS)
        if value.lower() == "off":
            return cls(())
        return cls(value.split(","))

    def matches(self, text: object) -> bool:
        """Whether the text contains a listed word."""
        return isinstance(text, str) and self._regex is not None and bool(self._regex.search(text))
