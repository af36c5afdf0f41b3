"""Import a schedule into the programme: a network's YAML file or a conference schedule.

One path for both: the structure (seasons, events, tracks, sessions) is saved as one
programme edit, so a refused file changes nothing; then each session that existed before
gets its new agenda as an `agenda.revised` event (live on every client), merged so that
nothing people asked, voted or answered goes (`companion.domain.schedule_merge`). A
session that disappears from the file while questions or polls belong to it refuses the
whole import.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from companion.domain import programme_edits as edits
from companion.domain.errors import DomainError, InvalidState
from companion.domain.programme import AgendaItem, Event, Network, Programme
from companion.domain.schedule_merge import merged_agenda
from companion.services.programme import ProgrammeService


class ScheduleRefused(DomainError):
    """The file is well-formed but cannot go into the programme (`params` fill the text)."""

    def __init__(self, message: str, code: str, **params: str) -> None:
        super().__init__(message, code)
        self.params = params


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did."""

    added: int  # new sessions
    revised: int  # existing sessions whose agenda changed
    removed: int  # sessions no longer in the schedule (nobody had asked anything there)


async def import_into(
    service: ProgrammeService,
    actor: str,
    action: str,
    target: str,
    scope: Callable[[Programme], set[str]],
    edit: Callable[[Programme], Programme],
) -> ImportSummary:
    """Apply `edit` (the programme -> with the imported part); `scope` names the session
    ids the import may replace (those of the network or event it imports into)."""
    agendas: dict[str, tuple[AgendaItem, ...]] = {}
    counts: dict[str, int] = {}

    def structure(p: Programme, reserved: set[str]) -> Programme:
        mine = scope(p)
        new = edit(p)
        ids = [row[3].id for row in new.sessions()]
        twice = [sid for sid, n in Counter(ids).items() if n > 1]
        if twice:
            raise ScheduleRefused(
                f"The session id {twice[0]!r} is used elsewhere in the programme.",
                "session_elsewhere",
                id=twice[0],
            )
        taken = (reserved - mine) & (set(ids) - edits.session_ids(p))
        if taken:
            sid = sorted(taken)[0]
            raise ScheduleRefused(
                f"The session id {sid!r} belonged to a deleted session.", "session_deleted", id=sid
            )
        gone = mine - set(ids)
        service.require_unused(gone)
        agendas.clear()
        agendas.update({row[3].id: row[3].items for row in new.sessions() if row[3].id in mine})
        counts.update(added=len(set(ids) - edits.session_ids(p)), removed=len(gone))
        return new

    await service.change(actor, action, target, structure)
    revised = 0
    for sid, items in agendas.items():
        state = service.sessions.states.get(sid)
        if state is None:
            continue

        def merge(
            old: tuple[AgendaItem, ...], items: tuple[AgendaItem, ...] = items, sid: str = sid
        ) -> tuple[AgendaItem, ...]:
            now = service.sessions.states[sid]
            in_use = {q.item_id for q in now.board.questions.values() if q.item_id}
            in_use |= {p.item_id for p in now.polls.polls.values() if p.item_id}
            return merged_agenda(old, items, now.agenda.current, in_use)

        if merge(state.agenda.items) == state.agenda.items:
            continue
        try:
            await service.change_agenda(actor, "item.edit", sid, merge)
        except InvalidState as exc:
            if exc.code != "no_change":  # another process made the same change first
                raise
        revised += 1
    return ImportSummary(counts.get("added", 0), revised, counts.get("removed", 0))


async def replace_network(service: ProgrammeService, actor: str, network: Network) -> ImportSummary:
    """A network's uploaded YAML file replaces the network (it must exist)."""

    def scope(p: Programme) -> set[str]:
        old = edits.network(p, network.id)
        return {s.id for season in old.seasons for e in season.events for s in e.sessions}

    def edit(p: Programme) -> Programme:
        edits.network(p, network.id)  # NotFound when it was deleted meanwhile
        return Programme(networks=tuple(network if n.id == network.id else n for n in p.networks))

    return await import_into(service, actor, "programme.import", network.id, scope, edit)


async def replace_event(
    service: ProgrammeService,
    actor: str,
    where: edits.Where,
    event_id: str,
    layout: Callable[[Event], Event],
) -> ImportSummary:
    """A conference schedule laid into one event: its tracks, sessions and agendas."""
    assert where.network is not None and where.season is not None
    network_id, season_id = where.network, where.season

    def scope(p: Programme) -> set[str]:
        return {s.id for s in edits.event(p, network_id, season_id, event_id).sessions}

    def edit(p: Programme) -> Programme:
        return edits.with_event(p, network_id, season_id, event_id, layout)

    target = f"{network_id}/{season_id}/{event_id}"
    return await import_into(service, actor, "event.schedule_import", target, scope, edit)
