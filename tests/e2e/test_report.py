"""The meeting report end to end: a meeting is run over WebSockets, then the report's JSON,
zipped CSV and printable summary (printed to PDF by Chromium) are checked against it."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from companion.web.i18n import catalogue, translator
from tests.e2e.browser import OUTPUT, chromium, new_page
from tests.e2e.conftest import SESSION, Room
from tests.wsclient import Client, Message


def iso(ts: float | None) -> str | None:
    """A Unix time as the report writes it: local time, ISO 8601 with offset."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def csv_time(ts: float | None) -> str:
    """A Unix time as the CSV files write it."""
    return (iso(ts) or "")[:19].replace("T", " ")


@dataclass
class Meeting:
    """What happened, as the moderator's connection saw it."""

    questions: dict[str, Message] = field(default_factory=dict)  # by label, moderator views
    polls: dict[str, Message] = field(default_factory=dict)  # by label, moderator views
    started: dict[str, float] = field(default_factory=dict)


def latest(moderator: Client, kind: str, key: str) -> dict[int, Message]:
    """The last view of every question or poll the moderator was sent, by id."""
    views: dict[int, Message] = {}
    for m in moderator.messages:
        if m["type"] == kind:
            for view in m[key]:
                views[view["id"]] = view
    return views


async def ask(client: Client, text: str, name: str | None) -> int:
    reply = await client.request({"type": "ask", "text": text, "name": name})
    assert reply["type"] == "ack", reply
    return reply["question"]


async def ok(client: Client, message: Message) -> Message:
    reply = await client.request(message)
    assert reply["type"] == "ack", (message, reply)
    return reply


async def run_meeting(room: Room) -> Meeting:
    """Questions, votes, a merge, moderation, the agenda and four polls, two in the room, one remote."""
    moderator = await room.moderator()
    anna = await room.participant("room", name="Anna Berg")
    bo = await room.participant("room")
    cecilia = await room.participant("remote", name="Cecilia Ödman")

    q_early = await ask(anna, "Kommer presentationen att delas?", None)
    await ok(moderator, {"type": "agenda.next"})
    await ok(moderator, {"type": "agenda.next"})
    q_main = await ask(anna, "Hur mäter ni förändringen?", "Anna Berg")
    q_formula = await ask(bo, "=SUMMA(A1:A3) är min fråga", None)
    q_dup = await ask(cecilia, "Hur mäter man förändring?", "Cecilia Ödman")
    await ok(bo, {"type": "vote", "question": q_main})
    await ok(cecilia, {"type": "vote", "question": q_main})
    await ok(anna, {"type": "vote", "question": q_dup})
    await ok(moderator, {"type": "question.merge", "question": q_dup, "into": q_main})
    await ok(moderator, {"type": "question.answer", "question": q_main})
    await ok(moderator, {"type": "question.hide", "question": q_formula})

    async def poll(**fields: Any) -> int:
        await ok(moderator, {"type": "poll.create", **fields})
        event = await moderator.wait_for(
            lambda m: m["type"] == "polls" and m["polls"][0]["text"] == fields["text"]
        )
        pid = event["polls"][0]["id"]
        await ok(moderator, {"type": "poll.open", "poll": pid})
        return pid

    day = await poll(
        kind="single",
        text="Vilken dag passar bäst för nästa träff?",
        options=["Måndag", "Tisdag"],
        item="samtal-olsson",
    )
    mood = await poll(kind="rating", text="Hur nöjd är du med förmiddagen?", scale=5)
    word = await poll(kind="words", text="Ett ord som beskriver dagen?")
    themes = await poll(
        kind="multiple",
        text="Vilka teman vill ni ha?",
        options=["Ledarskap", "Digitalisering", "Arbetsmiljö"],
        max_choices=2,
        hide_results=True,
    )
    for client, answers in (
        (anna, {day: 1, mood: 4, word: "Lärorik", themes: [1, 2]}),
        (bo, {day: 2, mood: 5, word: "lärorik ", themes: [2, 3]}),
        (cecilia, {day: 2, word: "Äntligen"}),
    ):
        for pid, answer in answers.items():
            await ok(client, {"type": "poll.answer", "poll": pid, "answer": answer})
    await ok(moderator, {"type": "poll.close", "poll": day})
    await ok(moderator, {"type": "poll.close", "poll": mood})
    await ok(moderator, {"type": "poll.close", "poll": word})
    # The moderator has every change once the last close has reached it (events come in seq order).
    await moderator.wait_for(
        lambda m: (
            m["type"] == "polls"
            and any(p["id"] == word and p["status"] == "closed" for p in m["polls"])
        )
    )

    meeting = Meeting()
    questions = latest(moderator, "questions", "questions")
    for label, qid in (
        ("early", q_early),
        ("main", q_main),
        ("formula", q_formula),
        ("dup", q_dup),
    ):
        meeting.questions[label] = questions[qid]
    polls = latest(moderator, "polls", "polls")
    for label, pid in (("day", day), ("mood", mood), ("word", word), ("themes", themes)):
        meeting.polls[label] = polls[pid]
    agenda = [m for m in moderator.messages if m["type"] == "agenda"][-1]["agenda"]
    meeting.started = {i["id"]: i["started_at"] for i in agenda["items"] if i["started_at"]}
    return meeting


