"""Conference schedules (pretalx/frab JSON and XML) read and laid into one event."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from companion.conference_schedule import ScheduleError, laid_out, parse_schedule
from companion.domain.programme import Event

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EVENT = Event(id="dag-1", title="Välfärdskonferensen", venue="Folkets hus")


def read(name: str, text: str | None = None):  # type: ignore[no-untyped-def]
    return parse_schedule(text or (FIXTURES / name).read_text("utf-8"), name)


def test_json_and_xml_of_the_same_schedule_lay_out_alike() -> None:
    """pretalx's schedule.json and frab's schedule.xml: the same day, sessions and items;
    the event keeps its title and venue."""
    from_json = laid_out(EVENT, read("schedule.json"))
    assert from_json == laid_out(EVENT, read("schedule.xml"))
    assert (from_json.title, from_json.venue) == ("Välfärdskonferensen", "Folkets hus")
    assert [s.id for s in from_json.sessions] == ["dag-1-sal-a", "dag-1-sal-b", "dag-1-sal-c"]


def test_offsets_become_stockholm_wall_clock_times() -> None:
    """+01:00 in January is 09:30 in Stockholm; the same +01:00 instant in June is 10:30
    (summer time); a talk with only `start` is read in the conference's time zone."""
    data = json.loads((FIXTURES / "schedule.json").read_text("utf-8"))
    day = data["schedule"]["conference"]["days"][0]
    day["date"] = "2019-06-10"
    day["rooms"] = {"Sal A": [day["rooms"]["Sal A"][0], dict(day["rooms"]["Sal A"][1])]}
    day["rooms"]["Sal A"][0]["date"] = "2019-06-10T09:30:00+01:00"
    del day["rooms"]["Sal A"][1]["date"]  # start 10:40 on the day, Europe/Stockholm
    event = laid_out(EVENT, read("schedule.json", json.dumps(data)))
    items = event.sessions[0].items
    assert [i.start for i in items] == [dt.time(10, 30), dt.time(10, 40)]
    assert event.date == dt.date(2019, 6, 10)


def test_a_day_that_is_not_the_meetings_is_refused() -> None:
    data = json.loads((FIXTURES / "schedule.json").read_text("utf-8"))
    days = data["schedule"]["conference"]["days"]
    days.append({**days[0], "date": "2019-01-11"})
    with pytest.raises(ScheduleError, match="the schedule has 2019-01-10, 2019-01-11"):
        laid_out(EVENT, read("schedule.json", json.dumps(data)))
    dated = laid_out(
        Event(id="dag-1", title="x", date=dt.date(2019, 1, 10)),
        read("schedule.json", json.dumps(data)),
    )
    assert dated.date == dt.date(2019, 1, 10)


def test_a_reimport_keeps_a_members_only_session_members_only() -> None:
    """Reading the schedule again never opens a session an organiser closed to members."""
    first = laid_out(EVENT, read("schedule.json"))
    closed = dataclasses.replace(first.sessions[1], members_only=True)
    event = dataclasses.replace(first, sessions=(first.sessions[0], closed, *first.sessions[2:]))
    again = laid_out(event, read("schedule.xml"))
    assert [s.members_only for s in again.sessions] == [s.id == closed.id for s in again.sessions]
