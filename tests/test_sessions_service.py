"""Tests of the session service over a real SQLite store and the in-memory bus."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from companion.backends.base import StoreUnavailable
from companion.backends.memory import MemoryBus
from companion.backends.sqlite import SQLiteStore
from companion.cli import demo_programme_text
from companion.domain.access import CODE_ALPHABET, SessionAccess
from companion.domain.errors import DomainError, NotFound
from companion.domain.events import Event
from companion.domain.programme import Programme
from companion.programme_file import parse_programme
from companion.services.projection import Change, snapshot
from companion.services.sessions import SessionService

SID = "ledarskap-2020-05-05"


def demo_programme() -> Programme:
    return parse_programme(demo_programme_text(), "demo/programme.yaml")


class Clock:
    """A deterministic clock: every reading is one second later."""

    def __init__(self) -> None:
        self.ticks = itertools.count(1_700_000_000)

    def __call__(self) -> float:
        return float(next(self.ticks))


class FlakyStore:
    """The real store, except that appends (and optionally loads) can be made to fail."""

    shared = False

    def tail(self) -> None:
        return None

    def __init__(self, inner: SQLiteStore, error: type[Exception] = StoreUnavailable) -> None:
        self.inner = inner
        self.error = error
        self.fail_appends = False
        self.fail_loads = False
        self.fail_access_writes = False

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def save_programme(self, data: dict[str, Any], access: list[SessionAccess]) -> None:
        await self.inner.save_programme(data, access)

    async def load_programme(self) -> dict[str, Any] | None:
        return await self.inner.load_programme()

    async def load_programme_versioned(self) -> tuple[dict[str, Any] | None, int]:
        return await self.inner.load_programme_versioned()

    async def load_access(self) -> list[SessionAccess]:
        return await self.inner.load_access()

    async def update_access(self, access: SessionAccess) -> None:
        if self.fail_access_writes:
            raise self.error("disk full")
        await self.inner.update_access(access)

    async def append(
        self, events: list[Event], deadline: float | None = None, fence: int | None = None
    ) -> None:
        if self.fail_appends:
            raise self.error("disk full")
        await self.inner.append(events, deadline, fence)

    async def load_events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        if self.fail_loads:
            raise self.error("disk gone")
        return await self.inner.load_events(session_id, after_seq)


@pytest.fixture
def published() -> list[Change]:
    return []


@pytest.fixture
async def service(store: SQLiteStore, published: list[Change]) -> SessionService:
    svc = SessionService(store, MemoryBus(), clock=Clock())
    svc.bus.subscribe(published.append)
    await svc.import_programme(demo_programme())
    await svc.load()
    return svc


async def fresh_service(store: Any) -> SessionService:
    svc = SessionService(store, MemoryBus(), clock=Clock())
    await svc.import_programme(demo_programme())
    await svc.load()
    return svc


def code_of(service: SessionService, session_id: str = SID) -> str:
    return service.access[session_id].join_code


# -- import and load -----------------------------------------------------------------


async def test_every_demo_session_gets_a_code_and_a_moderator_token(
    service: SessionService,
) -> None:
    """Each session has a unique 6-character unambiguous code and a long secret."""
    session_ids = [s.id for _, _, _, s in demo_programme().sessions()]
    assert sorted(service.access) == sorted(session_ids)
    assert sorted(service.states) == sorted(session_ids)
    codes = [a.join_code for a in service.access.values()]
    assert len(set(codes)) == len(codes)
    for access in service.access.values():
        assert len(access.join_code) == 6
        assert set(access.join_code) <= set(CODE_ALPHABET)
        assert not set(access.join_code) & set("01ILO")
        assert len(access.moderator_token) >= 40
    assert len({a.moderator_token for a in service.access.values()}) == len(codes)


async def test_reimport_keeps_codes_and_tokens(service: SessionService) -> None:
    """Importing the programme again does not change any session's secrets."""
    before = dict(service.access)
    again = await service.import_programme(demo_programme())
    await service.load()
    assert {a.session_id: a for a in again} == before
    assert service.access == before


async def test_session_by_code_is_case_insensitive_and_ignores_spaces(
    service: SessionService,
) -> None:
    """Typed codes match in lower case, with spaces or a dash in the middle."""
    code = code_of(service)
    for typed in (code, code.lower(), f"  {code[:3]} {code[3:]} ", f"{code[:3]}-{code[3:]}"):
        assert service.session_by_code(typed) == SID


