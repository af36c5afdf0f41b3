"""A network's meetings as an iCalendar feed (RFC 5545) that members subscribe to.

Made with the `icalendar` package. Each meeting with a date is one VEVENT:

- times in Europe/Stockholm, with the VTIMEZONE the package derives from the zone
  database, so a calendar anywhere shows 09.30 in Stockholm at the right instant;
- a stable UID (network, season and meeting ids at the installation's host), so a
  meeting that moves updates the entry already in the subscriber's calendar rather than
  adding a second one; SEQUENCE is the programme's version, which only grows, so every
  saved change wins over the copy a calendar holds;
- a postponed meeting stays in the calendar marked STATUS:CANCELLED with the summary
  "Uppskjuten tills vidare: …": its old day must stop looking like a meeting, and the
  summary says it was postponed, not cancelled;
- a "date to come" meeting that has a (preliminary) day is STATUS:TENTATIVE with
  "Preliminärt datum: …" in the summary.

A meeting without a day (the seed's postponed meeting and its "Juni 2020, datum kommer")
is left out: a calendar entry needs a day, and any day we made up would be wrong in
someone's calendar. The programme page shows these meetings; once the organiser sets a
day the meeting appears in the feed under the same UID.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar

from companion.domain.programme import Event, Network, Season, Speaker, Status, guests

TIME_ZONE = ZoneInfo("Europe/Stockholm")  # where the networks meet
REFRESH = dt.timedelta(hours=1)  # how often a subscribed calendar should look again
STATUS = {
    Status.POSTPONED: "CANCELLED",
    Status.DATE_TO_COME: "TENTATIVE",
}


def uid(network: Network, season: Season, event: Event, host: str) -> str:
    """The meeting's UID: the same for as long as the meeting keeps its ids."""
    return f"{event.id}.{season.id}.{network.id}@{host}"


def _speaker(s: Speaker) -> str:
    return ", ".join(part for part in (s.name, s.title, s.organisation) if part)


def description(network: Network, event: Event, words: dict[str, str], page_url: str) -> str:
    """The meeting's note, sessions, moderator and guests, and where to read more."""
    lines: list[str] = []
    if event.note:
        lines += [event.note, ""]
    for session in event.sessions:
        if len(event.sessions) > 1:
            lines.append(session.title)
        moderator = session.moderator or network.moderator
        if moderator is not None:
            lines.append(f"{words['moderator']}: {_speaker(moderator)}")
        lines += [f"{words['guest']}: {_speaker(g)}" for g in guests(session, moderator)]
        lines.append("")
    lines.append(f"{words['programme']}: {page_url}")
    return "\n".join(lines).strip()


def network_calendar(
    network: Network,
    version: int,
    base_url: str,
    words: dict[str, str],
    now: dt.datetime | None = None,
) -> bytes:
    """The feed of one network, as bytes to serve as ``text/calendar``.

    `words` holds the feed's language: ``calendar_name`` (with {network}), ``postponed``,
    ``tentative`` (summary prefixes), ``moderator``, ``guest`` and ``programme``.
    """
    host = urlsplit(base_url).hostname or "companion"
    page = f"{base_url}/networks/{network.id}"
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    name = words["calendar_name"].format(network=network.title)
    calendar = icalendar.Calendar.new(
        prodid="-//Companion//Programme//SV",
        name=name,  # also written as X-WR-CALNAME, the name older clients read
        uid=f"{network.id}@{host}",
        refresh_interval=REFRESH,
        url=page,
    )
    calendar.add("X-PUBLISHED-TTL", icalendar.vDuration(REFRESH))
    days: list[dt.date] = []
    for season in network.seasons:
        for event in season.events:
            if event.date is None:
                continue  # no day, no calendar entry: see the module's docstring
            days.append(event.date)
            summary = event.title
            if event.status == Status.POSTPONED:
                summary = f"{words['postponed']}: {summary}"
            elif event.status == Status.DATE_TO_COME:
                summary = f"{words['tentative']}: {summary}"
            start: dt.date | dt.datetime = event.date
            end: dt.date | dt.datetime | None = None
            if event.start is not None:
                start = dt.datetime.combine(event.date, event.start, TIME_ZONE)
                if event.end is not None:
                    end = dt.datetime.combine(event.date, event.end, TIME_ZONE)
            calendar.add_component(
                icalendar.Event.new(
                    uid=uid(network, season, event, host),
                    stamp=stamp,
                    start=start,
                    end=end,
                    summary=summary,
                    location=event.venue or None,
                    description=description(network, event, words, f"{page}#{event.id}"),
                    status=STATUS.get(event.status, "CONFIRMED"),  # type: ignore[arg-type]
                    sequence=version,
                    url=f"{page}#{event.id}",
                )
            )
    if days:
        # Only the years of the meetings, not the package's default 1970-2038 rules.
        calendar.add_missing_timezones(
            first_date=dt.date(min(days).year, 1, 1), last_date=dt.date(max(days).year + 1, 1, 1)
        )
    feed: bytes = calendar.to_ical()
    return feed
