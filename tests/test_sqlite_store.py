"""Tests of the embedded SQLite store: schema, programme, secrets, event log, group commit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from companion.backends.base import StoreUnavailable
from companion.backends.sqlite import SQLiteStore
from companion.cli import demo_programme_text
from companion.domain.access import SessionAccess
from companion.domain.events import Event
from companion.domain.programme_codec import programme_to_data
from companion.programme_file import parse_programme

SID = "ledarskap-2020-05-05"


def event(seq: int, session_id: str = SID, **data: object) -> Event:
    return Event(session_id, seq, "vote.cast", {"id": 1, "participant": f"p{seq}", **data}, seq / 2)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """In a directory that does not exist yet: the store makes it."""
    return tmp_path / "data" / "companion.db"


async def test_open_creates_the_schema_in_wal_mode(store: SQLiteStore, db_path: Path) -> None:
    """Opening creates the directory, the three tables and switches to WAL."""
    assert db_path.exists()
    with sqlite3.connect(db_path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"programme", "session_access", "events"} <= tables
    assert mode == "wal"


async def test_empty_store_has_no_programme_access_or_events(store: SQLiteStore) -> None:
    """A new store answers None and empty lists."""
    assert await store.load_programme() is None
    assert await store.load_access() == []
    assert await store.load_events(SID) == []


async def test_programme_round_trip_keeps_swedish_characters(
    store: SQLiteStore, db_path: Path
) -> None:
    """The demo programme comes back equal, and is stored as readable UTF-8."""
    data = programme_to_data(parse_programme(demo_programme_text(), "demo/programme.yaml"))
    await store.save_programme(data, [])
    assert await store.load_programme() == data
    with sqlite3.connect(db_path) as db:
        raw = db.execute("SELECT data FROM programme").fetchone()[0]
    assert "Välkommen" in raw and "Härenstam" in raw


async def test_saving_again_replaces_the_programme(store: SQLiteStore) -> None:
    """There is one programme; a new save replaces the old one."""
    await store.save_programme({"networks": [], "v": "första"}, [])
    await store.save_programme({"networks": [], "v": "andra – ÅÄÖ åäö"}, [])
    assert await store.load_programme() == {"networks": [], "v": "andra – ÅÄÖ åäö"}


async def test_resaving_keeps_existing_secrets_and_adds_new_ones(store: SQLiteStore) -> None:
    """Access rows are insert-or-ignore: a known session keeps its code and token."""
    original = SessionAccess("s-1", "ABC234", "token-one")
    await store.save_programme({"networks": []}, [original])
    await store.save_programme(
        {"networks": []},
        [SessionAccess("s-1", "ZZZ999", "token-replaced"), SessionAccess("s-2", "DEF567", "t2")],
    )
    access = {a.session_id: a for a in await store.load_access()}
    assert access == {"s-1": original, "s-2": SessionAccess("s-2", "DEF567", "t2")}


async def test_appended_events_load_in_seq_order(store: SQLiteStore) -> None:
    """Events come back in seq order with their type, data and time."""
    await store.append([event(1), event(2)])
    await store.append([event(3, text="Vad kostar det? – Åsa")])
    loaded = await store.load_events(SID)
    assert [e.seq for e in loaded] == [1, 2, 3]
    assert loaded[2] == event(3, text="Vad kostar det? – Åsa")


async def test_load_events_after_seq_and_per_session(store: SQLiteStore) -> None:
    """after_seq skips earlier events; other sessions' events are not returned."""
    await store.append([event(i) for i in range(1, 6)])
    await store.append([event(1, session_id="other"), event(2, session_id="other")])
    assert [e.seq for e in await store.load_events(SID, after_seq=3)] == [4, 5]
    assert await store.load_events(SID, after_seq=5) == []
    assert [e.session_id for e in await store.load_events("other")] == ["other", "other"]


async def test_data_survives_close_and_reopen(db_path: Path) -> None:
    """A new store on the same file sees the programme, secrets and events."""
    first = SQLiteStore(db_path)
    await first.open()
    access = SessionAccess(SID, "K7PM2Q", "secret")
    await first.save_programme({"networks": [], "note": "Fika"}, [access])
    await first.append([event(1), event(2)])
    await first.close()

    second = SQLiteStore(db_path)
    await second.open()
    try:
        assert await second.load_programme() == {"networks": [], "note": "Fika"}
        assert await second.load_access() == [access]
        assert [e.seq for e in await second.load_events(SID)] == [1, 2]
        # The log continues where it stopped, and a gap is still refused.
        await second.append([event(3)])
        with pytest.raises(StoreUnavailable):
            await second.append([event(5)])
    finally:
        await second.close()