def get(
    url: str, token: str | None = None, data: bytes | None = None, lang: str | None = None
) -> tuple[int, Any, bytes]:
    """An HTTP request; returns (status, headers, body) also for error statuses."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if lang:
        headers["Accept-Language"] = lang
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


async def report_with_peaks(room: Room, token: str, room_peak: int, remote_peak: int) -> Any:
    """The JSON report, once the attendance peaks have been recorded (they lag a little)."""
    url = f"{room.server.http}/moderate/{SESSION}/report.json"
    deadline = time.monotonic() + 10
    while True:
        status, headers, body = get(url, token)
        assert status == 200, body
        report = json.loads(body)
        att = report["attendance"]
        if (att["peak_room"], att["peak_remote"]) == (room_peak, remote_peak):
            return report, headers
        assert time.monotonic() < deadline, att
        await asyncio.sleep(0.25)


async def test_report_json_and_csv_match_what_happened(room: Room) -> None:
    """Every question, poll and agenda field in the JSON and the CSV tables matches the meeting."""
    meeting = await run_meeting(room)
    report, headers = await report_with_peaks(room, room.moderator_token, 2, 1)
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["content-disposition"].startswith(f'attachment; filename="companion-{SESSION}-')
    assert headers["cache-control"] == "no-store"

    assert report["format"] == "companion-report" and report["version"] == 1
    assert report["session"] == {
        "id": SESSION,
        "title": "En myndighets förändringsresa",
        "event": "En myndighets förändringsresa",
        "network": "Ledarskap och innovation i offentlig sektor",
        "date": "2020-05-05",
        "venue": "Klarahuset, Drottninggatan 33",
        "moderator": "Anki Udd",
    }
    att = report["attendance"]
    assert att["peak_room_at"] is not None and att["peak_remote_at"] is not None

    agenda = {a["id"]: a for a in report["agenda"]}
    assert [a["id"] for a in report["agenda"]][:2] == ["valkommen", "samtal-olsson"]
    assert agenda["valkommen"]["status"] == "done"
    assert agenda["samtal-olsson"]["status"] == "live"
    assert agenda["samtal-olsson"]["started_at"] == iso(meeting.started["samtal-olsson"])
    assert agenda["valkommen"]["started_at"] == iso(meeting.started["valkommen"])
    assert agenda["fika"]["started_at"] is None and agenda["fika"]["status"] == "scheduled"
    assert agenda["samtal-olsson"]["questions"] == 3
    assert agenda["samtal-olsson"]["planned_start"] == "09:40"
    assert agenda["samtal-olsson"]["speakers"] == "Clas Olsson"

    questions = {q["id"]: q for q in report["questions"]}
    assert len(questions) == 4
    expected_questions = {
        "early": ("Kommer presentationen att delas?", None, "room", "live", 0, None, []),
        "main": ("Hur mäter ni förändringen?", "Anna Berg", "room", "answered", 3, None, [4]),
        "formula": ("=SUMMA(A1:A3) är min fråga", None, "room", "hidden", 0, None, []),
        "dup": ("Hur mäter man förändring?", "Cecilia Ödman", "remote", "merged", 1, 2, []),
    }
    for label, (text, name, where, status, votes, into, merged_from) in expected_questions.items():
        seen = meeting.questions[label]
        q = questions[seen["id"]]
        assert q == {
            "id": seen["id"],
            "text": text,
            "name": name,
            "anonymous": name is None,
            "where": where,
            "status": status,
            "votes": votes,
            "merged_into": into,
            "merged_from": merged_from,
            "item_id": None if label == "early" else "samtal-olsson",
            "item_title": None if label == "early" else "En myndighets förändringsresa",
            "asked_at": iso(seen["asked_at"]),
            "answered_at": iso(seen["answered_at"]),
            "edited": False,
        }, label
    assert questions[meeting.questions["main"]["id"]]["answered_at"] is not None

    polls = {p["id"]: p for p in report["polls"]}
    day = polls[meeting.polls["day"]["id"]]
    assert {k: day[k] for k in ("kind", "text", "item_id", "item_title", "status")} == {
        "kind": "single",
        "text": "Vilken dag passar bäst för nästa träff?",
        "item_id": "samtal-olsson",
        "item_title": "En myndighets förändringsresa",
        "status": "closed",
    }
    assert day["options"] == ["Måndag", "Tisdag"] and day["respondents"] == 3
    assert day["results"] == [
        {"option": "1", "answer": "Måndag", "count": 1, "percent": 33.3},
        {"option": "2", "answer": "Tisdag", "count": 2, "percent": 66.7},
    ]
    assert day["opened_at"] == iso(meeting.polls["day"]["opened_at"])
    assert day["closed_at"] == iso(meeting.polls["day"]["closed_at"])
    mood = polls[meeting.polls["mood"]["id"]]
    assert (mood["scale"], mood["average"], mood["respondents"]) == (5, 4.5, 2)
    assert [r["count"] for r in mood["results"]] == [0, 0, 0, 1, 1]
    assert mood["item_id"] is None
    word = polls[meeting.polls["word"]["id"]]
    assert [(r["answer"], r["count"]) for r in word["results"]] == [("lärorik", 2), ("äntligen", 1)]
    themes = polls[meeting.polls["themes"]["id"]]
    assert (themes["status"], themes["hide_results"], themes["max_choices"]) == ("open", True, 2)
    assert [r["count"] for r in themes["results"]] == [1, 2, 1]
    assert [r["percent"] for r in themes["results"]] == [50.0, 100.0, 50.0]
    assert themes["closed_at"] is None

    # The same data as zipped CSV for a Swedish spreadsheet.
    status, headers, body = get(
        f"{room.server.http}/moderate/{SESSION}/report.zip", room.moderator_token
    )
    assert status == 200 and headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(body))
    folder = f"companion-{SESSION}/"
    names = {
        "session.csv",
        "attendance.csv",
        "fairness.csv",
        "agenda.csv",
        "questions.csv",
        "polls.csv",
        "poll_results.csv",
    }
    assert set(archive.namelist()) == {folder + n for n in names}

    # No language asked for: English headers, read back as the columns' names.
    english = translator("en")
    column = {
        english(key): key.removeprefix("csv.") for key in catalogue("en") if key.startswith("csv.")
    }

    def table(name: str) -> list[dict[str, str]]:
        raw = archive.read(folder + name)
        assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
        text = raw.decode("utf-8-sig")
        assert "\r\n" in text
        rows = csv.DictReader(io.StringIO(text, newline=""), delimiter=";")
        return [{column[k]: v for k, v in row.items()} for row in rows]

    rows = {r["id"]: r for r in table("questions.csv")}
    main, formula, dup = (rows[str(meeting.questions[k]["id"])] for k in ("main", "formula", "dup"))
    assert main == {
        "id": str(meeting.questions["main"]["id"]),
        "text": "Hur mäter ni förändringen?",
        "name": "Anna Berg",
        "anonymous": "no",
        "where": "in person",
        "status": "Answered",
        "votes": "3",
        "merged_into": "",
        "merged_from": str(meeting.questions["dup"]["id"]),
        "item_id": "samtal-olsson",
        "item_title": "En myndighets förändringsresa",
        "asked_at": csv_time(meeting.questions["main"]["asked_at"]),
        "answered_at": csv_time(meeting.questions["main"]["answered_at"]),
        "edited": "no",
    }
    assert formula["text"] == "'=SUMMA(A1:A3) är min fråga"  # never a spreadsheet formula
    assert (formula["name"], formula["anonymous"], formula["status"]) == ("", "yes", "Hidden")
    assert (dup["status"], dup["merged_into"], dup["where"]) == ("Merged", "2", "remote")

    poll_rows = table("polls.csv")
    assert [r["text"] for r in poll_rows] == [
        "Vilken dag passar bäst för nästa träff?",
        "Hur nöjd är du med förmiddagen?",
        "Ett ord som beskriver dagen?",
        "Vilka teman vill ni ha?",
    ]
    assert poll_rows[0]["options"] == "Måndag | Tisdag"
    assert poll_rows[1]["average"] == "4,5"  # decimal comma
    assert poll_rows[3]["hide_results"] == "yes" and poll_rows[3]["closed_at"] == ""
    results = [
        (r["poll_id"], r["answer"], r["count"], r["percent"]) for r in table("poll_results.csv")
    ]
    day_id = str(meeting.polls["day"]["id"])
    assert (day_id, "Måndag", "1", "33,3") in results and (day_id, "Tisdag", "2", "66,7") in results
    assert (str(meeting.polls["word"]["id"]), "lärorik", "2", "66,7") in results
    assert (str(meeting.polls["themes"]["id"]), "Digitalisering", "2", "100") in results
    assert table("attendance.csv") == [
        {
            "where": "in person",
            "peak": "2",
            "reached_at": att["peak_room_at"][:19].replace("T", " "),
        },
        {
            "where": "remote",
            "peak": "1",
            "reached_at": att["peak_remote_at"][:19].replace("T", " "),
        },
    ]
    agenda_rows = table("agenda.csv")
    assert agenda_rows[1]["started_at"] == csv_time(meeting.started["samtal-olsson"])
    assert agenda_rows[1]["title"] == "En myndighets förändringsresa"
    session_rows = {r["field"]: r["value"] for r in table("session.csv")}
    assert session_rows["Venue"] == "Klarahuset, Drottninggatan 33"

    # A Swedish moderator gets Swedish headers and words, in the same spreadsheet dialect.
    status, _, body = get(
        f"{room.server.http}/moderate/{SESSION}/report.zip", room.moderator_token, lang="sv-SE"
    )
    assert status == 200
    swedish = zipfile.ZipFile(io.BytesIO(body)).read(folder + "questions.csv").decode("utf-8-sig")
    assert swedish.startswith("Id;Text;Namn;Anonym;Deltar;Status;Röster;")
    assert ";nej;på plats;Besvarad;3;" in swedish and ";ja;" in swedish


async def test_report_gives_the_fairness_figures_per_audience(room: Room) -> None:
    """Per audience: peak participants, questions asked and answered, votes cast, and speaking
    turns on stage, the same in the JSON, the CSV (sv and en) and the summary page.

    The meeting: the room (Anna, Bo) asked three questions, one answered; the remote
    Cecilia asked one, merged into the answered one. Bo and Cecilia voted for it and Anna
    for Cecilia's, whose vote followed the merge: 2 votes from the room, 1 from home. A
    remote participant was invited on stage twice; a hand from the room was declined."""
    await run_meeting(room)
    # The meeting's own people (new ones would raise the peaks): Cecilia remote, Bo in the room.
    people = [c for c in room.opened if c.welcome and c.welcome.get("participant")]
    remote = next(c for c in people if c.welcome["participant"]["where"] == "remote")
    declined = next(c for c in people if c.welcome["participant"]["where"] == "room")
    moderator = next(c for c in room.opened if c.welcome and c.welcome["role"] == "moderator")
    for _ in range(2):
        hand = (await remote.request({"type": "hand.raise"}))["hand"]
        await ok(moderator, {"type": "hand.invite", "hand": hand})
        await ok(remote, {"type": "hand.lower"})
    hand = (await declined.request({"type": "hand.raise"}))["hand"]
    await ok(moderator, {"type": "hand.end", "hand": hand})
    report, _ = await report_with_peaks(room, room.moderator_token, 2, 1)
    assert report["fairness"] == [
        {
            "where": "room",
            "participants_peak": 2,
            "questions_asked": 3,
            "questions_answered": 1,
            "votes_cast": 2,
            "speaking_turns": 0,
        },
        {
            "where": "remote",
            "participants_peak": 1,
            "questions_asked": 1,
            "questions_answered": 0,
            "votes_cast": 1,
            "speaking_turns": 2,
        },
    ]
    base = f"{room.server.http}/moderate/{SESSION}/report"
    for lang, rows in (
        (
            "sv-SE",
            [
                "Deltar;Deltagare (flest samtidigt);Ställda frågor;Besvarade frågor;Röster;"
                "Talturer på scen",
                "på plats;2;3;1;2;0",
                "på distans;1;1;0;1;2",
            ],
        ),
        (
            "en",
            [
                "Taking part;Participants (peak);Questions asked;Questions answered;Votes cast;"
                "Speaking turns on stage",
                "in person;2;3;1;2;0",
                "remote;1;1;0;1;2",
            ],
        ),
    ):
        status, _, body = get(f"{base}.zip", room.moderator_token, lang=lang)
        assert status == 200
        raw = zipfile.ZipFile(io.BytesIO(body)).read(f"companion-{SESSION}/fairness.csv")
        assert raw.decode("utf-8-sig").split("\r\n") == [*rows, ""]

    for lang, heading in (
        ("sv-SE", "På plats och på distans"),
        ("en", "In the room and remote"),
    ):
        status, _, body = get(f"{base}.html", room.moderator_token, lang=lang)
        assert status == 200
        page = body.decode("utf-8")
        assert f'<h2 id="fairness-heading">{heading}</h2>' in page
        cells = _figures(page)
        assert cells == {
            "room": ["2", "3", "1", "2", "0"],
            "remote": ["1", "1", "0", "1", "2"],
        }


def _figures(page: str) -> dict[str, list[str]]:
    """The fairness table's cells, by audience, in column order."""
    table = page.split('<table id="fairness">', 1)[1].split("</table>", 1)[0]
    return {
        row.split('"', 1)[0]: [v.strip() for v in re.findall(r'data-figure="\w+">([^<]*)<', row)]
        for row in table.split('<tr data-where="')[1:]
    }


