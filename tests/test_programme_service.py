"""The programme editor's service over real stores: structure edits, live agenda edits
as session events, copying a season, and two processes editing at once."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from companion.backends.memory import MemoryBus
from companion.backends.sqlite import SQLiteStore
from companion.domain import events as ev
from companion.domain.errors import InvalidState, NotFound
from companion.domain.programme import Status
from companion.domain.programme_edits import FormError, Where
from companion.services.programme import ProgrammeService
from companion.services.projection import Change
from companion.services.sessions import SessionService

NET = Where()
ACTOR = "organiser@example.se"


async def make(store: SQLiteStore, published: list[Change] | None = None) -> ProgrammeService:
    sessions = SessionService(store, MemoryBus())
    if published is not None:
        sessions.bus.subscribe(published.append)
    await sessions.load()
    return ProgrammeService(sessions)


@pytest.fixture
async def programme(store: SQLiteStore) -> ProgrammeService:
    return await make(store)


async def build_meeting(svc: ProgrammeService) -> tuple[Where, str]:
    """The network, its spring season, one morning meeting with a session and an agenda."""
    await svc.save(ACTOR, "network", NET, None, {"id": "ledarskap", "title": "Ledarskap"})
    w = Where("ledarskap")
    await svc.save(ACTOR, "season", w, None, {"id": "varen-2020", "title": "Våren 2020"})
    w = Where("ledarskap", "varen-2020")
    await svc.save(
        ACTOR,
        "event",
        w,
        None,
        {
            "id": "forandringsresa",
            "title": "En myndighets förändringsresa",
            "date": "2020-05-05",
            "start": "09.30",
            "end": "12:30",
            "venue": "Klarahuset, Drottninggatan 33",
        },
    )
    w = Where("ledarskap", "varen-2020", "forandringsresa")
    sid = await svc.save(ACTOR, "session", w, None, {"title": "En myndighets förändringsresa"})
    for fields in (
        {
            "id": "valkommen",
            "kind": "talk",
            "title": "Välkommen",
            "start": "09:30",
            "minutes": "10",
        },
        {
            "id": "samtal",
            "kind": "dialogue",
            "title": "Samtal med Clas Olsson",
            "start": "09:40",
            "minutes": "75",
            "speaker_0_name": "Clas Olsson",
            "speaker_0_title": "generaldirektör",
            "speaker_0_organisation": "Ekonomistyrningsverket",
        },
        {"id": "fika", "kind": "break", "title": "Fika", "start": "10:55", "minutes": "20"},
    ):
        await svc.save_item(ACTOR, sid, None, fields)
    return w, sid


async def test_a_meeting_built_through_the_service_is_stored_and_reloads(
    store: SQLiteStore, programme: ProgrammeService
) -> None:
    """What the editor builds survives a restart: structure, agenda, code and token."""
    _, sid = await build_meeting(programme)
    assert sid == "en-myndighets-forandringsresa"
    access = programme.sessions.access[sid]
    again = await make(store)
    found = again.sessions.programme.find_session(sid)
    assert found is not None
    network, season, event, session = found
    assert (network.id, season.title, event.start, event.venue) == (
        "ledarskap",
        "Våren 2020",
        dt.time(9, 30),
        "Klarahuset, Drottninggatan 33",
    )
    assert [i.id for i in session.items] == ["valkommen", "samtal", "fika"]
    assert session.items[1].speakers[0].organisation == "Ekonomistyrningsverket"
    assert again.sessions.access[sid] == access
    assert again.sessions.session_by_code(access.join_code) == sid


@pytest.mark.parametrize(
    ("kind", "fields", "field", "code"),
    [
        ("event", {"title": "Träff", "start": "9:30"}, "start", "invalid_time"),
        ("event", {"title": "Träff", "start": "12:30", "end": "09:30"}, "end", "end_before_start"),
        ("event", {"id": "forandringsresa", "title": "Träff"}, "id", "duplicate_id"),
        ("event", {"title": "T" * 201}, "title", "too_long"),
        ("event", {"title": "Träff", "status": "live"}, "status", "invalid_choice"),
        ("event", {"title": ""}, "title", "required"),
        ("session", {"title": "Tema", "track": "tema-9"}, "track", "unknown_track"),
        ("session", {"id": "en-myndighets-forandringsresa", "title": "S"}, "id", "duplicate_id"),
        ("session", {"id": "Stora Bokstäver", "title": "S"}, "id", "invalid_session_id"),
    ],
)
async def test_bad_structure_input_gets_a_field_error_and_changes_nothing(
    store: SQLiteStore,
    programme: ProgrammeService,
    kind: str,
    fields: dict[str, str],
    field: str,
    code: str,
) -> None:
    w, _ = await build_meeting(programme)
    where = Where("ledarskap", "varen-2020") if kind == "event" else w
    before = await store.load_programme_versioned()
    with pytest.raises(FormError) as exc_info:
        await programme.save(ACTOR, kind, where, None, fields)
    assert exc_info.value.errors[field].code == code
    assert await store.load_programme_versioned() == before


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        (
            {"kind": "talk", "title": "Sent", "start": "12:20", "minutes": "15"},
            "minutes",
            "item_after_event",
        ),
        ({"kind": "talk", "title": "Fel", "start": "25:00"}, "start", "invalid_time"),
        ({"id": "fika", "kind": "talk", "title": "Igen"}, "id", "duplicate_id"),
        ({"kind": "fika", "title": "Fika"}, "kind", "invalid_choice"),
        ({"kind": "talk", "title": "x", "speaker_0_name": "N" * 201}, "speaker_0_name", "too_long"),
        ({"kind": "talk", "title": "x", "speaker_1_title": "docent"}, "speaker_1_name", "required"),
    ],
)
async def test_bad_item_input_gets_a_field_error_and_no_event(
    programme: ProgrammeService, fields: dict[str, str], field: str, code: str
) -> None:
    _, sid = await build_meeting(programme)
    seq = programme.sessions.state(sid).seq
    with pytest.raises(FormError) as exc_info:
        await programme.save_item(ACTOR, sid, None, fields)
    assert exc_info.value.errors[field].code == code
    assert programme.sessions.state(sid).seq == seq


async def test_an_event_cannot_end_before_its_items_do(programme: ProgrammeService) -> None:
    """Moving the end of a meeting to 11.00 while fika ends 11.15 is refused beside `end`."""
    _w, _ = await build_meeting(programme)
    with pytest.raises(FormError) as exc_info:
        await programme.save(
            ACTOR,
            "event",
            Where("ledarskap", "varen-2020"),
            "forandringsresa",
            {"title": "En myndighets förändringsresa", "start": "09:30", "end": "11:00"},
        )
    assert exc_info.value.errors["end"].code == "item_after_event"


async def test_a_live_agenda_edit_is_a_session_event_and_loses_nothing(
    store: SQLiteStore,
) -> None:
    """Add, retitle, move and postpone during a live session: each is one `agenda.revised`
    event with the next seq and an `agenda` message for every audience; the question, its
    vote and the answered state stay."""
    published: list[Change] = []
    svc = await make(store, published)
    _, sid = await build_meeting(svc)
    sessions = svc.sessions
    await sessions.moderate(sid, "agenda.goto", {"item": "samtal"})
    asked = await sessions.ask(sid, "p1", "room", "Hur lång tid tar en omorganisation?", None)
    qid = asked.event.data["id"]
    await sessions.vote(sid, "p2", qid)
    await sessions.moderate(sid, "question.answer", {"question": qid})
    seq = sessions.state(sid).seq

    out = await svc.save_item(
        ACTOR,
        sid,
        None,
        {
            "id": "diskussion",
            "kind": "discussion",
            "title": "Diskussion",
            "start": "11:15",
            "minutes": "60",
        },
    )
    assert (out.event.seq, out.event.type) == (seq + 1, ev.AGENDA_REVISED)
    assert out.change.public == out.change.moderator
    assert out.change.public is not None and out.change.public["type"] == "agenda"
    await svc.save_item(
        ACTOR,
        sid,
        "valkommen",
        {"kind": "talk", "title": "Välkomna", "start": "09:30", "minutes": "10"},
    )
    await svc.move_item(ACTOR, sid, "diskussion", -1)
    await svc.save_item(
        ACTOR,
        sid,
        "fika",
        {
            "kind": "break",
            "title": "Fika",
            "start": "10:55",
            "minutes": "20",
            "status": "postponed",
        },
    )

    state = sessions.state(sid)
    assert [i.id for i in state.agenda.items] == ["valkommen", "samtal", "diskussion", "fika"]
    assert state.agenda.items[0].title == "Välkomna"
    assert state.agenda.statuses["fika"] is Status.POSTPONED
    assert state.agenda.current == "samtal"
    assert state.agenda.statuses["samtal"] is Status.LIVE
    question = state.board.questions[qid]
    assert (question.votes, question.status.value, question.item_id) == (1, "answered", "samtal")
    assert [c.seq for c in published][-4:] == [seq + 1, seq + 2, seq + 3, seq + 4]
    assert published[-1].public is not None
    assert next(i["title"] for i in published[-1].public["agenda"]["items"]) == "Välkomna"

    # A restart folds the log to the same agenda, statuses and questions.
    again = (await make(store)).sessions.state(sid)
    assert again.agenda.items == state.agenda.items
    assert again.agenda.statuses == state.agenda.statuses
    assert again.board.questions[qid].votes == 1
    assert svc.sessions.programme.find_session(sid)[3].items == state.agenda.items  # type: ignore[index]


async def test_agenda_edits_never_take_away_the_current_item_or_questions(
    programme: ProgrammeService,
) -> None:
    _, sid = await build_meeting(programme)
    sessions = programme.sessions
    await sessions.moderate(sid, "agenda.goto", {"item": "valkommen"})
    await sessions.ask(sid, "p1", "remote", "En fråga om välkomnandet", None)
    await sessions.moderate(sid, "agenda.goto", {"item": "samtal"})
    with pytest.raises(InvalidState, match="current item"):
        await programme.remove_item(ACTOR, sid, "samtal")
    with pytest.raises(InvalidState) as exc_info:
        await programme.remove_item(ACTOR, sid, "valkommen")
    assert exc_info.value.code == "in_use"
    with pytest.raises(InvalidState, match="postponing"):
        await programme.save_item(
            ACTOR, sid, "samtal", {"kind": "dialogue", "title": "Samtal", "status": "postponed"}
        )
    with pytest.raises(InvalidState) as exc_info:
        await programme.remove(
            ACTOR, "session", Where("ledarskap", "varen-2020", "forandringsresa"), sid
        )
    assert exc_info.value.code == "in_use"
    await programme.remove_item(ACTOR, sid, "fika")  # nothing belongs to it
    assert [i.id for i in sessions.state(sid).agenda.items] == ["valkommen", "samtal"]
    with pytest.raises(NotFound):
        await programme.remove_item(ACTOR, sid, "fika")


async def test_an_agenda_move_to_an_item_deleted_later_replays(store: SQLiteStore) -> None:
    """The log holds every revision, so a move to an item that a later edit deleted
    still replays after a restart."""
    svc = await make(store)
    _, sid = await build_meeting(svc)
    await svc.sessions.moderate(sid, "agenda.goto", {"item": "fika"})
    await svc.sessions.moderate(sid, "agenda.goto", {"item": "valkommen"})
    await svc.remove_item(ACTOR, sid, "fika")
    again = (await make(store)).sessions.state(sid)
    assert [i.id for i in again.agenda.items] == ["valkommen", "samtal"]
    assert again.agenda.current == "valkommen"


async def test_copying_a_season_clears_dates_and_gives_new_codes(
    programme: ProgrammeService,
) -> None:
    _w, sid = await build_meeting(programme)
    await programme.save_item(
        ACTOR,
        sid,
        "fika",
        {
            "kind": "break",
            "title": "Fika",
            "start": "10:55",
            "minutes": "20",
            "status": "postponed",
        },
    )
    season_id, mapping = await programme.copy_season(
        ACTOR, "ledarskap", "varen-2020", {"id": "hosten-2020", "title": "Hösten 2020"}
    )
    assert season_id == "hosten-2020"
    new_sid = mapping[sid]
    assert new_sid != sid
    found = programme.sessions.programme.find_session(new_sid)
    assert found is not None
    _, season, event, session = found
    assert season.title == "Hösten 2020"
    assert (event.date, event.status, event.start, event.venue) == (
        None,
        Status.DATE_TO_COME,
        dt.time(9, 30),
        "Klarahuset, Drottninggatan 33",
    )
    assert [i.id for i in session.items] == ["valkommen", "samtal", "fika"]
    assert all(i.status is Status.SCHEDULED for i in session.items)
    old, new = programme.sessions.access[sid], programme.sessions.access[new_sid]
    assert old.join_code != new.join_code and old.moderator_token != new.moderator_token
    assert programme.sessions.state(new_sid).seq == 0
    # Setting the date of a copied meeting makes it scheduled again.
    autumn = Where("ledarskap", "hosten-2020")
    fields = {
        "title": event.title,
        "date": "2020-09-08",
        "start": "09:30",
        "end": "12:30",
        "status": "date-to-come",
        "venue": event.venue,
    }
    await programme.save(ACTOR, "event", autumn, event.id, fields)
    found = programme.sessions.programme.find_session(new_sid)
    assert found is not None
    assert (found[2].date, found[2].status) == (dt.date(2020, 9, 8), Status.SCHEDULED)
    with pytest.raises(FormError) as exc_info:
        await programme.copy_season(
            ACTOR, "ledarskap", "varen-2020", {"id": "hosten-2020", "title": "Igen"}
        )
    assert exc_info.value.errors["id"].code == "duplicate_id"


async def test_two_processes_editing_at_once_both_land(tmp_path: Path) -> None:
    """Two services over one database save 2 x 10 events concurrently: none is lost, and
    the other process picks the new sessions up by watching the version."""
    stores = [SQLiteStore(tmp_path / "c.db"), SQLiteStore(tmp_path / "c.db")]
    for s in stores:
        await s.open()
    try:
        a, b = await make(stores[0]), await make(stores[1])
        await a.save(ACTOR, "network", NET, None, {"id": "n", "title": "N"})
        await b.sessions.reload_programme()
        await a.save(ACTOR, "season", Where("n"), None, {"id": "s", "title": "S"})
        await b.sessions.reload_programme()
        where = Where("n", "s")
        await asyncio.gather(
            *(
                svc.save(ACTOR, "event", where, None, {"id": f"{name}-{i}", "title": "Träff"})
                for i in range(10)
                for name, svc in (("a", a), ("b", b))
            )
        )
        b.start_watching(0.05)
        await a.save(
            ACTOR, "session", Where("n", "s", "a-0"), None, {"id": "ny-session", "title": "Ny"}
        )
        for _ in range(100):
            if "ny-session" in b.sessions.states:
                break
            await asyncio.sleep(0.05)
        await b.stop_watching()
        events = b.sessions.programme.networks[0].seasons[0].events
        assert len(events) == 20
        assert "ny-session" in b.sessions.states
        code = a.sessions.access["ny-session"].join_code
        assert b.sessions.session_by_code(code) == "ny-session"
    finally:
        for s in stores:
            await s.close()


async def test_deleting_and_reordering_structure(programme: ProgrammeService) -> None:
    w, sid = await build_meeting(programme)
    season = Where("ledarskap", "varen-2020")
    await programme.save(ACTOR, "event", season, None, {"id": "andra", "title": "Andra"})
    await programme.reorder(ACTOR, "event", season, "andra", -1)
    events = programme.sessions.programme.networks[0].seasons[0].events
    assert [e.id for e in events] == ["andra", "forandringsresa"]
    await programme.save(ACTOR, "track", w, None, {"id": "tema-1", "title": "Tema 1"})
    await programme.save(ACTOR, "session", w, sid, {"title": "Med tema", "track": "tema-1"})
    with pytest.raises(InvalidState):
        await programme.remove(ACTOR, "track", w, "tema-1")
    code = programme.sessions.access[sid].join_code
    await programme.remove(ACTOR, "event", season, "forandringsresa")
    assert sid not in programme.sessions.states
    with pytest.raises(NotFound):
        programme.sessions.session_by_code(code)
    # The id of a deleted session is never handed out again: its log still exists.
    with pytest.raises(FormError) as exc_info:
        await programme.save(
            ACTOR,
            "session",
            Where("ledarskap", "varen-2020", "andra"),
            None,
            {"id": sid, "title": "S"},
        )
    assert exc_info.value.errors["id"].code == "duplicate_id"
