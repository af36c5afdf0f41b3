"""One contract, every store: the embedded SQLite store and the Redis store behave alike."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from companion.backends.base import (
    PresenceShare,
    SeqConflict,
    StoreUnavailable,
    TooLate,
    VersionConflict,
)
from companion.backends.redis import RedisStore
from companion.backends.sqlite import SQLiteStore
from companion.domain.access import SessionAccess
from companion.domain.events import Event
from companion.domain.members import NetworkMember
from companion.domain.organisers import AuditEntry, OneTimeLink, Organiser, Signin
from tests.redisproc import RedisProcess

SID = "tema-1-session-2"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One real redis-server for this module."""
    server = RedisProcess(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def flush(server: RedisProcess) -> None:
    """Empty the Redis database between tests."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as s:
        s.sendall(b"FLUSHALL\r\n")
        assert s.recv(16).startswith(b"+OK")


@pytest.fixture(params=["sqlite", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SQLiteStore | RedisStore]:
    """An open store of each kind, empty."""
    if request.param == "sqlite":
        s: SQLiteStore | RedisStore = SQLiteStore(tmp_path / "c.db")
    else:
        server = request.getfixturevalue("redis_server")
        flush(server)
        s = RedisStore(server.url)
    await s.open()
    yield s
    await s.close()


def ev(seq: int, kind: str = "question.asked", **data: object) -> Event:
    """An event of the test session."""
    return Event(SID, seq, kind, {"n": seq, **data}, 1_700_000_000.0 + seq)


async def test_programme_and_access_round_trip(store) -> None:
    """The programme comes back as saved (Swedish intact) and secrets are kept on re-save."""
    data = {
        "networks": [
            {"id": "n", "title": "Ledarskap och innovation i offentlig sektor – Österlund"}
        ]
    }
    first = SessionAccess(SID, "K7PM2Q", "secret-1")
    await store.save_programme(data, [first])
    assert await store.load_programme() == data
    await store.save_programme({"networks": []}, [SessionAccess(SID, "ZZZZZZ", "other")])
    assert await store.load_programme() == {"networks": []}
    assert await store.load_access() == [first]


async def test_events_come_back_in_order_after_a_seq(store) -> None:
    """Appended events load in order, filtered by after_seq, with data and time intact."""
    await store.append([ev(1, text="Hur gör man?")])
    await store.append([ev(2), ev(3)])
    events = await store.load_events(SID)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0] == ev(1, text="Hur gör man?")
    assert [e.seq for e in await store.load_events(SID, after_seq=2)] == [3]
    assert await store.load_events("other-session") == []


async def test_an_append_that_does_not_follow_the_log_is_refused(store) -> None:
    """A gap or a repeated seq raises SeqConflict naming the last stored seq, and stores nothing."""
    await store.append([ev(1)])
    with pytest.raises(SeqConflict) as gap:
        await store.append([ev(3)])
    assert gap.value.last_seq == 1
    with pytest.raises(SeqConflict):
        await store.append([ev(1)])
    assert [e.seq for e in await store.load_events(SID)] == [1]


async def test_racing_writers_of_the_same_seq_one_wins(store) -> None:
    """When two writers append the same next seq at once, exactly one succeeds."""
    await store.append([ev(1)])
    results = await asyncio.gather(
        *(store.append([ev(2, writer=i)]) for i in range(5)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, SeqConflict) for r in results if r is not None)
    assert len(await store.load_events(SID, after_seq=1)) == 1


async def test_a_burst_of_appends_all_land(store) -> None:
    """Hundreds of appends to many sessions at once are all stored, each session in order."""

    async def writer(session: str) -> None:
        for seq in range(1, 21):
            await store.append([Event(session, seq, "vote.cast", {"id": 1}, float(seq))])

    sessions = [f"s-{i}" for i in range(30)]
    await asyncio.gather(*(writer(s) for s in sessions))
    for session in sessions:
        assert [e.seq for e in await store.load_events(session)] == list(range(1, 21))


async def test_data_survives_reopening(store, request: pytest.FixtureRequest) -> None:
    """Closing and opening the store again (Redis: restarting the server) keeps everything."""
    await store.save_programme({"networks": []}, [SessionAccess(SID, "K7PM2Q", "s")])
    await store.append([ev(1), ev(2)])
    await store.close()
    if isinstance(store, RedisStore):
        server: RedisProcess = request.getfixturevalue("redis_server")
        server.stop()
        server.start()
    await store.open()
    assert [e.seq for e in await store.load_events(SID)] == [1, 2]
    assert await store.load_access() == [SessionAccess(SID, "K7PM2Q", "s")]


async def test_organiser_accounts_are_unique_by_email(store) -> None:
    """An account comes back by id and email; a second account with the same email is refused."""
    anna = Organiser("o1", "anna@kommun.se", "Anna Öberg", "$argon2id$x", 1.0)
    assert await store.add_organiser(anna)
    assert not await store.add_organiser(Organiser("o2", "anna@kommun.se"))
    assert await store.get_organiser("o2") is None
    assert await store.find_organiser("anna@kommun.se") == anna
    changed = Organiser("o1", "anna@kommun.se", "Anna Öberg", "$argon2id$y", 1.0, epoch=1)
    await store.save_organiser(changed)
    assert await store.get_organiser("o1") == changed
    assert await store.find_organiser("nobody@kommun.se") is None
    assert await store.add_organiser(Organiser("o0", "aaron@kommun.se"))
    assert [o.id for o in await store.list_organisers()] == ["o0", "o1"]


async def test_memberships_both_ways(store) -> None:
    """Memberships are listed per organiser and per network; adding twice and removing are safe."""
    await store.add_membership("net-a", "o1")
    await store.add_membership("net-a", "o1")
    await store.add_membership("net-b", "o1")
    await store.add_membership("net-a", "o2")
    assert await store.memberships("o1") == {"net-a", "net-b"}
    assert await store.network_members("net-a") == {"o1", "o2"}
    await store.remove_membership("net-a", "o1")
    await store.remove_membership("net-a", "o1")
    assert await store.memberships("o1") == {"net-b"}
    assert await store.network_members("net-a") == {"o2"}
    assert await store.memberships("nobody") == set()


async def test_a_one_time_link_works_once_and_not_after_expiry(store) -> None:
    """A link is taken once (even by racing takers); an expired one is never given out."""
    now = time.time()
    link = OneTimeLink("h1", "invite", now + 60, "", "b@x.se", "net-a", "o1")
    await store.put_link(link)
    results = await asyncio.gather(*(store.take_link("h1", now) for _ in range(5)))
    assert [r for r in results if r is not None] == [link]
    await store.put_link(OneTimeLink("h2", "signin", now + 60, "o1"))
    assert await store.take_link("h2", now + 61) is None
    assert await store.take_link("h2", now) is None  # an expired take still used it up
    assert await store.take_link("missing", now) is None


async def test_signin_sessions_expire_and_end(store) -> None:
    """A sign-in session is found until it expires or is deleted."""
    now = time.time()
    signin = Signin("s1", "o1", "csrf-token", now + 3600, 2)
    await store.put_signin(signin)
    assert await store.get_signin("s1", now) == signin
    assert await store.get_signin("s1", now + 3601) is None
    await store.delete_signin("s1")
    assert await store.get_signin("s1", now) is None


async def test_failures_count_in_a_window(store) -> None:
    """Failures count up within the window, start again after it, and can be cleared."""
    now = time.time()
    assert [await store.count_failure("k", 60, now + i) for i in range(3)] == [1, 2, 3]
    assert await store.count_failure("k", 60, now + 61) == 1
    racing = await asyncio.gather(*(store.count_failure("r", 60, now) for _ in range(10)))
    assert sorted(racing) == list(range(1, 11))
    await store.clear_failures("k")
    assert await store.count_failure("k", 60, now + 62) == 1


async def test_audit_newest_first_per_network(store) -> None:
    """Audit entries come back per network, newest first, limited, text intact."""
    for i in range(5):
        await store.append_audit(AuditEntry("net-a", 100.0 + i, "anna@kommun.se", "x", f"å {i}"))
    await store.append_audit(AuditEntry("net-b", 1.0, "b@x.se", "y"))
    entries = await store.load_audit("net-a", limit=3)
    assert [e.detail for e in entries] == ["å 4", "å 3", "å 2"]
    assert await store.load_audit("net-b") == [AuditEntry("net-b", 1.0, "b@x.se", "y")]
    assert await store.load_audit("net-c") == []


async def test_redis_down_is_a_clear_error_not_a_hang(redis_server: RedisProcess) -> None:
    """While Redis is down an append fails with StoreUnavailable within seconds; it works again after."""
    flush(redis_server)
    store = RedisStore(redis_server.url)
    await store.open()
    try:
        await store.append([ev(1)])
        redis_server.kill()
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.append([ev(2)])
        assert time.monotonic() - started < 6
        redis_server.start()
        await store.append([ev(2)])
        assert [e.seq for e in await store.load_events(SID)] == [1, 2]
    finally:
        await store.close()
        if redis_server.proc is None or redis_server.proc.poll() is not None:
            redis_server.start()


async def test_programme_versions_count_every_save(store) -> None:
    """Each save (import or edit) adds one to the version, read with the programme."""
    assert await store.load_programme_versioned() == (None, 0)
    assert await store.programme_version() == 0
    await store.save_programme({"networks": []}, [])
    data = {"networks": [{"id": "n", "title": "Våren 2020 – Klarahuset"}]}
    assert await store.replace_programme(data, [], expected_version=1) == 2
    assert await store.load_programme_versioned() == (data, 2)
    assert await store.programme_version() == 2


async def test_replace_programme_refuses_a_stale_version_and_changes_nothing(store) -> None:
    """Two editors read version 1; the second save is refused and stores nothing of its own."""
    await store.save_programme({"networks": []}, [])
    first = {"networks": [{"id": "a", "title": "A"}]}
    second = {"networks": [{"id": "b", "title": "B"}]}
    await store.replace_programme(first, [SessionAccess("a-1", "AAAAAA", "t-a")], 1)
    with pytest.raises(VersionConflict) as exc_info:
        await store.replace_programme(second, [SessionAccess("b-1", "BBBBBB", "t-b")], 1)
    assert exc_info.value.version == 2
    assert await store.load_programme_versioned() == (first, 2)
    assert await store.load_access() == [SessionAccess("a-1", "AAAAAA", "t-a")]


async def test_replace_programme_keeps_existing_secrets(store) -> None:
    """Saving again with a session's id never replaces its join code or moderator token."""
    kept = SessionAccess(SID, "K7PM2Q", "secret-1")
    await store.replace_programme({"networks": []}, [kept], 0)
    await store.replace_programme(
        {"networks": []},
        [SessionAccess(SID, "ZZZZZZ", "other"), SessionAccess("x-1", "XXXXXX", "x")],
        1,
    )
    assert sorted(await store.load_access(), key=lambda a: a.session_id) == [
        kept,
        SessionAccess("x-1", "XXXXXX", "x"),
    ]


async def test_concurrent_programme_saves_one_wins(store) -> None:
    """Ten saves racing from the same version: exactly one commits."""
    await store.save_programme({"networks": []}, [])
    results = await asyncio.gather(
        *(store.replace_programme({"networks": [], "n": n}, [], 1) for n in range(10)),
        return_exceptions=True,
    )
    assert sum(1 for r in results if r == 2) == 1
    assert sum(1 for r in results if isinstance(r, VersionConflict)) == 9


async def test_the_access_copy_takes_new_secrets(store) -> None:
    """update_access replaces one session's code and token; the others stay."""
    await store.save_programme(
        {"networks": []}, [SessionAccess(SID, "K7PM2Q", "s"), SessionAccess("b", "B2B2B2", "t")]
    )
    await store.update_access(SessionAccess(SID, "Z9Z9Z9", "s2"))
    assert sorted(await store.load_access(), key=lambda a: a.session_id) == [
        SessionAccess("b", "B2B2B2", "t"),
        SessionAccess(SID, "Z9Z9Z9", "s2"),
    ]


async def test_an_append_past_its_deadline_stores_nothing(store) -> None:
    """A deadline already passed is refused with TooLate (a StoreUnavailable); one ahead is not."""
    await store.append([ev(1)], deadline=time.monotonic() + 5)
    with pytest.raises(TooLate):
        await store.append([ev(2)], deadline=time.monotonic() - 0.001)
    assert [e.seq for e in await store.load_events(SID)] == [1]
    await store.append([ev(2)], deadline=time.monotonic() + 5)
    assert [e.seq for e in await store.load_events(SID)] == [1, 2]


async def test_an_append_that_waits_out_its_deadline_in_a_hung_redis_is_refused_there(
    redis_server: RedisProcess,
) -> None:
    """Redis hangs (SIGSTOP) with an append in its socket; the caller gives up at its
    deadline. When Redis runs again it refuses the append: nothing lands after the caller
    was told it failed."""
    flush(redis_server)
    store = RedisStore(redis_server.url)
    await store.open()
    try:
        await store.append([ev(1)], deadline=time.monotonic() + 5)
        redis_server.pause()
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(
                    store.append([ev(2)], deadline=time.monotonic() + 0.3), timeout=0.6
                )
            await asyncio.sleep(0.6)  # hung for longer than the deadline
        finally:
            redis_server.resume()
        await asyncio.sleep(0.3)
        assert [e.seq for e in await store.load_events(SID)] == [1]
        await store.append([ev(2)], deadline=time.monotonic() + 5)
        assert [e.seq for e in await store.load_events(SID)] == [1, 2]
    finally:
        await store.close()


async def test_a_forwarded_fence_is_kept_as_given(redis_server: RedisProcess) -> None:
    """A command forwarded to the session's writer carries its fence in Redis's clock, as
    the forwarding process fixed it: Redis refuses the append once that fence has passed,
    however far ahead the writer's own deadline is (nothing recomputes the fence)."""
    flush(redis_server)
    store = RedisStore(redis_server.url)
    await store.open()
    try:
        seconds, micros = await store._client().time()
        now = int(seconds) * 1_000_000 + int(micros)
        with pytest.raises(TooLate):
            await store.append([ev(1)], deadline=time.monotonic() + 5, fence=now - 1000)
        assert await store.load_events(SID) == []
        await store.append([ev(1)], deadline=time.monotonic() + 5, fence=now + 5_000_000)
        assert [e.seq for e in await store.load_events(SID)] == [1]
    finally:
        await store.close()


async def test_a_dead_redis_is_answered_at_once(redis_server: RedisProcess) -> None:
    """Redis shut down (connections refused): an append fails within a fraction of a
    second, not after a series of retries, so commands queued behind it fail fast too."""
    flush(redis_server)
    store = RedisStore(redis_server.url)
    await store.open()
    try:
        await store.append([ev(1)])
        redis_server.stop()
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await store.append([ev(2)], deadline=time.monotonic() + 0.8)
            assert time.monotonic() - started < 0.3
    finally:
        await store.close()
        redis_server.start()


async def test_a_lease_holds_while_renewed_and_lapses_after_its_ttl(store) -> None:
    """renew_lease / lease_owner: the owner while renewed, another may take it over, nobody once the time is up."""
    assert await store.lease_owner("stream:s1") is None
    await store.renew_lease("stream:s1", "process-a", 0.5)
    assert await store.lease_owner("stream:s1") == "process-a"
    assert await store.lease_owner("stream:s2") is None
    await asyncio.sleep(0.3)
    await store.renew_lease("stream:s1", "process-a", 0.5)
    await asyncio.sleep(0.3)
    assert await store.lease_owner("stream:s1") == "process-a"  # renewed: still held
    await store.renew_lease("stream:s1", "process-b", 0.5)
    assert await store.lease_owner("stream:s1") == "process-b"
    await asyncio.sleep(0.7)
    assert await store.lease_owner("stream:s1") is None


async def test_a_shared_store_has_a_presence_board_and_a_lone_one_none(store) -> None:
    """Presence is shared where other processes append to the same logs, and only there:
    the board takes a process's part and gives the session's presence back."""
    board = store.presence_board("process-a")
    if not store.shared:
        assert board is None
        return
    assert board is not None
    share = PresenceShare(SID, True, {"p1": "r1", "p2": "m2"}, 1, 0, 0)
    (merged,) = await board.share([share])
    assert (merged.room, merged.remote, merged.moderators, merged.leader) == (1, 1, 1, True)


async def test_replace_log_rewrites_in_place_only_if_the_log_still_ends_there(store) -> None:
    """A log is replaced whole with the same seqs and one new event after them, or not at
    all when another writer appended first; appends then go on after the new event, and
    what was replaced is not loaded again."""
    await store.append([ev(1, name="Anna Andersson"), ev(2, name="Anna Andersson")])
    scrubbed = [ev(1, name=None), ev(2, name=None), ev(3, "session.scrubbed", scope="all")]
    with pytest.raises(SeqConflict) as refused:
        await store.replace_log(scrubbed, expected_last=1)
    assert refused.value.last_seq == 2
    assert [e.data["name"] for e in await store.load_events(SID)] == ["Anna Andersson"] * 2
    await store.replace_log(scrubbed, expected_last=2)
    await store.append([ev(4)])
    loaded = await store.load_events(SID)
    assert [e.seq for e in loaded] == [1, 2, 3, 4]
    assert [e.data.get("name") for e in loaded[:2]] == [None, None]
    assert loaded[:3] == scrubbed
    assert [e.seq for e in await store.load_events(SID, 2)] == [3, 4]
    with pytest.raises(SeqConflict):
        await store.append([ev(4)])
    await store.compact()


def member(n: int, network: str = "net", token_hash: str = "") -> NetworkMember:
    """A member of a test network."""
    return NetworkMember(
        f"{n:016x}", network, f"Medlem {n}", f"m{n}@kommun.se", "Kommunen", token_hash=token_hash
    )


async def test_members_round_trip_per_network(store) -> None:
    await store.save_members([member(1), member(2)])
    await store.save_members([member(3, "other")])
    assert sorted(m.id for m in await store.load_members("net")) == [member(1).id, member(2).id]
    assert await store.get_member("net", member(3).id) is None
    assert await store.get_member("other", member(3).id) == member(3, "other")
    changed = replace(member(1), name="Åsa Öberg-Ländström", organisation="Region Östergötland")
    await store.save_members([changed])
    assert await store.get_member("net", changed.id) == changed


async def test_a_members_link_opens_only_while_it_is_the_current_one(store) -> None:
    """A new link's digest replaces the old one in the index; revoking and removing
    the member leave nothing that opens."""
    await store.save_members([member(1, token_hash="a" * 64)])
    assert (await store.member_by_token("a" * 64)).id == member(1).id
    await store.save_members([member(1, token_hash="b" * 64)])
    assert await store.member_by_token("a" * 64) is None
    assert (await store.member_by_token("b" * 64)).token_hash == "b" * 64
    await store.save_members([member(1)])  # revoked: no link
    assert await store.member_by_token("b" * 64) is None
    assert await store.member_by_token("") is None
    await store.save_members([member(2, token_hash="c" * 64)])
    assert await store.delete_member("net", member(2).id)
    assert not await store.delete_member("net", member(2).id)
    assert await store.member_by_token("c" * 64) is None
    assert await store.load_members("net") == [member(1)]


async def test_members_survive_reopening(store, request: pytest.FixtureRequest) -> None:
    await store.save_members([member(1, token_hash="d" * 64)])
    await store.close()
    await store.open()
    assert (await store.member_by_token("d" * 64)).name == "Medlem 1"