@pytest.mark.parametrize("typed", ["", "ABCDE", "ABCDEFG", "O0I1L0", None, 123456])
async def test_unknown_or_impossible_codes_are_unknown_code(
    service: SessionService, typed: object
) -> None:
    """Codes that match no session raise NotFound with code unknown_code."""
    with pytest.raises(NotFound) as exc_info:
        service.session_by_code(typed)
    assert exc_info.value.code == "unknown_code"


async def test_unknown_session_and_action_are_refused(service: SessionService) -> None:
    """Commands name an existing session and a known moderator action."""
    with pytest.raises(NotFound) as exc_info:
        await service.ask("no-such-session", "p1", "room", "Hej?", None)
    assert exc_info.value.code == "unknown_session"
    with pytest.raises(DomainError) as exc_info:
        await service.moderate(SID, "question.delete", {"question": 1})
    assert exc_info.value.code == "unknown_type"


async def test_check_moderator_is_the_one_moderator_check(service: SessionService) -> None:
    """Only the session's own moderator token passes; everything else is `forbidden`."""
    token = service.access[SID].moderator_token
    other = next(s for s in service.access if s != SID)
    assert service.check_moderator(SID, token) == SID
    assert service.is_moderator(SID, token)
    wrong: list[object] = [
        None,
        "",
        42,
        [token],
        token[:-1],
        token + "x",
        token.upper(),
        " " + token,
        "\ud800" + token[1:],
        service.access[other].moderator_token,
    ]
    for bad in wrong:
        assert not service.is_moderator(SID, bad), bad
        with pytest.raises(DomainError) as exc_info:
            service.check_moderator(SID, bad)
        assert exc_info.value.code == "forbidden"
    for session in ("no-such-session", None, 7, ["x"]):
        assert not service.is_moderator(session, token)
        with pytest.raises(NotFound) as exc_info:
            service.check_moderator(session, token)
        assert exc_info.value.code == "unknown_session"


# -- commands, commit and publish -----------------------------------------------------


async def test_commands_publish_changes_in_seq_order_after_commit(
    service: SessionService, published: list[Change], db_path: Path
) -> None:
    """Every published change is already in the database, and seqs arrive in order."""
    stored_when_published: list[tuple[int, int]] = []

    def check_committed(change: Change) -> None:
        with sqlite3.connect(db_path) as db:
            row = db.execute(
                "SELECT MAX(seq) FROM events WHERE session_id = ?", (change.session_id,)
            ).fetchone()
        stored_when_published.append((change.seq, row[0] or 0))

    service.bus.subscribe(check_committed)
    asked = await service.ask(SID, "p1", "room", "  Hur mäter ni förändring?  ", "Åsa")
    assert asked.event.seq == 1
    assert asked.event.data["text"] == "Hur mäter ni förändring?"
    assert asked.change.moderator is not None
    assert asked.change.moderator["questions"][0]["author"] == "p1"
    voted = await service.vote(SID, "p2", 1)
    assert voted.change.vote == (1, 1)
    await service.moderate(SID, "question.highlight", {"question": 1})
    await service.moderate(SID, "agenda.next", {})
    # A burst of concurrent votes from different participants.
    await asyncio.gather(*(service.vote(SID, f"v{i}", 1) for i in range(40)))

    assert [c.seq for c in published] == list(range(1, 45))
    assert all(stored >= seq for seq, stored in stored_when_published)
    assert published[-1].vote == (1, 41)
    assert service.state(SID).seq == 44


async def test_a_refused_command_publishes_and_stores_nothing(
    service: SessionService, published: list[Change], store: SQLiteStore
) -> None:
    """A domain error leaves the state, the log and the bus untouched."""
    with pytest.raises(DomainError) as exc_info:
        await service.ask(SID, "p1", "room", "   ", None)
    assert exc_info.value.code == "text_empty"
    with pytest.raises(NotFound):
        await service.vote(SID, "p1", 7)
    assert published == []
    assert service.state(SID).seq == 0
    assert await store.load_events(SID) == []


