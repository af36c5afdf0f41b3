"""Use cases of the programme editor: create, edit, reorder, delete and copy.

Structure edits (networks, seasons, events, tracks, sessions) read the stored programme
with its version, apply a pure edit (`companion.domain.programme_edits`) and save only
if nobody saved meanwhile, else read again and redo the edit: two organisers on two
processes never overwrite each other. Agenda edits are events of the session
(`agenda.revised`), so they reach every client live with the session's `seq`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from companion.backends.base import StoreUnavailable, VersionConflict
from companion.domain import access as access_rules
from companion.domain import programme_edits as edits
from companion.domain.errors import InvalidState, NotFound
from companion.domain.programme import AgendaItem, Event, Programme
from companion.domain.programme_codec import programme_from_data, programme_to_data
from companion.services.sessions import Outcome, SessionService, StoreError

log = logging.getLogger(__name__)

MAX_CONFLICTS = 50  # another process saved first: read again and redo the edit
WATCH_SECONDS = 0.5

# (actor, action, target, details) -> recorded; wired to the audit log of the organisers.
Audit = Callable[[str, str, str, dict[str, Any]], Awaitable[None]]
Edit = Callable[[Programme, set[str]], Programme]


async def _no_audit(actor: str, action: str, target: str, details: dict[str, Any]) -> None:
    """The web layer records programme changes in the network's audit (with the request)."""


