"""A conference schedule from pretalx (`schedule.json`) and frab (`schedule.xml`) imported
into the seed conference's day on a real server: rooms become sessions, talks agenda
items with their speakers, tracks themes; a re-import updates what changed and keeps the
questions and votes; each malformed upload gets its error and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from companion.domain.programme import ItemKind, Speaker
from companion.programme_file import parse_programme
from tests.e2e.conftest import Room
from tests.e2e.organisers import Organiser, signed_in
from tests.e2e.test_programme_editor import stored
from tests.e2e.test_schedule_yaml import shown_error
from tests.serverproc import ServerProcess
from tests.wsclient import Client

NETWORK = "temasessioner"
IMPORT = f"/organise/networks/{NETWORK}/import"
EVENT = "januari-2019/session-2-2019-01-10"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SV = {"accept-language": "sv-SE,sv;q=0.9"}
SAL_A = "session-2-2019-01-10-sal-a"


def send(who: Organiser, content: bytes, name: str, event: str = EVENT) -> requests.Response:
    return who.http.post(
        who.server.http + IMPORT + "/schedule",
        data={"csrf": who.csrf, "event": event},
        files={"file": (name, content, "application/octet-stream")},
        allow_redirects=False,
        timeout=30,
    )


def conference_day(who: Organiser) -> Any:
    """The conference's day as the server holds it (through the YAML download)."""
    text = who.get(f"/organise/networks/{NETWORK}/programme.yaml").text
    return parse_programme(text, "download.yaml").networks[0].seasons[0].events[0]