async def test_many_concurrent_appends_all_land(store: SQLiteStore) -> None:
    """500 appends in flight at once (group commit) are all stored, in order."""
    tasks = [asyncio.create_task(store.append([event(seq)])) for seq in range(1, 501)]
    await asyncio.gather(*tasks)
    loaded = await store.load_events(SID)
    assert [e.seq for e in loaded] == list(range(1, 501))
    assert loaded[499].data["participant"] == "p500"


@pytest.mark.parametrize("bad_seq", [1, 3, 0])
async def test_append_out_of_sequence_is_refused_and_not_stored(
    store: SQLiteStore, bad_seq: int
) -> None:
    """An append whose seq does not follow the stored max raises and stores nothing."""
    await store.append([event(1)])
    with pytest.raises(StoreUnavailable):
        await store.append([event(bad_seq, marker="bad")])
    loaded = await store.load_events(SID)
    assert [(e.seq, "marker" in e.data) for e in loaded] == [(1, False)]


async def test_a_refused_batch_stores_none_of_its_events(store: SQLiteStore) -> None:
    """A multi-event append with a gap in the middle is refused as a whole."""
    with pytest.raises(StoreUnavailable):
        await store.append([event(1), event(2), event(4)])
    assert await store.load_events(SID) == []
    await store.append([event(1)])
    assert [e.seq for e in await store.load_events(SID)] == [1]


async def test_a_refused_append_does_not_hold_back_its_neighbours(store: SQLiteStore) -> None:
    """In concurrent appends, a bad one fails alone and the good ones commit."""
    results = await asyncio.gather(
        store.append([event(1)]),
        store.append([event(3)]),
        store.append([event(2)]),
        store.append([event(1, session_id="other")]),
        return_exceptions=True,
    )
    assert [isinstance(r, StoreUnavailable) for r in results] == [False, True, False, False]
    assert [e.seq for e in await store.load_events(SID)] == [1, 2]
    assert len(await store.load_events("other")) == 1


async def test_using_the_store_after_close_raises(db_path: Path) -> None:
    """Every operation of a closed store raises StoreUnavailable."""
    s = SQLiteStore(db_path)
    await s.open()
    await s.close()
    with pytest.raises(StoreUnavailable):
        await s.append([event(1)])
    with pytest.raises(StoreUnavailable):
        await s.load_events(SID)
    with pytest.raises(StoreUnavailable):
        await s.load_programme()
    with pytest.raises(StoreUnavailable):
        await s.save_programme({}, [])
    await s.close()  # closing twice is harmless


async def test_unencodable_text_does_not_stop_the_store(store: SQLiteStore) -> None:
    """An event whose text SQLite cannot encode is refused alone, leaves nothing behind, and
    the store takes the same seq with good text right after."""
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(store.append([event(1, text="\ud800")]), 3)
    assert await asyncio.wait_for(store.load_events(SID), 3) == []
    await asyncio.wait_for(store.append([event(1, text="Går det nu?")]), 3)
    assert await store.load_events(SID) == [event(1, text="Går det nu?")]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_open_of_an_unusable_path_fails_instead_of_hanging(tmp_path: Path) -> None:
    """Opening a path that is a directory raises StoreUnavailable promptly."""
    s = SQLiteStore(tmp_path)
    try:
        with pytest.raises(StoreUnavailable):
            await asyncio.wait_for(s.open(), 3)
    finally:
        await s.close()


async def test_append_during_close_does_not_hang(db_path: Path) -> None:
    """An append that races with close() is answered, not left waiting, and its answer is
    true: stored means the event is in the file, refused means nothing is; either way the
    log goes on without a gap."""
    s = SQLiteStore(db_path)
    await s.open()
    closing = asyncio.create_task(s.close())
    await asyncio.sleep(0)  # close() has queued its stop marker and waits for the thread
    try:
        await asyncio.wait_for(s.append([event(1)]), 3)
        stored = True
    except StoreUnavailable:
        stored = False
    finally:
        await closing
    reopened = SQLiteStore(db_path)
    await reopened.open()
    try:
        assert await reopened.load_events(SID) == ([event(1)] if stored else [])
        following = 2 if stored else 1
        await reopened.append([event(following)])
        assert [e.seq for e in await reopened.load_events(SID)] == list(range(1, following + 1))
    finally:
        await reopened.close()