class ProgrammeService:
    """Programme changes of one process, over the session service's store."""

    def __init__(self, sessions: SessionService, audit: Audit | None = None) -> None:
        self.sessions = sessions
        self.store = sessions.store
        self.audit = audit or _no_audit
        self._watch: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # edits of this process take turns; others may conflict

    # -- structure -------------------------------------------------------------------
    async def change(self, actor: str, action: str, target: str, edit: Edit) -> Programme:
        """Apply `edit` (programme with live agendas, reserved session ids -> new programme).

        Raises FormError / NotFound / InvalidState from the edit (nothing saved), or
        StoreError when the store fails or stays busy.
        """
        async with self._lock:
            return await self._change(actor, action, target, edit)

    async def _change(self, actor: str, action: str, target: str, edit: Edit) -> Programme:
        for attempt in range(MAX_CONFLICTS):
            if attempt:
                await asyncio.sleep(random.uniform(0, 0.01 * min(attempt, 10)))
            try:
                data, version = await self.store.load_programme_versioned()
                access = await self.store.load_access()
            except (StoreUnavailable, OSError) as exc:
                raise StoreError("The change could not be saved; please try again.") from exc
            stored = programme_from_data(data) if data else Programme()
            reserved = {a.session_id for a in access}
            live = {sid: state.agenda.items for sid, state in self.sessions.states.items()}
            edited = edit(edits.with_items(stored, live), reserved)
            # Sessions that exist keep their planned agenda in the store (their edits are
            # events); new sessions (a copied season) are stored with the agenda given.
            planned = {row[3].id: row[3].items for row in stored.sessions()}
            to_store = edits.with_items(
                edited, {sid: items for sid, items in planned.items() if sid in reserved}
            )
            codes = {a.join_code for a in access}
            fresh = []
            for sid in edits.session_ids(edited) - reserved:
                code = access_rules.new_join_code()
                while code in codes:
                    code = access_rules.new_join_code()
                codes.add(code)
                fresh.append(
                    access_rules.SessionAccess(sid, code, access_rules.new_moderator_token())
                )
            try:
                await self.store.replace_programme(programme_to_data(to_store), fresh, version)
            except VersionConflict:
                continue
            except (StoreUnavailable, OSError) as exc:
                raise StoreError("The change could not be saved; please try again.") from exc
            await self.sessions.reload_programme()
            await self.audit(actor, action, target, {})
            return self.sessions.programme
        raise StoreError("The programme is too busy right now; please try again.", "busy")

    def require_unused(self, session_ids: set[str]) -> None:
        """Refuse to delete sessions where people asked questions or answered polls."""
        for sid in session_ids:
            state = self.sessions.states.get(sid)
            if state is not None and (state.board.questions or state.polls.polls):
                raise InvalidState(
                    "Questions or polls belong to this session; it cannot be deleted.",
                    code="in_use",
                )

    async def save(
        self,
        actor: str,
        kind: str,
        where: edits.Where,
        thing_id: str | None,
        fields: Mapping[str, str],
    ) -> str:
        """Create or edit a network, season, event, track or session; returns its id."""
        saved: list[str] = []

        def edit(p: Programme, reserved: set[str]) -> Programme:
            new, new_id = edits.save(p, kind, where, thing_id, fields, reserved)
            saved[:] = [new_id]
            return new

        verb = "create" if thing_id is None else "edit"
        await self.change(actor, f"{kind}.{verb}", _target(where, thing_id or "+"), edit)
        return saved[0]

    async def remove(self, actor: str, kind: str, where: edits.Where, thing_id: str) -> None:
        """Delete a thing and what is under it; refused where people asked or answered."""

        def edit(p: Programme, reserved: set[str]) -> Programme:
            new = edits.remove(p, kind, where, thing_id)
            self.require_unused(edits.session_ids(p) - edits.session_ids(new))
            return new

        await self.change(actor, f"{kind}.delete", _target(where, thing_id), edit)

    async def reorder(
        self, actor: str, kind: str, where: edits.Where, thing_id: str, offset: int
    ) -> None:
        """Move a thing up or down among its siblings."""
        await self.change(
            actor,
            f"{kind}.move",
            _target(where, thing_id),
            lambda p, reserved: edits.reorder(p, kind, where, thing_id, offset),
        )

    # -- agendas ---------------------------------------------------------------------
    async def save_item(
        self, actor: str, session_id: str, item_id: str | None, fields: Mapping[str, str]
    ) -> Outcome:
        """Add or change an agenda item; clients see it at once."""
        found = self.sessions.programme.find_session(session_id)
        if found is None:
            raise NotFound("No such session.", code="unknown_session")
        verb = "create" if item_id is None else "edit"
        return await self.change_agenda(
            actor, f"item.{verb}", session_id, item_edit(fields, item_id, found[2])
        )

    async def remove_item(self, actor: str, session_id: str, item_id: str) -> Outcome:
        """Delete an agenda item (refused for the current one and one with questions)."""
        return await self.change_agenda(
            actor, "item.delete", session_id, lambda items: edits.drop(items, item_id, "item")
        )

    async def move_item(self, actor: str, session_id: str, item_id: str, offset: int) -> Outcome:
        """Move an agenda item up (-1) or down (+1)."""
        return await self.change_agenda(
            actor,
            "item.move",
            session_id,
            lambda items: edits.move(items, item_id, offset, "item"),
        )

    async def change_agenda(
        self,
        actor: str,
        action: str,
        session_id: str,
        edit: Callable[[tuple[AgendaItem, ...]], tuple[AgendaItem, ...]],
    ) -> Outcome:
        """Edit a session's agenda as an event of that session (live on every client)."""
        outcome = await self.sessions.revise_agenda(session_id, edit)
        await self.audit(actor, action, session_id, {"seq": outcome.event.seq})
        return outcome

    # -- copies ----------------------------------------------------------------------
    async def copy_season(
        self, actor: str, network_id: str, season_id: str, fields: Mapping[str, str]
    ) -> tuple[str, dict[str, str]]:
        """Copy a season: dates cleared, new sessions with new codes and moderator keys.

        Returns the new season's id and the new id of each copied session."""
        result: list[tuple[str, dict[str, str]]] = []

        def edit(p: Programme, reserved: set[str]) -> Programme:
            copied, new_id, new_ids = edits.copy_season(p, network_id, season_id, fields, reserved)
            result[:] = [(new_id, new_ids)]
            return copied

        await self.change(actor, "season.copy", f"{network_id}/{season_id}", edit)
        return result[0]

    # -- following other processes ---------------------------------------------------
    def start_watching(self, every: float = WATCH_SECONDS) -> None:
        """Reload the programme when another process saved a newer version."""
        self._watch = asyncio.get_running_loop().create_task(self._follow(every))

    async def stop_watching(self) -> None:
        """Stop following."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

    async def _follow(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                if await self.store.programme_version() > self.sessions.programme_version:
                    await self.sessions.reload_programme()
            except (StoreUnavailable, OSError) as exc:
                log.warning("programme watch: %s", exc)


def _target(where: edits.Where, thing_id: str) -> str:
    return "/".join(x for x in (where.network, where.season, where.event, thing_id) if x)


def item_edit(
    fields: Mapping[str, str], item_id: str | None, event: Event
) -> Callable[[tuple[AgendaItem, ...]], tuple[AgendaItem, ...]]:
    """An agenda edit that adds (item_id None) or changes one item from its form."""

    def edit(items: tuple[AgendaItem, ...]) -> tuple[AgendaItem, ...]:
        old = None
        if item_id is not None:
            old = next((i for i in items if i.id == item_id), None)
            if old is None:
                raise NotFound(f"No agenda item {item_id!r}.")
        return edits.put(items, edits.read_item(fields, {i.id for i in items}, old, event))

    return edit
