"""The programme editor against real server processes: forms over HTTP with the real
sign-in, CSRF and membership checks; agenda edits reaching phones and big screens over
real WebSockets; and the same through two processes sharing Redis."""

from __future__ import annotations

import asyncio
import html
import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import SESSION, Room, redis_pair, started
from tests.e2e.organisers import signed_in
from tests.serverproc import ServerProcess
from tests.wsclient import Client

NETWORK = "ledarskap-och-innovation"
SEASON = f"/organise/networks/{NETWORK}/seasons/varen-2020"
EVENT = f"{SEASON}/events/forandringsresa"
AGENDA = f"{EVENT}/sessions/{SESSION}"
SV = {"accept-language": "sv-SE,sv;q=0.9"}


def stored(server: ServerProcess) -> tuple[str, int]:
    """The stored programme and its version, read straight from the database."""
    with closing(sqlite3.connect(server.data_dir / "companion.db")) as db:
        data = db.execute("SELECT data FROM programme").fetchone()[0]
        version = db.execute("SELECT version FROM programme_version").fetchone()
    return data, version[0] if version else 0


def errors_of(page: str) -> dict[str, str]:
    """Field id -> the error shown beside it."""
    return {
        m.group(1): html.unescape(m.group(2))
        for m in re.finditer(r'class="field-error" id="([^"]+)-error">([^<]*)<', page)
    }


