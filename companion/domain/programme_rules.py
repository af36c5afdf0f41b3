"""The rules every programme value obeys, whoever writes it: the YAML import and the editor.

Each check takes raw text (as typed in a form or written in a file) and returns the
value, or raises `RuleError` with a stable `code`, its parameters (for the pages, which
translate) and an English `message` (what the import prints after ``file:line: field:``).
Keeping one copy of these is what makes the editor and the import refuse the same things
with the same words.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable
from enum import StrEnum
from typing import TypeVar

SESSION_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# Session ids end up in URLs and topic names, hence the strict pattern above; the other
# ids only need to be unambiguous tokens.
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_RE = re.compile(r"^(?:[01]\d|2[0-3])[:.][0-5]\d$")
_MINUTES_RE = re.compile(r"^\d+$")

# Lengths, in characters after stripping: a title fits a slide, a description a page.
MAX_TITLE = 200
MAX_NAME = 200  # speaker name, title and organisation; venue; contact
MAX_TEXT = 10_000  # descriptions and notes
MAX_MINUTES = 24 * 60

_E = TypeVar("_E", bound=StrEnum)


class RuleError(ValueError):
    """A value breaks a programme rule: `code` and `params` for pages, `message` in English."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params


def text(value: str | None, limit: int, required: bool = False) -> str:
    """Text stripped of surrounding whitespace; refused when empty (if required) or too long."""
    stripped = (value or "").strip()
    if required and not stripped:
        raise RuleError("required", "must not be empty")
    if len(stripped) > limit:
        raise RuleError(
            "too_long",
            f"at most {limit} characters, got {len(stripped)}",
            limit=limit,
            length=len(stripped),
        )
    if stripped.encode("utf-8", "replace") != stripped.encode("utf-8", "surrogatepass"):
        raise RuleError("invalid_text", "contains characters that are not text")
    return stripped


def id_rule(pattern: re.Pattern[str]) -> str:
    """How ids of this pattern are written, in words."""
    if pattern is SESSION_ID_RE:
        return "use 2-63 lowercase letters a-z, digits and '-', not starting with '-'"
    return "use letters, digits, '-', '_' and '.', starting with a letter or digit (at most 80)"


def ident(
    value: str | None, what: str, taken: Collection[str] = (), pattern: re.Pattern[str] = ID_RE
) -> str:
    """An id matching `pattern` and not among `taken` (`what`: network, season, session…)."""
    stripped = (value or "").strip()
    if not stripped:
        raise RuleError("required", "must not be empty")
    if not pattern.match(stripped):
        session = pattern is SESSION_ID_RE
        raise RuleError(
            "invalid_session_id" if session else "invalid_id",
            f"invalid {what} id {stripped!r}: {id_rule(pattern)}",
            value=stripped,
        )
    if stripped in taken:
        raise RuleError("duplicate_id", f"duplicate {what} id {stripped!r}", value=stripped)
    return stripped


def slug(title: str, taken: Collection[str] = (), session: bool = False) -> str:
    """An id made from a title (Swedish letters folded), unique among `taken`."""
    folded = title.lower().translate(str.maketrans("åäöéüæø", "aaoeuao"))
    base = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:50].strip("-") or "punkt"
    if len(base) < 2:
        base = f"{base}-1"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate if not session or SESSION_ID_RE.match(candidate) else f"s-{candidate}"[:63]


def date(value: str | None) -> dt.date | None:
    """A date YYYY-MM-DD, or None when blank."""
    stripped = (value or "").strip()
    if not stripped:
        return None
    try:
        if not _DATE_RE.match(stripped):
            raise ValueError
        return dt.date.fromisoformat(stripped)
    except ValueError:
        raise RuleError(
            "invalid_date", f"expected a date YYYY-MM-DD, got {stripped!r}", value=stripped
        ) from None


