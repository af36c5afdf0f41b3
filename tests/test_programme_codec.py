"""Tests of the programme's stored data: an exact round trip that parses as a file too."""

from __future__ import annotations

import datetime as dt
import json

from companion.domain.programme import Programme
from companion.domain.programme_codec import programme_from_data, programme_to_data
from companion.programme_file import parse_programme
from tests.test_programme_file import BASE


def test_round_trip_of_demo_is_exact(demo: Programme) -> None:
    """Demo → JSON text → programme gives back an equal programme."""
    data = json.loads(json.dumps(programme_to_data(demo)))
    assert programme_from_data(data) == demo


def test_data_uses_iso_strings_and_parses_as_a_programme_file(demo: Programme) -> None:
    """The data holds ISO dates and HH:MM times and is itself a valid programme file."""
    data = programme_to_data(demo)
    event = data["networks"][0]["seasons"][0]["events"][1]
    assert (event["date"], event["start"], event["end"]) == ("2020-05-05", "09:30", "12:30")
    assert parse_programme(json.dumps(data, ensure_ascii=False), "stored.json") == demo


def test_round_trip_keeps_seconds_of_times() -> None:
    """Times with seconds, which files never hold, still round-trip exactly."""
    base = parse_programme(BASE, "test.yaml")
    data = programme_to_data(base)
    data["networks"][0]["seasons"][0]["events"][0]["start"] = "09:30:15"
    again = programme_from_data(data)
    assert again.networks[0].seasons[0].events[0].start == dt.time(9, 30, 15)
    assert programme_to_data(again) == data
