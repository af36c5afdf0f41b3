"""What a re-imported schedule makes of an agenda people already used."""

from __future__ import annotations

from companion.domain.programme import AgendaItem, ItemKind, Status
from companion.domain.schedule_merge import merged_agenda


def item(item_id: str, title: str = "", status: Status = Status.SCHEDULED) -> AgendaItem:
    return AgendaItem(id=item_id, kind=ItemKind.TALK, title=title or item_id, status=status)


OLD = (item("a"), item("b"), item("c"), item("d"))


def test_the_new_schedule_wins_where_nobody_asked_anything() -> None:
    new = (item("a", "Ny titel"), item("e"))
    assert merged_agenda(OLD, new, None, set()) == new


def test_an_item_with_questions_stays_postponed_and_the_current_one_stays_as_is() -> None:
    """b has questions (kept, postponed, after the new items); c runs now (kept as is)."""
    new = (item("a"), item("e"))
    merged = merged_agenda(OLD, new, "c", {"b"})
    assert merged == (item("a"), item("e"), item("b", status=Status.POSTPONED), item("c"))


def test_the_running_item_keeps_its_status_when_the_schedule_postpones_it() -> None:
    new = (item("a", "Ändrad", Status.POSTPONED), item("b"))
    assert merged_agenda(OLD, new, "a", set())[0] == item("a", "Ändrad")