def test_bad_input_gets_its_error_beside_the_field_and_changes_nothing(
    server: ServerProcess,
) -> None:
    """An invalid time, an end before the start, a duplicate id, a too-long text, an item
    that ends after the meeting and an unknown track: 400, the Swedish message beside the
    field, the typed values kept, nothing stored."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    anna.http.headers.update(SV)
    before = stored(server)
    cases = [
        (
            SEASON + "/add",
            {"what": "event", "title": "Träff", "start": "9.3"},
            "add-start",
            "Skriv tiden som 09.30.",
        ),
        (
            SEASON + "/add",
            {"what": "event", "title": "Träff", "start": "12.30", "end": "09.30"},
            "add-end",
            "Sluttiden 09.30 måste vara efter starttiden 12.30.",
        ),
        (
            SEASON + "/add",
            {"what": "event", "title": "Träff", "id": "forandringsresa"},
            "add-id",
            "Id:t ”forandringsresa” används redan.",
        ),
        (
            SEASON + "/add",
            {"what": "event", "title": "Å" * 201},
            "add-title",
            "Högst 200 tecken (nu 201).",
        ),
        (
            AGENDA + "/add",
            {"what": "item", "kind": "talk", "title": "Sent", "start": "12.20", "minutes": "15"},
            "add-minutes",
            "Punkten slutar 12.35, efter att träffen slutar 12.30.",
        ),
        (
            AGENDA,
            {"title": "Session", "track": "tema-9"},
            "f-track",
            "Välj ett tema som finns i träffen.",
        ),
        (
            EVENT,
            {"title": "Träff", "start": "09:30", "end": "11:00"},
            "f-end",
            "Punkten slutar 11.15, efter att träffen slutar 11.00.",
        ),
        (
            f"/organise/networks/{NETWORK}/programme",
            {"title": "Ledarskap", "retention_days": "90 dagar"},
            "f-retention_days",
            "Skriv ett helt antal dagar, från 0 till 3650.",
        ),
    ]
    for path, form, field, message in cases:
        answer = anna.post(path, form)
        assert answer.status_code == 400, (path, form, answer.status_code)
        assert errors_of(answer.text).get(field) == message, (form, errors_of(answer.text))
        assert 'aria-invalid="true"' in answer.text
        assert html.escape(form["title"]) in answer.text  # what was typed is kept
        assert stored(server) == before
    assert "Traceback" not in server.log()
    # A good period is kept with the network and shown in its form again.
    page = f"/organise/networks/{NETWORK}/programme"
    form = anna.get(page).text
    assert 'id="f-retention_days"' in form and "tjänstens inställning: att inget raderas" in form
    saved = anna.post(page, {"title": "Ledarskap och innovation", "retention_days": "30"})
    assert saved.status_code in (200, 303), saved.status_code
    assert '"retention_days": 30' in stored(server)[0]
    assert 'value="30"' in anna.get(page).text


def test_every_editor_route_refuses_strangers_and_changes_nothing(
    server: ServerProcess,
) -> None:
    """No sign-in, a moderator's token, another network's organiser, a missing or wrong
    CSRF token, another site's Origin: refused (303 to sign-in for a page, else 401/403),
    nothing stored."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    other = signed_in(server, "olle@region.se", "temasessioner")
    code, key = server.access()[SESSION]
    before = stored(server)
    pages = [
        f"/organise/networks/{NETWORK}/programme",
        SEASON,
        EVENT,
        AGENDA,
        f"{AGENDA}/items/valkommen",
        f"{AGENDA}/delete?what=item&id=valkommen",
    ]
    posts = [
        (f"/organise/networks/{NETWORK}/programme", {"title": "Kapad"}),
        (f"/organise/networks/{NETWORK}/programme/add", {"what": "season", "title": "S"}),
        (SEASON, {"title": "Kapad"}),
        (SEASON + "/copy", {"title": "Kopia"}),
        (SEASON + "/move", {"what": "event", "id": "forandringsresa", "offset": "-1"}),
        (SEASON + "/delete", {"what": "event", "id": "forandringsresa"}),
        (EVENT, {"title": "Kapad"}),
        (EVENT + "/add", {"what": "session", "title": "S"}),
        (AGENDA, {"title": "Kapad"}),
        (AGENDA + "/add", {"what": "item", "kind": "talk", "title": "Kapad"}),
        (AGENDA + "/move", {"what": "item", "id": "fika", "offset": "-1"}),
        (AGENDA + "/delete", {"what": "item", "id": "fika"}),
        (f"{AGENDA}/items/valkommen", {"kind": "talk", "title": "Kapad"}),
    ]
    stranger = requests.Session()
    stranger.headers["origin"] = server.http
    for path in pages:
        assert stranger.get(server.http + path, allow_redirects=False).status_code == 303
        assert other.get(path).status_code == 403
        assert anna.get(path).status_code == 200, path
    for path, form in posts:
        url = server.http + path
        assert stranger.post(url, data=form, allow_redirects=False).status_code == 401
        bearer = {"authorization": f"Bearer {key}"}
        assert (
            stranger.post(url, data=form, headers=bearer, allow_redirects=False).status_code == 401
        )
        assert other.post(path, form).status_code == 403, path
        assert anna.post(path, form, csrf=False).status_code == 403, path
        assert anna.post(path, {**form, "csrf": anna.csrf[:-1] + "x"}).status_code == 403
        foreign = {"origin": "https://evil.example"}
        assert anna.post(path, form, headers=foreign).status_code == 403, path
    assert stored(server) == before
    # The session's own join code is not a way in either.
    assert (
        stranger.get(
            f"{server.http}/organise/networks/{NETWORK}/programme",
            params={"code": code},
            allow_redirects=False,
        ).status_code
        == 303
    )