async def test_questions_are_filed_under_the_current_item(service: SessionService) -> None:
    """A question asked after agenda.next belongs to the item that became current."""
    await service.moderate(SID, "agenda.next", {})
    outcome = await service.ask(SID, "p1", "remote", "Fråga", None)
    assert outcome.event.data["item_id"] == "valkommen"
    assert outcome.event.data["where"] == "remote"


async def test_premoderation_through_the_service_holds_questions(
    service: SessionService, published: list[Change]
) -> None:
    """With premoderation on, an asked question reaches moderators only."""
    await service.moderate(SID, "session.premoderation", {"on": True})
    outcome = await service.ask(SID, "p1", "room", "Hemlig?", None)
    assert outcome.change.public is None
    assert outcome.change.moderator is not None
    assert outcome.change.moderator["questions"][0]["status"] == "pending"
    assert published[-1] == outcome.change


# -- rebuild -------------------------------------------------------------------------


async def run_a_meeting(service: SessionService) -> None:
    await service.moderate(SID, "agenda.next", {})
    await service.ask(SID, "p1", "room", "Första frågan", "Anna")
    await service.ask(SID, "p2", "remote", "Andra frågan", None)
    await service.ask(SID, "p3", "remote", "Första frågan igen", None)
    for participant in ("p2", "p3", "p4"):
        await service.vote(SID, participant, 1)
    await service.vote(SID, "p4", 3)
    await service.vote(SID, "p5", 3)
    await service.moderate(SID, "question.merge", {"question": 3, "into": 1})
    await service.moderate(SID, "question.highlight", {"question": 2})
    await service.moderate(SID, "question.edit", {"question": 2, "text": "Andra frågan, ändrad"})
    await service.moderate(SID, "timer.extend", {"minutes": 5})
    await service.moderate(SID, "agenda.next", {})
    await service.moderate(SID, "break.start", {"minutes": 15, "message": "Fika"})


async def test_a_new_service_over_the_same_file_rebuilds_identical_state(
    service: SessionService, db_path: Path
) -> None:
    """After a restart the questions, votes and agenda are exactly as before."""
    await run_a_meeting(service)
    before = service.state(SID)
    await service.store.close()

    reopened = SQLiteStore(db_path)
    await reopened.open()
    try:
        restarted = SessionService(reopened, MemoryBus())
        await restarted.load()
        after = restarted.state(SID)
        assert after.seq == before.seq == 15
        assert after.board.questions == before.board.questions
        assert after.board.questions[1].votes == 4
        assert after.board.highlighted == before.board.highlighted == 2
        assert after.agenda == before.agenda
        assert after.agenda.current == "samtal-olsson"
        assert restarted.access == service.access
    finally:
        await reopened.close()


async def test_prime_receives_the_same_changes_that_were_published(
    service: SessionService, published: list[Change]
) -> None:
    """On load, `prime` gets each recent event's change, equal to what went out live."""
    await run_a_meeting(service)
    primed: list[Change] = []
    restarted = SessionService(service.store, MemoryBus())
    await restarted.load(prime=primed.append)
    assert [c.seq for c in primed] == list(range(1, 16))
    assert {c.session_id for c in primed} == {SID}
    assert primed == published


# -- store failures ------------------------------------------------------------------


@pytest.mark.parametrize("error", [StoreUnavailable, OSError])
async def test_a_failed_append_is_reported_and_rolled_back(
    store: SQLiteStore, error: type[Exception]
) -> None:
    """When the store refuses, the caller gets store_unavailable and memory forgets it."""
    flaky = FlakyStore(store, error)
    service = await fresh_service(flaky)
    published: list[Change] = []
    service.bus.subscribe(published.append)
    await service.ask(SID, "p1", "room", "Sparad", None)

    flaky.fail_appends = True
    with pytest.raises(DomainError) as exc_info:
        await service.ask(SID, "p2", "room", "Försvinner", None)
    assert exc_info.value.code == "store_unavailable"
    state = service.state(SID)
    assert state.seq == 1
    assert [q.text for q in state.board.questions.values()] == ["Sparad"]
    assert [c.seq for c in published] == [1]

    flaky.fail_appends = False
    retried = await service.ask(SID, "p2", "room", "Nytt försök", None)
    assert (retried.event.seq, retried.event.data["id"]) == (2, 2)
    assert [e.data["text"] for e in await store.load_events(SID)] == ["Sparad", "Nytt försök"]


