"""Tests of the YAML programme file: the demo programme, valid details and errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from companion.domain.programme import ItemKind, Programme, Status
from companion.domain.programme_codec import programme_to_data
from companion.programme_file import ProgrammeError, parse_programme

ITEMS = "networks[0].seasons[0].events[0].sessions[0].items"

# A small valid file; the error tests change one line of it. Line numbers are in comments.
BASE = """\
networks:
  - id: net
    title: Nätverk
    seasons:
      - id: s
        title: Säsong
        events:
          - id: e
            title: Träff
            date: 2020-05-05
            start: "09:30"
            end: 12:30
            tracks:
              - id: tema-1
                title: Tema 1
            sessions:
              - id: session-a
                title: Session A
                track: tema-1
                items:
                  - id: valkommen
                    kind: talk
                    title: "  Välkommen  "
                    start: "09:30"
                    minutes: 10
                  - id: fika
                    kind: break
                    title: Fika
                    minutes: 20
"""
# Lines of BASE: 1 networks, 10 date, 11-12 event start/end, 17 session id, 19 track,
# 21 first item, 24 item start, 26 second item id, 27 kind, 28 title, 29 minutes.

# A second network whose session reuses the id of BASE's session (id at line 39).
SECOND_NETWORK = """\
  - id: net-2
    title: Nätverk 2
    seasons:
      - id: s
        title: Säsong
        events:
          - id: e
            title: Träff
            sessions:
              - id: session-a
                title: Kopia
"""


def variant(old: str, new: str) -> str:
    """BASE with the one occurrence of `old` replaced by `new`."""
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def parse_error(text: str) -> ProgrammeError:
    """The ProgrammeError raised by parsing `text` as test.yaml."""
    with pytest.raises(ProgrammeError) as info:
        parse_programme(text, "test.yaml")
    return info.value


# ------------------------------------------------------------------------- demo file


def test_demo_has_two_networks_and_expected_session_ids(demo: Programme) -> None:
    """The demo file holds the Altinget network and the conference with stable session ids."""
    assert [n.title for n in demo.networks] == [
        "Ledarskap och innovation i offentlig sektor",
        "Temasessioner - Session 2",
    ]
    assert [row[3].id for row in demo.sessions()] == [
        "ledarskap-omorganisationer",
        "ledarskap-2020-05-05",
        "ledarskap-2020-05-15",
        "ledarskap-2020-06",
        "tema-1-session-2",
        "tema-2-session-2",
        "tema-3-session-2",
        "tema-4-session-2",
    ]


def test_demo_network_has_moderator_contact_and_four_meetings(demo: Programme) -> None:
    """The network keeps its moderator, contact, audience and its four meetings in seed
    order."""
    network = demo.networks[0]
    assert network.audience == (
        "Nätverket riktar sig till chefer och ledare på både statlig-, regional- och kommunal nivå."
    )
    assert network.moderator is not None
    assert network.moderator.name == "Anki Udd"
    assert network.moderator.title == "ledarskapsexpert och ledarutvecklare"
    assert network.moderator.organisation == "Ledarna"
    assert network.contact == "natverk@altinget.se"
    assert network.description.startswith("Kommuner, stat och regioner står inför")
    (season,) = network.seasons
    assert season.title == "Våren 2020"
    assert [e.title for e in season.events] == [
        "Omorganisationer i offentlig sektor",
        "En myndighets förändringsresa",
        "Hållbarhet, transparent ledarskap och lönsamhet - i allmännyttan",
        "Digitalisering och ett sunt arbetsliv för chefer",
    ]
    for event in season.events:
        (session,) = event.sessions
        assert sum(item.minutes or 0 for item in session.items) == 180
        assert session.items[0].start == dt.time(9, 30)
        assert [i.kind for i in session.items].count(ItemKind.BREAK) == 1


def test_demo_scheduled_meetings_have_date_time_and_venue(demo: Programme) -> None:
    """The two May meetings are scheduled at Klarahuset 09:30-12:30 with their guests."""
    _, may5, may15, _ = demo.networks[0].seasons[0].events
    for event, day, guest in ((may5, 5, "Clas Olsson"), (may15, 15, "Chris Österlund")):
        assert event.status is Status.SCHEDULED
        assert event.date == dt.date(2020, 5, day)
        assert (event.start, event.end) == (dt.time(9, 30), dt.time(12, 30))
        assert event.venue == "Klarahuset, Drottninggatan 33"
        dialogue = [i for i in event.sessions[0].items if i.kind is ItemKind.DIALOGUE]
        assert [s.name for i in dialogue for s in i.speakers] == [guest]
    assert may15.sessions[0].items[1].speakers[0].organisation == "Botkyrkabyggen"


def test_demo_postponed_meeting(demo: Programme) -> None:
    """The first meeting is postponed without a date, with both guests and the OBS note."""
    event = demo.networks[0].seasons[0].events[0]
    assert event.status is Status.POSTPONED
    assert event.date is None
    assert event.note == "OBS: Denna träff är uppskjuten tills vidare. Mer info kommer."
    items = event.sessions[0].items
    assert {i.status for i in items} == {Status.POSTPONED}
    guests = [s.name for i in items if i.kind is ItemKind.DIALOGUE for s in i.speakers]
    assert guests == ["Daniel Ericsson", "Annika Härenstam"]
    assert items[3].title == "Förutsättningar för offentligt ledarskap - Chefios-projektet"


def test_demo_date_to_come_meeting(demo: Programme) -> None:
    """The June meeting has status date-to-come, no date and the seed's note."""
    event = demo.networks[0].seasons[0].events[3]
    assert event.status is Status.DATE_TO_COME
    assert event.date is None
    assert event.note == "(Juni 2020. Mer info och datum kommer snart)"
    assert {i.status for i in event.sessions[0].items} == {Status.DATE_TO_COME}


