"""Tests of the meeting report's data and encodings, and of how attendance peaks are
sampled by the hub and reported at a low rate."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest

from companion.domain import events as ev
from companion.domain.programme import AgendaItem, Event, ItemKind, Network, Session, Speaker
from companion.domain.session_state import SessionState
from companion.realtime import hub as hub_module
from companion.realtime.hub import Hub, Member
from companion.services import report as reports
from companion.web.i18n import translator
from companion.web.report_pages import bar_class, cloud_class

SESSION = Session(
    id="rapport",
    title="Rapportsession",
    moderator=Speaker("Anki Udd"),
    items=(
        AgendaItem("a", ItemKind.TALK, "Välkommen", speakers=(Speaker("Anki Udd"),), minutes=10),
        AgendaItem("b", ItemKind.DIALOGUE, "Samtal", minutes=30),
    ),
)
EVENT = Event("e1", "Nätverksträff", venue="Klarahuset")
NETWORK = Network("n1", "Ledarskap")


class Meeting:
    """A SessionState driven like the service, with a controllable clock."""

    def __init__(self) -> None:
        self.state = SessionState(SESSION)
        self.now = 1_700_000_000.0

    def commit(self, draft: ev.Draft) -> None:
        self.now += 60.0
        self.state.apply(ev.Event(SESSION.id, self.state.seq + 1, draft.type, draft.data, self.now))

    def ask(self, text: str, name: str | None, author: str) -> int:
        s = self.state
        draft = s.board.ask(text, name, author, "room", s.agenda.current, False)
        self.commit(draft)
        return draft.data["id"]


def meeting() -> Meeting:
    m = Meeting()
    s = m.state
    m.commit(s.attendance.record(5, 2))
    early = m.ask("Före start?", None, "p1")
    m.commit(s.agenda.step(+1))
    m.commit(s.agenda.step(+1))
    main = m.ask("Hur går det?", "Anna", "p1")
    m.ask("@Formel", None, "p2")
    for voter in ("p2", "p3"):
        m.commit(s.board.vote(main, voter))
    m.commit(s.board.answer(main))
    m.commit(s.create_poll({"kind": "rating", "text": "Betyg?", "scale": 5, "item": "b"}))
    m.commit(s.polls.open(1))
    for who, value in (("p1", 4), ("p2", 5), ("p3", 4)):
        m.commit(s.polls.answer(1, who, value))
    m.commit(s.polls.close(1))
    m.commit(s.create_poll({"kind": "words", "text": "Ett ord?"}))
    assert early == 1
    return m


def test_report_follows_the_state_field_by_field() -> None:
    """Session facts, agenda with real start times, questions and poll results come from the state."""
    m = meeting()
    report = reports.build_report(m.state, NETWORK, EVENT, m.now)
    assert report["session"]["event"] == "Nätverksträff"
    assert report["session"]["venue"] == "Klarahuset" and report["session"]["date"] is None
    assert report["attendance"]["peak_room"] == 5 and report["attendance"]["peak_remote"] == 2
    a, b = report["agenda"]
    assert (a["status"], b["status"]) == ("done", "live")
    assert b["started_at"] == reports._iso(m.state.agenda.started_at["b"])
    assert (a["questions"], b["questions"]) == (0, 2)
    q = {x["id"]: x for x in report["questions"]}
    assert q[1]["item_id"] is None and q[1]["anonymous"] is True
    assert (q[2]["votes"], q[2]["status"], q[2]["item_title"]) == (2, "answered", "Samtal")
    assert q[2]["answered_at"] is not None and q[3]["answered_at"] is None
    rating, words = report["polls"]
    assert (rating["average"], rating["respondents"], rating["status"]) == (4.33, 3, "closed")
    assert [r["count"] for r in rating["results"]] == [0, 0, 0, 2, 1]
    assert rating["results"][3] == {"option": "4", "answer": "4", "count": 2, "percent": 66.7}
    assert (words["status"], words["results"], words["average"]) == ("draft", [], None)
    assert [t["id"] for t in reports.top_questions(report)] == [2, 1, 3]
    json.loads(reports.to_json(report))


def test_questions_are_grouped_by_the_item_they_were_asked_under() -> None:
    """Agenda order, then questions asked before any item; by votes within a group; hidden
    questions left out; items without questions have no group."""
    m = meeting()
    s = m.state
    m.commit(s.agenda.step(-1))  # back to "Välkommen"
    late = m.ask("En fråga till välkomnandet", None, "p4")
    hidden = m.ask("Dold", None, "p5")
    m.commit(s.board.hide(hidden))
    groups = reports.questions_by_item(reports.build_report(m.state, NETWORK, EVENT, m.now))
    assert [(g["item_id"], g["title"], [q["id"] for q in g["questions"]]) for g in groups] == [
        ("a", "Välkommen", [late]),
        ("b", "Samtal", [2, 3]),
        (None, None, [1]),
    ]


def test_csv_is_made_for_a_swedish_spreadsheet() -> None:
    """BOM, semicolons, CRLF, decimal commas, Swedish headers and ja/nej, and no formula
    can sneak in."""
    m = meeting()
    report = reports.build_report(m.state, None, None, m.now)
    archive = zipfile.ZipFile(io.BytesIO(reports.to_zip(report, translator("sv"))))
    raw = archive.read("companion-rapport/polls.csv")
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    header, first = rows[0], rows[1]
    assert dict(zip(header, first, strict=True))["Medelvärde"] == "4,33"
    questions = archive.read("companion-rapport/questions.csv").decode("utf-8-sig")
    assert questions.startswith("Id;Text;Namn;Anonym;Deltar;Status;Röster;")
    assert ";'@Formel;" in questions
    assert ";ja;" in questions and ";nej;" in questions
    assert "yes" not in questions and ";room;" not in questions and ";på plats;" in questions


def test_csv_headers_and_words_follow_the_report_language() -> None:
    """An English export has English headers and yes/no; the dialect stays Swedish."""
    m = meeting()
    report = reports.build_report(m.state, None, None, m.now)
    tables = reports.csv_tables(report, translator("en"))
    questions = tables["questions.csv"].decode("utf-8-sig")
    assert questions.startswith("ID;Text;Name;Anonymous;Taking part;Status;Votes;")
    assert ";yes;" in questions and ";no;" in questions and ";in person;" in questions
    polls = tables["polls.csv"].decode("utf-8-sig")
    assert ";Average;" in polls and ";4,33;" in polls


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+46 8 123", "'+46 8 123"),
        ("-tankar", "'-tankar"),
        ("@a", "'@a"),
        ("\tx", "'\tx"),
        ("Åsa; Örjan", "Åsa; Örjan"),
        (66.7, "66,7"),
        (100.0, "100"),
        (0.0, "0"),
        (-3, "-3"),
        (None, ""),
    ],
)
def test_csv_cells(value: Any, cell: str) -> None:
    """Participant text is neutralised against formulas; numbers get a decimal comma."""
    assert reports._cell(value) == cell


def test_summary_helpers_pick_classes_not_inline_styles() -> None:
    """Bars widths and word sizes are classes (the CSP forbids inline styles)."""
    assert [bar_class(p) for p in (0, 2.4, 2.6, 66.7, 100, 140)] == [
        "w-0",
        "w-0",
        "w-5",
        "w-65",
        "w-100",
        "w-100",
    ]
    assert [cloud_class(n, 8) for n in (1, 4, 8)] == ["cloud-1", "cloud-3", "cloud-5"]
    assert cloud_class(0, 0) == "cloud-1"


# -- attendance peaks in the hub -------------------------------------------------------------


class FakeSocket:
    transport = None


def test_hub_reports_new_peaks_at_once_then_at_most_every_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first peak is reported at the next flush; a growing crowd is reported at most
    every `peak_interval` seconds, ending with the final peak; a shrinking one never."""
    monkeypatch.setattr(hub_module, "fan_out", lambda sockets, payload: None)
    clock = [100.0]
    monkeypatch.setattr(hub_module.time, "monotonic", lambda: clock[0])
    hub = Hub()
    reported: list[tuple[str, int, int]] = []
    hub.on_peak = lambda sid, room, remote: reported.append((sid, room, remote))
    hub.ensure_room("s", 0)
    members = []

    def join(where: str) -> None:
        member = Member(FakeSocket(), "s", "participant", f"p{len(members)}", where)  # type: ignore[arg-type]
        members.append(member)
        hub.join(member, None, lambda: {"type": "snapshot"})

    join("room")
    hub.flush()
    assert reported == [("s", 1, 0)]
    for where in ("room", "remote", "remote"):
        join(where)
        clock[0] += 0.1
        hub.flush()
    assert reported == [("s", 1, 0)]  # within the interval: held back
    clock[0] += hub.peak_interval
    hub.flush()
    assert reported[-1] == ("s", 2, 2)
    for member in members[:3]:
        hub.leave(member)
    clock[0] += 10
    hub.flush()
    assert reported == [("s", 1, 0), ("s", 2, 2)]  # leaving never lowers a peak
