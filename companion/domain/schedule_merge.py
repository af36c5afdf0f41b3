"""An imported schedule meets a session that may already have run: what its agenda becomes.

A re-imported programme or conference schedule replaces a session's planned agenda, but
never what people asked, voted or answered: an item that questions or polls belong to
stays even when the new schedule no longer has it (marked postponed, so the programme
stops promising it), and the current item stays as it is while it runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from companion.domain.programme import AgendaItem, Status


def merged_agenda(
    old: tuple[AgendaItem, ...],
    new: tuple[AgendaItem, ...],
    current: str | None,
    in_use: Collection[str],
) -> tuple[AgendaItem, ...]:
    """The new agenda, with the old items that must not go appended after it."""
    old_by_id = {item.id: item for item in old}
    merged: list[AgendaItem] = []
    for item in new:
        before = old_by_id.get(item.id)
        if item.id == current and before is not None and item.status != before.status:
            item = dataclasses.replace(item, status=before.status)  # it is running now
        merged.append(item)
    kept = {item.id for item in new}
    for item in old:
        if item.id in kept:
            continue
        if item.id == current:
            merged.append(item)
        elif item.id in in_use:
            merged.append(dataclasses.replace(item, status=Status.POSTPONED))
    return tuple(merged)