def test_demo_conference_has_four_parallel_sessions(demo: Programme) -> None:
    """The conference day has four tracks and four sessions starting 2019-01-10 09:30."""
    (event,) = demo.networks[1].seasons[0].events
    assert event.date == dt.date(2019, 1, 10)
    assert (event.start, event.end) == (dt.time(9, 30), dt.time(11, 45))
    assert [t.title for t in event.tracks] == [
        "Tema 1: Digitalisering",
        "Tema 2: Styrning & uthållighet",
        "Tema 3: Organisering & arbetsmiljö",
        "Tema 4: Leda för framtidens välfärd",
    ]
    assert [s.track for s in event.sessions] == [t.id for t in event.tracks]
    for session in event.sessions:
        assert session.title.startswith("Session 2: ")
        assert session.items[0].start == dt.time(9, 30)
        assert sum(item.minutes or 0 for item in session.items) == 135
    speakers = [s.name for session in event.sessions for i in session.items for s in i.speakers]
    assert speakers == ["Mats Eklöf", "Ruddi Porsgaard", "Lotta Dellve"]


def test_demo_keeps_swedish_text_intact(demo: Programme) -> None:
    """Swedish characters and punctuation survive parsing exactly as written."""
    texts = json.dumps(programme_to_data(demo), ensure_ascii=False)
    for word in ("Österlund", "förändringsresa", "Härenstam", "Linnéuniversitetet", "‘goda"):
        assert word in texts
    assert "Session 2: Verksamhetsutveckling och agilitet – hur gör man?" in texts


# --------------------------------------------------------------------- valid details


def test_base_parses_with_stripped_text_and_unquoted_time() -> None:
    """Text is stripped, an unquoted 12:30 is a time (not base 60) and defaults apply."""
    programme = parse_programme(BASE, "test.yaml")
    _, _, event, session = programme.sessions()[0]
    assert event.end == dt.time(12, 30)
    assert session.items[0].title == "Välkommen"
    assert session.items[1].start is None
    assert session.items[1].status is Status.SCHEDULED


# ---------------------------------------------------------------------------- errors


def test_bad_time() -> None:
    """An item start that is not HH:MM is reported at its line and path."""
    err = parse_error(
        variant('                    start: "09:30"', '                    start: "9.30"')
    )
    assert (err.filename, err.line, err.field) == ("test.yaml", 24, f"{ITEMS}[0].start")
    assert str(err) == f"test.yaml:24: {ITEMS}[0].start: expected a time HH:MM, got '9.30'"


def test_bad_minutes() -> None:
    """Minutes that are not a positive integer give the documented message."""
    err = parse_error(variant("minutes: 20", "minutes: abc"))
    assert str(err) == f"test.yaml:29: {ITEMS}[1].minutes: expected a positive integer, got 'abc'"
    assert isinstance(err, ValueError)
    assert parse_error(variant("minutes: 20", "minutes: 0")).line == 29


def test_bad_date() -> None:
    """An impossible date is reported at the event's date line."""
    err = parse_error(variant("date: 2020-05-05", "date: 2020-13-01"))
    assert (err.line, err.field) == (10, "networks[0].seasons[0].events[0].date")