async def test_an_agenda_edit_reaches_a_phone_and_the_big_screen_live(
    server: ServerProcess, room: Room
) -> None:
    """During a live session the organiser retitles the current item, adds one, moves it
    and postpones another: a connected phone and big screen get each as an `agenda`
    message with the next seq, and the question asked before (with its vote) stays."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    moderator = await room.moderator()
    phone = await room.participant()
    screen = await room.screen()
    await moderator.request({"type": "agenda.goto", "item": "samtal-olsson"})
    qid = (await phone.request({"type": "ask", "text": "Vad krävs av ledningen?"}))["question"]
    await moderator.request({"type": "question.approve", "question": qid})
    await phone.request({"type": "vote", "question": qid})
    # Before counting seqs: the vote has reached everyone in a coalesced `counts`, and the
    # phone's join its attendance peak (an event of its own, recorded at a hub flush).
    for client in (moderator, phone, screen):
        await client.wait_for(lambda m: m["type"] == "counts" and m["counts"].get(str(qid)) == 1)
    await moderator.wait_for(
        lambda m: m["type"] == "attendance" and m["attendance"]["peak_room"] == 1
    )
    start = len(phone.messages), len(screen.messages)
    seq = moderator.seq
    assert seq is not None

    edits = [
        (
            f"{AGENDA}/items/samtal-olsson",
            {
                "kind": "dialogue",
                "title": "Samtal med Clas Olsson, ESV",
                "start": "09:40",
                "minutes": "75",
                "speaker_0_name": "Clas Olsson",
            },
        ),
        (
            AGENDA + "/add",
            {
                "what": "item",
                "id": "extra",
                "kind": "discussion",
                "title": "Extra samtal i grupper",
                "minutes": "10",
            },
        ),
        (AGENDA + "/move", {"what": "item", "id": "extra", "offset": "-1"}),
        (
            f"{AGENDA}/items/fika",
            {
                "kind": "break",
                "title": "Fika",
                "start": "10:55",
                "minutes": "20",
                "status": "postponed",
            },
        ),
    ]
    for n, (path, form) in enumerate(edits, 1):
        answer = anna.post(path, form)
        assert answer.status_code == 303, (path, answer.text[:500])
        for client, first in ((phone, start[0]), (screen, start[1])):
            got = await client.wait_for(
                lambda m, n=n: m["type"] == "agenda" and m["seq"] == seq + n, start=first
            )
            assert got["seq"] == seq + n
    agenda = got["agenda"]
    titles = [i["title"] for i in agenda["items"]]
    assert titles[1] == "Samtal med Clas Olsson, ESV"
    assert [i["id"] for i in agenda["items"]][-2:] == ["extra", "avslutning"]
    assert next(i for i in agenda["items"] if i["id"] == "fika")["status"] == "postponed"
    assert agenda["current"] == "samtal-olsson"
    # A late phone's snapshot: the edits and the question with its vote, nothing lost.
    late = await room.connect()
    await late.join(code=room.code, where="remote")
    snap = await late.wait_for(lambda m: m["type"] == "snapshot")
    assert [(q["text"], q["votes"]) for q in snap["questions"]] == [("Vad krävs av ledningen?", 1)]
    assert [i["title"] for i in snap["agenda"]["items"]] == titles
    # The moderator's console page lists the new item after a reload too.
    console = requests.get(f"{server.http}/moderate/{SESSION}", timeout=10).text
    assert "Extra samtal i grupper" in console
    # Each change is in the network's audit, newest first, with who made it.
    audit = anna.get(f"/organise/networks/{NETWORK}/audit").text
    rows = re.findall(r'<tr data-what="([^"]+)">(.*?)</tr>', audit, re.S)
    assert [what for what, _ in rows][:4] == ["item.edit", "item.move", "item.create", "item.edit"]
    assert all("anna@kommun.se" in row for _, row in rows[:4])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two processes on one redis-server, with the demo programme."""
    with redis_pair(tmp_path) as (_, a, b):
        yield a, b


