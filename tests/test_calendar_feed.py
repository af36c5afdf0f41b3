"""The calendar feed of a network, parsed back with the `icalendar` package."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import icalendar

from companion.calendar_feed import network_calendar
from companion.domain.programme import Status
from companion.programme_file import parse_programme
from tests.serverproc import DEMO

WORDS = {
    "calendar_name": "{network} – träffar",
    "postponed": "Uppskjuten tills vidare",
    "tentative": "Preliminärt datum",
    "moderator": "Samtalsledare",
    "guest": "Gäst",
    "programme": "Programmet",
}
BASE = "https://companion.example.se"
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def seed_network():  # type: ignore[no-untyped-def]
    return parse_programme(DEMO.read_text("utf-8"), DEMO.name).networks[0]


def events_of(feed: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(feed)
    return {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}


def test_the_seed_season_in_stockholm_time_with_venue_guests_and_a_timezone() -> None:
    """The two dated meetings of the seed: 09.30–12.30 Stockholm time (summer: +02:00),
    Klarahuset, the moderator and the guest; the VTIMEZONE is Europe/Stockholm's."""
    feed = network_calendar(seed_network(), 7, BASE, WORDS)
    calendar = icalendar.Calendar.from_ical(feed)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Stockholm"]
    assert str(calendar["X-WR-CALNAME"]) == "Ledarskap och innovation i offentlig sektor – träffar"
    events = events_of(feed)
    assert sorted(events) == [
        "En myndighets förändringsresa",
        "Hållbarhet, transparent ledarskap och lönsamhet - i allmännyttan",
    ]
    may5 = events["En myndighets förändringsresa"]
    assert may5.start == dt.datetime(2020, 5, 5, 9, 30, tzinfo=STOCKHOLM)
    assert may5.start.utcoffset() == dt.timedelta(hours=2)
    assert may5.end == dt.datetime(2020, 5, 5, 12, 30, tzinfo=STOCKHOLM)
    assert may5["DTSTART"].params["TZID"] == "Europe/Stockholm"
    assert str(may5["LOCATION"]) == "Klarahuset, Drottninggatan 33"
    assert str(may5["STATUS"]) == "CONFIRMED"
    assert may5["SEQUENCE"] == 7
    text = str(may5["DESCRIPTION"])
    assert "Samtalsledare: Anki Udd, ledarskapsexpert och ledarutvecklare, Ledarna" in text
    assert "Gäst: Clas Olsson, generaldirektör, Ekonomistyrningsverket" in text
    assert f"{BASE}/networks/ledarskap-och-innovation#forandringsresa" in text
    assert str(may5["UID"]) == (
        "forandringsresa.varen-2020.ledarskap-och-innovation@companion.example.se"
    )


def test_meetings_without_a_day_are_left_out() -> None:
    """The seed's postponed meeting and its "datum kommer" meeting have no day: not in the
    feed (a calendar entry needs one); they are in the programme, not in the calendar."""
    network = seed_network()
    statuses = {e.title: (e.status, e.date) for s in network.seasons for e in s.events}
    assert statuses["Omorganisationer i offentlig sektor"] == (Status.POSTPONED, None)
    assert statuses["Digitalisering och ett sunt arbetsliv för chefer"] == (
        Status.DATE_TO_COME,
        None,
    )
    titles = " ".join(events_of(network_calendar(network, 1, BASE, WORDS)))
    assert "Omorganisationer" not in titles
    assert "Digitalisering" not in titles


def test_postponed_is_cancelled_with_its_reason_and_a_provisional_day_is_tentative() -> None:
    """Given a day, the postponed meeting is CANCELLED with "Uppskjuten tills vidare: …" and
    the "datum kommer" one TENTATIVE with "Preliminärt datum: …"; a day without times is
    a whole-day entry."""
    network = seed_network()
    season = network.seasons[0]
    events = tuple(
        dataclasses.replace(e, date=dt.date(2020, 4, 21))
        if e.status == Status.POSTPONED
        else dataclasses.replace(e, date=dt.date(2020, 6, 9), start=None, end=None)
        if e.status == Status.DATE_TO_COME
        else e
        for e in season.events
    )
    network = dataclasses.replace(network, seasons=(dataclasses.replace(season, events=events),))
    found = events_of(network_calendar(network, 2, BASE, WORDS))
    postponed = found["Uppskjuten tills vidare: Omorganisationer i offentlig sektor"]
    assert str(postponed["STATUS"]) == "CANCELLED"
    assert postponed.start == dt.datetime(2020, 4, 21, 9, 30, tzinfo=STOCKHOLM)
    assert "OBS: Denna träff är uppskjuten tills vidare." in str(postponed["DESCRIPTION"])
    tentative = found["Preliminärt datum: Digitalisering och ett sunt arbetsliv för chefer"]
    assert str(tentative["STATUS"]) == "TENTATIVE"
    assert tentative.start == dt.date(2020, 6, 9)  # whole day: no time given


def test_a_moved_meeting_keeps_its_uid_with_a_higher_sequence() -> None:
    """The subscriber's calendar updates the same entry: same UID, new day, SEQUENCE up."""
    network = seed_network()
    before = events_of(network_calendar(network, 3, BASE, WORDS))["En myndighets förändringsresa"]
    season = network.seasons[0]
    moved = tuple(
        dataclasses.replace(e, date=dt.date(2020, 5, 6)) if e.id == "forandringsresa" else e
        for e in season.events
    )
    network = dataclasses.replace(network, seasons=(dataclasses.replace(season, events=moved),))
    after = events_of(network_calendar(network, 4, BASE, WORDS))["En myndighets förändringsresa"]
    assert after["UID"] == before["UID"]
    assert after.start.date() == dt.date(2020, 5, 6)
    assert after["SEQUENCE"] > before["SEQUENCE"]
