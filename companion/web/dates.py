"""Dates and times as Swedish public services write them ("tisdag 5 maj 2020, 09.30"),
and in English ("Tuesday 5 May 2020, 09:30"), for the organiser pages. The formats
themselves live in one place, companion/web/i18n.py (Translator.date and .time)."""

from __future__ import annotations

import datetime as dt

from companion.domain.programme import Event
from companion.web.i18n import translator


def day(date: dt.date, lang: str) -> str:
    """ "tisdag 5 maj 2020" / "Tuesday 5 May 2020"."""
    return translator(lang).date(date)


def clock(time: dt.time, lang: str) -> str:
    """09.30 in Swedish, 09:30 in English."""
    return translator(lang).time(time)


def moment(at: float, lang: str) -> str:
    """A point in time (server local time): "tisdag 5 maj 2020, 09.30"."""
    local = dt.datetime.fromtimestamp(at)
    return f"{day(local.date(), lang)}, {clock(local.time(), lang)}"


def when(event: Event, lang: str) -> str:
    """An event's day and times: "tisdag 5 maj 2020, 09.30–12.30"; no dash without an end."""
    parts = []
    if event.date is not None:
        parts.append(day(event.date, lang))
    if event.start is not None:
        parts.append(translator(lang).time_range(event.start, event.end))
    return ", ".join(parts)
