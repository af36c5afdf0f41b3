"""What an organiser sets per session besides pre-moderation: anonymous questions, the
word filter (on or off, plus the session's own words) and the live stream (on or off).

A change is a `session.settings` event carrying only the fields that change, so the log
says what was changed and a replay gives the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from companion.domain import events as ev
from companion.domain.errors import InvalidState
from companion.domain.word_filter import WordFilter

MAX_EXTRA_WORDS = 100
MAX_WORD = 40
FLAGS = ("anonymous", "word_filter", "stream")


class SettingsError(InvalidState):
    """A setting with a bad value; `field` names it."""

    code = "invalid_value"

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, code="invalid_value")
        self.field = field


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """A session's settings; the defaults are what a session had before they existed."""

    anonymous: bool = True  # participants may ask without a name
    word_filter: bool = True  # the installation's word list holds matching questions
    extra_words: tuple[str, ...] = ()  # the session's own words, held like the list's
    stream: bool = True  # the live stream may be published

    def held(self, installation: WordFilter, *texts: object) -> bool:
        """Whether the word filter holds a question with these texts (text, name)."""
        if not self.word_filter:
            return False
        own = _own_filter(self.extra_words)
        return any(installation.matches(t) or own.matches(t) for t in texts)


@lru_cache(maxsize=512)
def _own_filter(words: tuple[str, ...]) -> WordFilter:
    return WordFilter(words)


def parse_words(raw: object) -> tuple[str, ...]:
    """Extra words from a list or from text (one per line or comma-separated): trimmed,
    lower-case, without repeats; SettingsError when too many or too long."""
    if isinstance(raw, str):
        raw = raw.replace(",", "\n").splitlines()
    if not isinstance(raw, list | tuple) or not all(isinstance(w, str) for w in raw):
        raise SettingsError("Extra words must be a list of words.", field="extra_words")
    words: list[str] = []
    for word in (w.strip().lower() for w in raw):
        if not word or word in words:
            continue
        if len(word) > MAX_WORD or any(c.isspace() for c in word):
            raise SettingsError(
                f"A word may have at most {MAX_WORD} letters and no spaces.", field="extra_words"
            )
        words.append(word)
    if len(words) > MAX_EXTRA_WORDS:
        raise SettingsError(f"At most {MAX_EXTRA_WORDS} extra words.", field="extra_words")
    return tuple(words)


def change(current: SessionSettings, fields: dict[str, Any]) -> ev.Draft:
    """The event that changes these settings to `fields` (only what differs), or
    InvalidState `no_change` when nothing would change."""
    data: dict[str, Any] = {}
    for flag in FLAGS:
        if flag in fields:
            value = fields[flag]
            if not isinstance(value, bool):
                raise SettingsError(f"`{flag}` must be true or false.", field=flag)
            if value != getattr(current, flag):
                data[flag] = value
    if "extra_words" in fields:
        words = parse_words(fields["extra_words"])
        if words != current.extra_words:
            data["extra_words"] = list(words)
    if not data:
        raise InvalidState("The settings are already so.", code="no_change")
    return ev.Draft(ev.SETTINGS_CHANGED, data)


def apply(current: SessionSettings, data: dict[str, Any]) -> SessionSettings:
    """The settings after a `session.settings` event."""
    changed: dict[str, Any] = {k: bool(data[k]) for k in FLAGS if k in data}
    if "extra_words" in data:
        changed["extra_words"] = tuple(data["extra_words"])
    return replace(current, **changed)