async def test_an_edit_through_one_process_reaches_clients_of_the_other(cluster) -> None:
    """On Redis: an agenda edit posted to process A reaches a phone and a screen on B; a
    session created on A opens on B by its new code within a second."""
    a, b = cluster
    code, _ = a.access()[SESSION]
    anna = signed_in(a, "anna@kommun.se", NETWORK)
    phone = await Client.open(b.ws)
    screen = await Client.open(b.ws)
    try:
        await phone.join(code=code, where="remote")
        await screen.join(code=code, role="screen")
        first = len(phone.messages), len(screen.messages)
        answer = anna.post(
            f"{AGENDA}/items/valkommen",
            {
                "kind": "talk",
                "title": "Välkomna till Klarahuset",
                "start": "09:30",
                "minutes": "10",
            },
        )
        assert answer.status_code == 303, answer.text[:500]
        for client, start in ((phone, first[0]), (screen, first[1])):
            got = await client.wait_for(lambda m: m["type"] == "agenda", start=start)
            assert got["agenda"]["items"][0]["title"] == "Välkomna till Klarahuset"

        made = anna.post(
            EVENT + "/add", {"what": "session", "id": "extra-rum", "title": "Extra rum"}
        )
        assert made.status_code == 303, made.text[:500]
        new_code = a.access()["extra-rum"][0]
        for _ in range(50):
            found = requests.get(f"{b.http}/api/sessions/{new_code}", timeout=5)
            if found.status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert found.status_code == 200 and found.json()["session_id"] == "extra-rum"
        on_b = await Client.open(b.ws)
        try:
            welcome = await on_b.join(code=new_code, where="room")
            assert welcome["type"] == "welcome", welcome
            # An item added to the new session through B reaches a phone joined on A.
            on_a = await Client.open(a.ws)
            try:
                await on_a.join(code=new_code, where="room")
                bea = signed_in(b, "bea@kommun.se", NETWORK)
                added = bea.post(
                    f"{EVENT}/sessions/extra-rum/add",
                    {"what": "item", "kind": "talk", "title": "Första punkten"},
                )
                assert added.status_code == 303, added.text[:500]
                got = await on_a.wait_for(lambda m: m["type"] == "agenda")
                assert [i["title"] for i in got["agenda"]["items"]] == ["Första punkten"]
            finally:
                await on_a.close()
        finally:
            await on_b.close()
    finally:
        await phone.close()
        await screen.close()
    assert "Traceback" not in a.log() + b.log()
    json.dumps(None)


FIELDS = [
    "what",
    "id",
    "offset",
    "title",
    "kind",
    "status",
    "date",
    "start",
    "end",
    "minutes",
    "venue",
    "note",
    "track",
    "description",
    "contact",
    "moderator_name",
    "speaker_0_name",
    "speaker_5_title",
    "speaker_9_name",
]
TARGETS = [
    f"/organise/networks/{NETWORK}/programme",
    f"/organise/networks/{NETWORK}/programme/add",
    SEASON,
    SEASON + "/add",
    SEASON + "/move",
    SEASON + "/delete",
    SEASON + "/copy",
    EVENT,
    EVENT + "/add",
    EVENT + "/move",
    EVENT + "/delete",
    AGENDA,
    AGENDA + "/add",
    AGENDA + "/move",
    AGENDA + "/delete",
    f"{AGENDA}/items/fika",
    f"{EVENT}/tracks/nope",
    "/organise/networks/new",
    f"/organise/networks/{NETWORK}/seasons/%00/events/x",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "session",
            "item",
            "event",
            "track",
            "season",
            "network",
            "-1",
            "1",
            "0",
            "99",
            "fika",
            "valkommen",
            "09:30",
            "9.30",
            "24:00",
            "2020-02-30",
            "2020-05-05",
            "postponed",
            "live",
            "talk",
            "tema-1",
            "x" * 300,
            "Å" * 10_001,
            "<script>alert(1)</script>",
            "{{7*7}}",
            "../../etc",
        ]
    ),
    st.text(max_size=40),
)


@given(
    target=st.sampled_from(TARGETS),
    form=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8),
)
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_forms_never_get_a_5xx(
    editor: tuple[ServerProcess, object], target: str, form: dict[str, str]
) -> None:
    """Random fields and values posted to every editor route by a signed-in member: never a
    5xx or a trace; a refused form (4xx) stores nothing."""
    server, anna = editor
    before = stored(server)
    answer = anna.post(target, form)  # type: ignore[attr-defined]
    assert answer.status_code < 500, (target, form, answer.status_code)
    assert "Traceback" not in answer.text
    if answer.status_code >= 400:
        assert stored(server) == before, (target, form)


@pytest.fixture(scope="module")
def editor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, object]]:
    """One server with the demo programme and a signed-in member, for the fuzz."""
    with started(ServerProcess(tmp_path_factory.mktemp("fuzz"))) as server:
        yield server, signed_in(server, "anna@kommun.se", NETWORK)
    assert "Traceback" not in server.log(), server.log()
