"""Dates and times as Swedish public services write them ("tisdag 5 maj 2020, 09.30"),
and in English ("Tuesday 5 May 2020, 09:30")."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date

from companion.domain.programme import Event


def day(date: dt.date, lang: str) -> str:
    """ "tisdag 5 maj 2020" / "Tuesday 5 May 2020"."""
    return format_date(date, "EEEE d MMMM y", locale=lang)


def clock(time: dt.time, lang: str) -> str:
    """09.30 in Swedish, 09:30 in English."""
    return time.strftime("%H.%M" if lang == "sv" else "%H:%M")


def moment(at: float, lang: str) -> str:
    """A point in time (server local time): "tisdag 5 maj 2020, 09.30"."""
    local = dt.datetime.fromtimestamp(at)
    return f"{day(local.date(), lang)}, {clock(local.time(), lang)}"


def when(event: Event, lang: str) -> str:
    """An event's day and times: "tisdag 5 maj 2020, 09.30–12.30"."""
    parts = []
    if event.date is not None:
        parts.append(day(event.date, lang))
    times = [t for t in (event.start, event.end) if t is not None]
    if times:
        parts.append("–".join(clock(t, lang) for t in times))
    return ", ".join(parts)