def time(value: str | None) -> dt.time | None:
    """A time HH:MM (09.30 as Swedish write it is read too), or None when blank."""
    stripped = (value or "").strip()
    if not stripped:
        return None
    if not _TIME_RE.match(stripped):
        raise RuleError("invalid_time", f"expected a time HH:MM, got {stripped!r}", value=stripped)
    return dt.time(int(stripped[:2]), int(stripped[3:]))


def minutes(value: str | None) -> int | None:
    """A positive whole number of minutes (at most a day), or None when blank."""
    stripped = (value or "").strip()
    if not stripped:
        return None
    if not _MINUTES_RE.match(stripped) or not 0 < int(stripped) <= MAX_MINUTES:
        raise RuleError(
            "invalid_minutes", f"expected a positive integer, got {stripped!r}", value=stripped
        )
    return int(stripped)


def poll_id(value: str | None) -> int | None:
    """A scene's poll: a poll id of the session (a positive whole number), or None."""
    stripped = (value or "").strip()
    if not stripped:
        return None
    if not stripped.isascii() or not stripped.isdigit() or not 0 < int(stripped) < 10**9:
        raise RuleError("invalid_poll", f"expected a poll id, got {stripped!r}", value=stripped)
    return int(stripped)


MAX_RETENTION_DAYS = 3650


def retention_days(value: str | None) -> int | None:
    """Days a network keeps personal data after a meeting (0: until deleted by hand), or
    None when blank (the installation's period)."""
    stripped = (value or "").strip()
    if not stripped:
        return None
    if not stripped.isascii() or not stripped.isdigit() or int(stripped) > MAX_RETENTION_DAYS:
        raise RuleError(
            "invalid_retention_days",
            f"expected a whole number of days from 0 to {MAX_RETENTION_DAYS}, got {stripped!r}",
            value=stripped,
        )
    return int(stripped)


def choice(value: str | None, enum: type[_E], default: _E | None = None) -> _E:
    """One of an enum's values; blank gives `default` (required when there is none)."""
    stripped = (value or "").strip()
    if not stripped:
        if default is None:
            raise RuleError("required", "must not be empty")
        return default
    try:
        return enum(stripped)
    except ValueError:
        names = ", ".join(member.value for member in enum)
        raise RuleError(
            "invalid_choice", f"expected one of {names}, got {stripped!r}", value=stripped
        ) from None


def end_after_start(start: dt.time | None, end: dt.time | None) -> None:
    """An event's end must come after its start."""
    if start is not None and end is not None and end <= start:
        raise RuleError(
            "end_before_start",
            f"end {end:%H:%M} is not after start {start:%H:%M}",
            start=f"{start:%H:%M}",
            end=f"{end:%H:%M}",
        )


def ends_at(start: dt.time | None, length: int | None) -> dt.time | None:
    """When an item that starts at `start` and lasts `length` minutes ends (None: unknown)."""
    if start is None or length is None:
        return None
    total = start.hour * 60 + start.minute + length
    if total >= 24 * 60:
        return dt.time(23, 59, 59)  # past midnight: later than any event's end
    return dt.time(total // 60, total % 60)


def item_within_event(start: dt.time | None, length: int | None, event_end: dt.time | None) -> None:
    """An agenda item must end by the time its event ends."""
    end = ends_at(start, length)
    if end is not None and event_end is not None and end > event_end:
        shown = f"{end:%H:%M}" if end.second == 0 else "after midnight"
        raise RuleError(
            "item_after_event",
            f"the item ends at {shown}, after the event ends at {event_end:%H:%M}",
            end=shown,
            event_end=f"{event_end:%H:%M}",
        )


def known_track(track: str | None, track_ids: Iterable[str]) -> str | None:
    """A session's track must be one of its event's tracks (None: no track)."""
    ids = list(track_ids)
    if track is not None and track not in ids:
        known = ", ".join(ids) if ids else "none"
        raise RuleError(
            "unknown_track",
            f"unknown track {track!r}; tracks of this event: {known}",
            value=track,
            known=known,
        )
    return track
