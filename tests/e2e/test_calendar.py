"""A network's calendar feed from a real server, changed by the programme editor."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import icalendar
import requests

from tests.e2e.organisers import signed_in
from tests.serverproc import ServerProcess

NETWORK = "ledarskap-och-innovation"
FEED = f"/networks/{NETWORK}/calendar.ics"
SEASON = f"/organise/networks/{NETWORK}/seasons/varen-2020"
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def feed(server: ServerProcess, query: str = "") -> dict[str, icalendar.Event]:
    answer = requests.get(server.http + FEED + query, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    calendar = icalendar.Calendar.from_ical(answer.content)
    return {str(e["UID"]).split(".")[0]: e for e in calendar.walk("VEVENT")}


def test_the_feed_follows_the_editor(server: ServerProcess) -> None:
    """The seed's dated meetings are in the feed, the dateless ones not; moving a meeting in
    the editor moves the same entry (UID kept, SEQUENCE up), and giving the postponed
    meeting a day puts it in as CANCELLED "Uppskjuten tills vidare: …"."""
    before = feed(server)
    assert sorted(before) == ["forandringsresa", "hallbarhet-allmannyttan"]
    may5 = before["forandringsresa"]
    assert may5.start == dt.datetime(2020, 5, 5, 9, 30, tzinfo=STOCKHOLM)
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    common = {"start": "09:30", "end": "12:30", "venue": "Klarahuset, Drottninggatan 33"}
    moved = anna.post(
        SEASON + "/events/forandringsresa",
        {"title": "En myndighets förändringsresa", "date": "2020-05-06", **common},
    )
    assert moved.status_code == 303, moved.text
    dated = anna.post(
        SEASON + "/events/omorganisationer",
        {
            "title": "Omorganisationer i offentlig sektor",
            "date": "2020-04-21",
            "status": "postponed",
            "note": "OBS: Denna träff är uppskjuten tills vidare. Mer info kommer.",
            **common,
        },
    )
    assert dated.status_code == 303, dated.text
    after = feed(server)
    assert sorted(after) == ["forandringsresa", "hallbarhet-allmannyttan", "omorganisationer"]
    assert after["forandringsresa"]["UID"] == may5["UID"]
    assert after["forandringsresa"].start == dt.datetime(2020, 5, 6, 9, 30, tzinfo=STOCKHOLM)
    assert after["forandringsresa"]["SEQUENCE"] > may5["SEQUENCE"]
    postponed = after["omorganisationer"]
    assert str(postponed["STATUS"]) == "CANCELLED"
    assert str(postponed["SUMMARY"]) == (
        "Uppskjuten tills vidare: Omorganisationer i offentlig sektor"
    )
    english = feed(server, "?lang=en")["omorganisationer"]
    assert str(english["SUMMARY"]) == (
        "Postponed until further notice: Omorganisationer i offentlig sektor"
    )


def test_an_unknown_network_has_no_feed(server: ServerProcess) -> None:
    """404 with a plain message, no trace."""
    answer = requests.get(server.http + "/networks/finns-inte/calendar.ics", timeout=10)
    assert answer.status_code == 404
    assert answer.text == "No such network.\n"