async def test_only_the_moderator_token_gets_the_report(room: Room) -> None:
    """No token, a wrong token, another session's token or a participant token get nothing."""
    participant = await room.participant("room")
    base = f"{room.server.http}/moderate/{SESSION}/report"
    other_token = room.server.access()["ledarskap-2020-05-15"][1]
    for fmt in ("json", "zip", "html"):
        status, headers, body = get(f"{base}.{fmt}")
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        assert json.loads(body)["code"] == "forbidden"
        for token in ("x" * 43, other_token, participant.welcome["participant"]["token"]):
            status, _, body = get(f"{base}.{fmt}", token)
            assert (status, json.loads(body)["code"]) == (403, "forbidden")
        assert b"Hur" not in body
    status, _, body = get(f"{base}.json", data=b"key=" + other_token.encode())
    assert status == 403
    status, headers, body = get(f"{base}.html", data=f"key={room.moderator_token}".encode())
    assert status == 200 and headers["cache-control"] == "no-store"
    assert "En myndighets förändringsresa" in body.decode()
    assert get(f"{base}.xml", room.moderator_token)[0] == 404
    assert get(f"{room.server.http}/moderate/nope/report.json", room.moderator_token)[0] == 404


async def test_printed_summary_has_the_agenda_questions_and_polls(room: Room) -> None:
    """The summary page printed to an A4 PDF by Chromium contains the agenda with real start
    times, the top questions and the poll results."""
    meeting = await run_meeting(room)
    await report_with_peaks(room, room.moderator_token, 2, 1)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    pdf = Path(OUTPUT) / "report.pdf"
    async with chromium() as browser:
        context, page = await new_page(
            browser,
            {"width": 1024, "height": 800},
            extra_http_headers={"Authorization": f"Bearer {room.moderator_token}"},
        )
        errors: list[str] = page.console_errors  # type: ignore[attr-defined]
        response = await page.goto(f"{room.server.http}/moderate/{SESSION}/report.html")
        assert response is not None and response.status == 200
        await expect(page.locator("h1")).to_have_text("En myndighets förändringsresa")
        # The stylesheet loaded (the CSP allows no inline styles): bars have their width.
        fill = page.locator(".poll[data-kind=single] .fill").nth(1)
        assert "w-65" in (await fill.get_attribute("class") or "")
        assert await fill.evaluate("n => n.getBoundingClientRect().width") > 50
        await page.emulate_media(media="print")
        await expect(page.locator("#print-report")).to_be_hidden()
        await page.pdf(path=str(pdf), format="A4", print_background=True)
        await context.close()
        assert errors == []

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=30)
    assert "A4" in info.stdout, info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=30
    ).stdout
    started = dt.datetime.fromtimestamp(meeting.started["samtal-olsson"]).strftime("%H.%M")
    text = text.replace("\u00a0", " ")  # "66,7 %" keeps its number and sign together
    for expected in (
        "MÖTESRAPPORT",  # the kicker is set in capitals
        "En myndighets förändringsresa",
        "Anki Udd",
        "Programmet som det blev",
        "Välkommen",
        "tisdag 5 maj 2020",
        "09.40",
        started,
        "Hur mäter ni förändringen?",
        "3 röster",
        "0 röster",
        "Kommer presentationen att delas?",
        "Vilken dag passar bäst för nästa träff?",
        "Måndag",
        "66,7 %",
        "medelvärde 4,5",
        "lärorik",
        "Vilka teman vill ni ha?",
    ):
        assert expected in text, (expected, text)
    assert "50 %" in text and "50,0" not in text  # whole percentages have no decimal
    # Hidden questions are not among the top questions of a summary that may be shared.
    assert "SUMMA" not in text