def test_unknown_kind() -> None:
    """An item kind outside the enum is rejected with the allowed values."""
    err = parse_error(variant("kind: break", "kind: lunch"))
    assert (err.line, err.field) == (27, f"{ITEMS}[1].kind")
    assert "talk, dialogue, break, discussion" in err.message


def test_unknown_status() -> None:
    """A status outside the enum is rejected at its line."""
    err = parse_error(variant("minutes: 20", "minutes: 20\n                    status: cancelled"))
    assert (err.line, err.field) == (30, f"{ITEMS}[1].status")


def test_unknown_key() -> None:
    """A misspelt key is an error pointing at the key, with a suggestion."""
    err = parse_error(variant("title: Fika", "titel: Fika"))
    assert (err.line, err.field) == (28, f"{ITEMS}[1].titel")
    assert "did you mean 'title'" in err.message


def test_duplicate_session_id_across_file() -> None:
    """A session id used again in another network is rejected at the second use."""
    err = parse_error(BASE + SECOND_NETWORK)
    assert (err.line, err.field) == (39, "networks[1].seasons[0].events[0].sessions[0].id")
    assert "already used at line 17" in err.message


def test_duplicate_item_id_within_session() -> None:
    """Two items of one session cannot share an id."""
    err = parse_error(variant("- id: fika", "- id: valkommen"))
    assert (err.line, err.field) == (26, f"{ITEMS}[1].id")


def test_invalid_session_id() -> None:
    """A session id that does not match the slug pattern is rejected."""
    err = parse_error(variant("- id: session-a", "- id: Session_A"))
    assert (err.line, err.field) == (17, "networks[0].seasons[0].events[0].sessions[0].id")


def test_missing_title() -> None:
    """A session without a title is reported at the start of the session."""
    err = parse_error(variant("                title: Session A\n", ""))
    assert (err.line, err.field) == (17, "networks[0].seasons[0].events[0].sessions[0].title")
    assert err.message == "required field is missing"


def test_missing_kind() -> None:
    """An item without a kind is reported at the start of the item."""
    err = parse_error(variant("                    kind: break\n", ""))
    assert (err.line, err.field) == (26, f"{ITEMS}[1].kind")


def test_empty_title() -> None:
    """A title that is only whitespace is reported at its own line."""
    err = parse_error(variant("title: Fika", 'title: "  "'))
    assert (err.line, err.field) == (28, f"{ITEMS}[1].title")


def test_yaml_syntax_error() -> None:
    """A YAML syntax error becomes a ProgrammeError with the line and no field."""
    err = parse_error(variant("title: Fika", "title: Fika: paus"))
    assert (err.line, err.field) == (28, "")
    assert str(err).startswith("test.yaml:28: invalid YAML: ")


def test_unknown_track_reference() -> None:
    """A session's track must be the id of a track of its event."""
    err = parse_error(variant("track: tema-1", "track: tema-9"))
    assert (err.line, err.field) == (19, "networks[0].seasons[0].events[0].sessions[0].track")
    assert "tema-1" in err.message


def test_end_before_start() -> None:
    """An event that ends before it starts is rejected at its end."""
    err = parse_error(variant("end: 12:30", 'end: "08:00"'))
    assert (err.line, err.field) == (12, "networks[0].seasons[0].events[0].end")


def test_wrong_shape() -> None:
    """A list where a single value is expected is reported with the field's path."""
    err = parse_error(variant("track: tema-1", "track: [tema-1]"))
    assert (err.line, err.field) == (19, "networks[0].seasons[0].events[0].sessions[0].track")
    assert err.message == "expected a track id, got a list"


def test_empty_file() -> None:
    """An empty file is an error on line 1."""
    err = parse_error("# nothing here\n")
    assert (err.line, err.field) == (1, "networks")


def test_a_networks_retention_period_is_read_and_checked() -> None:
    """`retention_days` on a network: a whole number of days (0 keeps data); anything
    else is refused with its file, line and field."""
    kept = parse_programme(
        variant("    title: Nätverk\n", "    title: Nätverk\n    retention_days: 45\n"), "t.yaml"
    )
    assert kept.networks[0].retention_days == 45
    assert parse_programme(BASE, "t.yaml").networks[0].retention_days is None
    error = parse_error(
        variant("    title: Nätverk\n", "    title: Nätverk\n    retention_days: ett år\n")
    )
    assert str(error).startswith("test.yaml:4: networks[0].retention_days:"), str(error)