def test_pretalx_json_then_frab_xml_give_the_same_day(server: ServerProcess) -> None:
    """schedule.json: three rooms → three sessions with their themes, talks with kinds,
    Stockholm times from +01:00, speakers; the old four sessions (nobody asked) go. The
    same schedule as schedule.xml afterwards changes nothing; both are audited."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    anna.http.headers.update(SV)
    done = send(anna, (FIXTURES / "schedule.json").read_bytes(), "schedule.json")
    assert done.status_code == 303, shown_error(done.text)
    assert done.headers["location"] == f"{IMPORT}?added=3&revised=0&removed=4"
    day = conference_day(anna)
    assert (str(day.date), str(day.start), str(day.end)) == ("2019-01-10", "09:30:00", "11:45:00")
    assert [(t.id, t.title) for t in day.tracks] == [
        ("tema-1-digitalisering", "Tema 1: Digitalisering"),
        ("tema-2-styrning-uthallighet", "Tema 2: Styrning & uthållighet"),
        ("tema-3-organisering-arbetsmiljo", "Tema 3: Organisering & arbetsmiljö"),
    ]
    sessions = {s.id: s for s in day.sessions}
    assert [(s.id, s.title, s.track) for s in day.sessions] == [
        (SAL_A, "Sal A", "tema-1-digitalisering"),
        ("session-2-2019-01-10-sal-b", "Sal B", "tema-2-styrning-uthallighet"),
        ("session-2-2019-01-10-sal-c", "Sal C", "tema-3-organisering-arbetsmiljo"),
    ]
    sal_a = sessions[SAL_A].items
    assert [(i.id, i.kind, i.start.strftime("%H:%M"), i.minutes) for i in sal_a] == [
        ("talk-101", ItemKind.TALK, "09:30", 70),
        ("talk-102", ItemKind.BREAK, "10:40", 20),
        ("talk-103", ItemKind.DISCUSSION, "11:00", 45),
    ]
    assert sal_a[0].title == "Verksamhetsutveckling och agilitet: hur gör man?"
    assert sal_a[0].speakers == (Speaker("Åsa Öberg"),)
    assert sal_a[2].speakers == (Speaker("Åsa Öberg"), Speaker("Jörgen Ärlig"))
    assert sal_a[0].description.startswith("Vad betyder agil")
    panel = sessions["session-2-2019-01-10-sal-b"].items[1]
    assert panel.kind == ItemKind.DISCUSSION and panel.speakers[1] == Speaker("Karin Ståhl")
    # The new sessions have join codes: the public page shows their way in.
    page = requests.get(f"{server.http}/networks/{NETWORK}", headers=SV, timeout=10).text
    codes = server.access()
    assert all(f"/j/{codes[sid][0]}" in page for sid in sessions)
    before = stored(server)
    again = send(anna, (FIXTURES / "schedule.xml").read_bytes(), "schedule.xml")
    assert again.status_code == 303, shown_error(again.text)
    assert again.headers["location"] == f"{IMPORT}?added=0&revised=0&removed=0"
    assert json.loads(stored(server)[0]) == json.loads(before[0])
    audit = anna.get(f"/organise/networks/{NETWORK}/audit").text
    assert "Konferensschema inläst" in audit
    assert "session-2-2019-01-10 ← schedule.json" in audit
    assert "session-2-2019-01-10 ← schedule.xml" in audit
    assert "Traceback" not in server.log()


async def test_a_reimport_updates_what_changed_and_keeps_questions(
    server: ServerProcess, clients: list[Client]
) -> None:
    """Questions asked under a talk and its vote survive an updated schedule that retitles
    and moves that talk, drops another and then drops the talk itself (kept, postponed)."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    original = json.loads((FIXTURES / "schedule.json").read_text("utf-8"))
    assert send(anna, json.dumps(original).encode(), "schedule.json").status_code == 303
    room = Room(server, clients, SAL_A)
    moderator = await room.moderator()
    phone = await room.participant(name="Eva")
    await moderator.request({"type": "agenda.goto", "item": "talk-101"})
    qid = (await phone.request({"type": "ask", "text": "Hur börjar man i liten skala?"}))[
        "question"
    ]
    await moderator.request({"type": "question.approve", "question": qid})
    assert (await phone.request({"type": "vote", "question": qid}))["type"] == "ack"
    await moderator.request({"type": "agenda.goto", "item": "talk-102"})

    updated = json.loads(json.dumps(original))
    talks = updated["schedule"]["conference"]["days"][0]["rooms"]["Sal A"]
    talks[0]["title"] = "Agilt arbete i offentlig sektor"
    talks[0]["subtitle"] = ""
    talks[0]["date"] = "2019-01-10T09:35:00+01:00"
    talks[0]["duration"] = "01:05"
    del talks[2]  # the discussion is dropped (nobody asked there)
    start = len(phone.messages)
    done = send(anna, json.dumps(updated, ensure_ascii=False).encode(), "schedule-v2.json")
    assert done.status_code == 303, shown_error(done.text)
    assert done.headers["location"] == f"{IMPORT}?added=0&revised=1&removed=0"
    got = await phone.wait_for(lambda m: m["type"] == "agenda", start=start)
    items = {i["id"]: i for i in got["agenda"]["items"]}
    assert list(items) == ["talk-101", "talk-102"]
    assert items["talk-101"]["title"] == "Agilt arbete i offentlig sektor"

    del talks[0]  # the talk the question belongs to is dropped too
    start = len(phone.messages)
    done = send(anna, json.dumps(updated, ensure_ascii=False).encode(), "schedule-v3.json")
    assert done.status_code == 303, shown_error(done.text)
    got = await phone.wait_for(lambda m: m["type"] == "agenda", start=start)
    items = {i["id"]: i for i in got["agenda"]["items"]}
    assert list(items) == ["talk-102", "talk-101"]
    assert items["talk-101"]["status"] == "postponed"
    late = await room.moderator()
    snap = await late.wait_for(lambda m: m["type"] == "snapshot")
    kept = next(q for q in snap["questions"] if q["id"] == qid)
    assert kept["votes"] == 1 and kept["text"] == "Hur börjar man i liten skala?"
    assert "Traceback" not in server.log()


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<schedule><conference><title>&lol3;</title></conference></schedule>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE schedule [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<schedule><conference><title>&xxe;</title></conference></schedule>
"""


def test_malformed_schedules_get_their_error_and_change_nothing(server: ServerProcess) -> None:
    """Not JSON or XML, broken JSON or XML, not UTF-8, over 1 MB, another shape, an XML
    bomb, an external entity, a talk without a duration, another day, no meeting chosen:
    each its message, nothing stored, no trace."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    anna.http.headers.update(SV)
    good = json.loads((FIXTURES / "schedule.json").read_text("utf-8"))
    no_duration = json.loads(json.dumps(good))
    del no_duration["schedule"]["conference"]["days"][0]["rooms"]["Sal B"][1]["duration"]
    two_days = json.loads(json.dumps(good))
    day = two_days["schedule"]["conference"]["days"][0]
    two_days["schedule"]["conference"]["days"] = [
        {**day, "date": "2019-01-11"},
        {**day, "date": "2019-01-12"},
    ]
    before = stored(server)
    cases: list[tuple[bytes, str, int, str]] = [
        (b"Tema 1;Sal A;09.30\n", "schema.csv", 400, "not a schedule.json or schedule.xml"),
        (b'{"schedule": {', "trasig.json", 400, "trasig.json: line 1: invalid JSON"),
        (b"<schedule><day>", "trasig.xml", 400, "trasig.xml: line 1: invalid XML"),
        ('{"schedule": "Välfärd"}'.encode("latin-1"), "latin1.json", 400, "inte sparad som UTF-8"),
        (b" " * (1024 * 1024 + 10), "stor.json", 413, "Filen är för stor."),
        (b'{"conference": {}}', "annan.json", 400, "schedule: required mapping is missing"),
        (b"<programme/>", "annan.xml", 400, "expected <schedule>"),
        (BOMB, "bomb.xml", 400, "XML with a DTD or entity declarations is refused"),
        (EXTERNAL, "xxe.xml", 400, "XML with a DTD or entity declarations is refused"),
        (
            json.dumps(no_duration).encode(),
            "utan-langd.json",
            400,
            "days[0].rooms['Sal B'][1].duration: expected a duration HH:MM, got ''",
        ),
        (
            json.dumps(two_days).encode(),
            "tva-dagar.json",
            400,
            "the schedule has 2019-01-11, 2019-01-12",
        ),
    ]
    for content, name, status, message in cases:
        answer = send(anna, content, name)
        assert answer.status_code == status, (name, answer.status_code)
        error = shown_error(answer.text)
        assert message in error, (name, error)
        assert "Ingenting ändrades." in error
    nowhere = send(anna, json.dumps(good).encode(), "schedule.json", event="finns/inte")
    assert nowhere.status_code == 400
    assert "Välj en träff i nätverket" in shown_error(nowhere.text)
    assert stored(server) == before
    assert "Traceback" not in server.log()
