"""The programme rules shared by the YAML import and the editor: one verdict, one message."""

from __future__ import annotations

import datetime as dt

import pytest

from companion.domain import programme_rules as rules
from companion.domain.programme import ItemKind, Status
from companion.domain.programme_rules import RuleError
from companion.programme_file import ProgrammeError, parse_programme
from tests.test_programme_file import BASE, ITEMS


def code_of(check, *args: object) -> str:
    with pytest.raises(RuleError) as exc_info:
        check(*args)
    return exc_info.value.code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("09:30", dt.time(9, 30)),
        ("09.30", dt.time(9, 30)),
        (" 23:59 ", dt.time(23, 59)),
        ("", None),
    ],
)
def test_times_read_as_written_in_swedish_or_iso(value: str, expected: dt.time | None) -> None:
    assert rules.time(value) == expected


@pytest.mark.parametrize("value", ["9.30", "24:00", "09:60", "0930", "kl 9", "09:30:00"])
def test_invalid_times_are_refused(value: str) -> None:
    with pytest.raises(RuleError) as exc_info:
        rules.time(value)
    assert exc_info.value.code == "invalid_time"
    assert exc_info.value.message == f"expected a time HH:MM, got {value!r}"


def test_text_limits_and_required() -> None:
    assert rules.text("  Fika  ", 10) == "Fika"
    assert code_of(rules.text, "   ", 10, True) == "required"
    with pytest.raises(RuleError) as exc_info:
        rules.text("x" * 11, 10)
    assert (exc_info.value.code, exc_info.value.params) == ("too_long", {"limit": 10, "length": 11})
    assert code_of(rules.text, "a\ud800", 10) == "invalid_text"


def test_ids_duplicates_and_patterns() -> None:
    assert rules.ident("tema-1", "track", {"tema-2"}) == "tema-1"
    assert code_of(rules.ident, "tema-1", "track", {"tema-1"}) == "duplicate_id"
    assert code_of(rules.ident, "-x", "track") == "invalid_id"
    assert code_of(rules.ident, "Ab", "session", (), rules.SESSION_ID_RE) == "invalid_session_id"
    assert code_of(rules.ident, "a" * 81, "item") == "invalid_id"


def test_slugs_fold_swedish_letters_and_stay_unique() -> None:
    assert rules.slug("Hållbarhet och lönsamhet – i allmännyttan") == (
        "hallbarhet-och-lonsamhet-i-allmannyttan"
    )
    assert rules.slug("Fika", {"fika", "fika-2"}) == "fika-3"
    assert rules.SESSION_ID_RE.match(rules.slug("!", session=True))


def test_minutes_dates_and_choices() -> None:
    assert rules.minutes("75") == 75
    for bad in ("0", "-5", "1.5", "abc", str(24 * 60 + 1)):
        assert code_of(rules.minutes, bad) == "invalid_minutes"
    assert rules.date("2020-05-05") == dt.date(2020, 5, 5)
    assert code_of(rules.date, "2020-02-30") == "invalid_date"
    assert code_of(rules.date, "5 maj 2020") == "invalid_date"
    assert rules.choice("", Status, Status.SCHEDULED) is Status.SCHEDULED
    assert rules.choice("break", ItemKind) is ItemKind.BREAK
    assert code_of(rules.choice, "fika", ItemKind) == "invalid_choice"
    assert code_of(rules.choice, "", ItemKind) == "required"


def test_cross_field_rules() -> None:
    nine, half_past_twelve = dt.time(9, 30), dt.time(12, 30)
    rules.end_after_start(nine, half_past_twelve)
    assert code_of(rules.end_after_start, half_past_twelve, nine) == "end_before_start"
    rules.item_within_event(dt.time(12, 20), 10, half_past_twelve)
    with pytest.raises(RuleError) as exc_info:
        rules.item_within_event(dt.time(12, 20), 11, half_past_twelve)
    assert exc_info.value.message == "the item ends at 12:31, after the event ends at 12:30"
    assert code_of(rules.item_within_event, dt.time(23, 0), 120, dt.time(23, 30)) == (
        "item_after_event"
    )
    rules.item_within_event(None, 500, half_past_twelve)  # no start: nothing to check
    assert rules.known_track("tema-1", ["tema-1"]) == "tema-1"
    assert code_of(rules.known_track, "tema-9", ["tema-1"]) == "unknown_track"


def test_import_refuses_an_item_that_ends_after_the_event() -> None:
    """The YAML import applies the new rule with the same message as the editor."""
    text = BASE.replace(
        '    start: "09:30"\n                    minutes: 10',
        '    start: "12:25"\n                    minutes: 10',
    )
    assert text != BASE
    with pytest.raises(ProgrammeError) as exc_info:
        parse_programme(text, "test.yaml")
    assert str(exc_info.value) == (
        f"test.yaml:25: {ITEMS}[0].minutes: the item ends at 12:35, after the event ends at 12:30"
    )


def test_import_refuses_a_too_long_title() -> None:
    text = BASE.replace("title: Session A", "title: " + "Å" * 201)
    with pytest.raises(ProgrammeError) as exc_info:
        parse_programme(text, "test.yaml")
    assert str(exc_info.value) == (
        "test.yaml:18: networks[0].seasons[0].events[0].sessions[0].title: "
        "at most 200 characters, got 201"
    )