async def test_a_failed_vote_is_not_counted(store: SQLiteStore) -> None:
    """A vote that could not be stored does not stay in the count."""
    flaky = FlakyStore(store)
    service = await fresh_service(flaky)
    await service.ask(SID, "p1", "room", "Fråga", None)
    flaky.fail_appends = True
    with pytest.raises(DomainError):
        await service.vote(SID, "p2", 1)
    assert service.state(SID).board.questions[1].votes == 0


async def test_concurrent_commands_after_a_failed_one_are_all_refused(
    store: SQLiteStore,
) -> None:
    """Commands that arrive while a failed one is being undone wait for the rebuild, then succeed on the stored state."""
    flaky = FlakyStore(store)
    service = await fresh_service(flaky)
    await service.ask(SID, "p1", "room", "Fråga", None)
    flaky.fail_appends = True
    first = asyncio.create_task(service.vote(SID, "p2", 1))
    await asyncio.sleep(0)  # the first vote is applied and its append has failed
    flaky.fail_appends = False
    results = await asyncio.gather(
        first, *(service.vote(SID, f"p{i}", 1) for i in range(3, 6)), return_exceptions=True
    )
    assert getattr(results[0], "code", None) == "store_unavailable"
    assert [r.event.seq for r in results[1:]] == [2, 3, 4]
    assert [e.seq for e in await store.load_events(SID)] == [1, 2, 3, 4]
    state = service.state(SID)
    assert state.seq == 4
    assert state.board.questions[1].voters == {"p3", "p4", "p5"}  # p2's refused vote is gone


async def test_memory_never_keeps_a_change_the_store_refused(store: SQLiteStore) -> None:
    """While the store can be neither written nor read, commands are refused; once it is back, the refused change is gone."""
    flaky = FlakyStore(store)
    service = await fresh_service(flaky)
    flaky.fail_appends = flaky.fail_loads = True
    with pytest.raises(DomainError) as exc_info:
        await service.ask(SID, "p1", "room", "Aldrig sparad", None)
    assert exc_info.value.code == "store_unavailable"
    flaky.fail_appends = False
    with pytest.raises(DomainError) as again:
        await service.ask(SID, "p1", "room", "Inte heller", None)
    assert again.value.code == "store_unavailable"
    flaky.fail_loads = False
    outcome = await service.ask(SID, "p1", "room", "Nu går det", None)
    assert outcome.event.seq == 1
    texts = [q.text for q in service.state(SID).board.questions.values()]
    assert texts == ["Nu går det"]


# -- secrets: rotation and a new join code are one event each --------------------------


async def test_a_rotation_that_cannot_be_stored_changes_nothing(store: SQLiteStore) -> None:
    """When the rotation's append fails, the old key still opens the console, here and after
    a reload, and the store holds neither a new key nor a rotation event."""
    flaky = FlakyStore(store)
    service = await fresh_service(flaky)
    old = service.access[SID].moderator_token
    flaky.fail_appends = True
    with pytest.raises(DomainError) as refused:
        await service.rotate_moderator_token(SID)
    assert refused.value.code == "store_unavailable"
    assert service.is_moderator(SID, old)
    stored = {a.session_id: a.moderator_token for a in await store.load_access()}
    assert stored[SID] == old
    assert await store.load_events(SID) == []
    reloaded = SessionService(store, MemoryBus())
    await reloaded.load()
    assert reloaded.is_moderator(SID, old)


async def test_a_new_code_that_cannot_be_stored_changes_nothing(store: SQLiteStore) -> None:
    """When the new code's append fails, the old code still opens the session everywhere."""
    flaky = FlakyStore(store)
    service = await fresh_service(flaky)
    old = service.access[SID].join_code
    flaky.fail_appends = True
    with pytest.raises(DomainError):
        await service.regenerate_join_code(SID)
    assert service.session_by_code(old) == SID
    assert service.state(SID).join_code == old
    assert {a.session_id: a.join_code for a in await store.load_access()}[SID] == old
    reloaded = SessionService(store, MemoryBus())
    await reloaded.load()
    assert reloaded.session_by_code(old) == SID


async def test_the_rotation_event_alone_carries_the_new_secrets(store: SQLiteStore) -> None:
    """The log is the truth: with the access table left behind (its write failed), a reload
    takes the new key and code from the events; the old ones open nothing."""
    flaky = FlakyStore(store)
    service = await fresh_service(flaky)
    old = service.access[SID]
    flaky.fail_access_writes = True
    token = await service.rotate_moderator_token(SID)
    code = await service.regenerate_join_code(SID)
    assert service.is_moderator(SID, token) and not service.is_moderator(SID, old.moderator_token)
    reloaded = SessionService(store, MemoryBus())
    await reloaded.load()
    assert reloaded.is_moderator(SID, token)
    assert not reloaded.is_moderator(SID, old.moderator_token)
    assert reloaded.session_by_code(code) == SID
    with pytest.raises(NotFound):
        reloaded.session_by_code(old.join_code)
    assert reloaded.state(SID).key_version == 1


async def test_a_rotation_reaches_clients_without_the_new_key(
    service: SessionService, published: list[Change]
) -> None:
    """What clients get of a rotation (live, replayed or in a snapshot) never holds the key."""
    token = await service.rotate_moderator_token(SID)
    assert published and published[-1].revoke_moderators
    restarted = SessionService(service.store, MemoryBus())
    primed: list[Change] = []
    await restarted.load(prime=primed.append)
    for change in [*published, *primed]:
        assert token not in json.dumps([change.public, change.moderator])
    assert token not in json.dumps(snapshot(restarted.state(SID), True, None))


# -- request keys: a retry under the same key is not made twice ------------------------


async def test_a_keyed_retry_gets_the_first_answer_and_changes_nothing(
    service: SessionService, published: list[Change]
) -> None:
    """An ask, a vote and a moderator action sent again with their keys are answered with
    the first change, and nothing new is stored or published; a restart remembers the keys."""
    first = await service.ask(SID, "p1", "room", "Hur mäter ni innovation?", None, key="a-1")
    again = await service.ask(SID, "p1", "room", "Hur mäter ni innovation?", None, key="a-1")
    assert again.event == first.event
    vote = await service.vote(SID, "p2", 1, key="v-1")
    retry = await service.vote(SID, "p2", 1, key="v-1")
    assert retry.event == vote.event and retry.change.vote == (1, 1)
    moved = await service.moderate(SID, "agenda.next", {"key": "m-1"})
    assert (await service.moderate(SID, "agenda.next", {"key": "m-1"})).event == moved.event
    assert [c.seq for c in published] == [1, 2, 3]
    restarted = SessionService(service.store, MemoryBus())
    await restarted.load()
    assert (await restarted.vote(SID, "p2", 1, key="v-1")).event == vote.event
    assert len(await service.store.load_events(SID)) == 3
    assert restarted.state(SID).board.questions[1].voters == {"p2"}


async def test_keys_belong_to_their_sender(service: SessionService) -> None:
    """Another participant's change under the same key is a change of its own, and so is
    another kind of change (its answer must have its own shape)."""
    await service.ask(SID, "p1", "room", "Första?", None, key="k")
    other = await service.ask(SID, "p2", "room", "Andra?", None, key="k")
    assert other.event.data["id"] == 2
    assert (await service.vote(SID, "p1", 1, key="k")).event.type == "vote.cast"


@pytest.mark.parametrize("key", ["", "x" * 65, "mellan slag", "å", 7, ["k"], "\ud800"])
async def test_a_malformed_key_is_refused_before_anything_is_decided(
    service: SessionService, key: object
) -> None:
    """A key that is not 1-64 letters, digits or . _ : - is `bad_message`; nothing stored."""
    with pytest.raises(DomainError) as refused:
        await service.ask(SID, "p1", "room", "Fråga?", None, key=key)
    assert refused.value.code == "bad_message"
    assert await service.store.load_events(SID) == []


async def test_a_key_whose_change_failed_is_free_again(store: SQLiteStore) -> None:
    """A change the store refused leaves its key unused: the retry is decided and stored."""
    flaky = FlakyStore(store)
    service = await fresh_service(flaky)
    flaky.fail_appends = True
    with pytest.raises(DomainError):
        await service.ask(SID, "p1", "room", "Sparas inte?", None, key="a-1")
    flaky.fail_appends = False
    stored = await service.ask(SID, "p1", "room", "Sparas inte?", None, key="a-1")
    assert stored.event.seq == 1
    assert [e.data["text"] for e in await store.load_events(SID)] == ["Sparas inte?"]
