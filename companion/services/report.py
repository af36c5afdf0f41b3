"""The meeting report: what happened in a session, as JSON, as zipped CSV and as data for
the printable summary page.

Everything comes from the session's state, which is the fold of its event log, so a
report made during the session is simply the state so far. Times are the server's local
time (set `TZ`, e.g. `TZ=Europe/Stockholm`), ISO 8601 with the offset in JSON and
`YYYY-MM-DD HH:MM:SS` in CSV, which spreadsheets read as a date and time.

CSV dialect, chosen so that the files open correctly by double-click in a Swedish Excel
or LibreOffice: UTF-8 with a byte-order mark (without it Excel reads å, ä, ö as
mojibake), `;` between fields (a Swedish spreadsheet's list separator, because `,` is the
decimal sign), decimal commas, CRLF line ends, fields quoted only when needed. Text
written by participants that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
gets a leading `'` so a spreadsheet never runs it as a formula. Headers, yes/no and the
codes people read (on site/remote, statuses, kinds) follow the report's language; the
dialect is the same in both, since the spreadsheets are those of Swedish offices.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from typing import Any, Protocol

from companion.domain.fairness import audience_figures
from companion.domain.polls import CHOICE_KINDS, Poll, PollKind, results
from companion.domain.programme import Event, Network, Session
from companion.domain.questions import PUBLIC_STATUSES, Question
from companion.domain.session_state import SessionState
from companion.services.projection import clock

REPORT_VERSION = 1
TOP_QUESTIONS = 10
CSV_DELIMITER = ";"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _speakers(speakers: Any) -> str:
    return ", ".join(s.name for s in speakers)


def _percent(count: int, total: int) -> float:
    return round(100 * count / total, 1) if total else 0.0


def poll_rows(poll: Poll) -> list[dict[str, Any]]:
    """One row per option, rating value or word: what was answered and how often."""
    full = results(poll, cloud_words=None)
    n = poll.respondents
    if poll.kind in CHOICE_KINDS:
        labels = [(str(i), text) for i, text in enumerate(poll.options, 1)]
        counts = full["counts"]
    elif poll.kind == PollKind.RATING:
        labels = [(str(v), str(v)) for v in range(1, (poll.scale or 0) + 1)]
        counts = full["distribution"]
    else:
        labels = [(word, word) for word, _ in full["words"]]
        counts = [count for _, count in full["words"]]
    return [
        {"option": key, "answer": label, "count": count, "percent": _percent(count, n)}
        for (key, label), count in zip(labels, counts, strict=True)
    ]


def build_report(
    state: SessionState,
    network: Network | None,
    event: Event | None,
    generated_at: float,
) -> dict[str, Any]:
    """The whole report of one session as plain data (the JSON format)."""
    session: Session = state.session
    agenda = state.agenda
    titles = {item.id: item.title for item in session.items}
    asked_under: dict[str | None, int] = {}
    for q in state.board.seen_by_moderators():
        asked_under[q.item_id] = asked_under.get(q.item_id, 0) + 1
    att = state.attendance
    return {
        "format": "companion-report",
        "version": REPORT_VERSION,
        "generated_at": _iso(generated_at),
        "session": {
            "id": session.id,
            "title": session.title,
            "event": event.title if event else None,
            "network": network.title if network else None,
            "date": event.date.isoformat() if event and event.date else None,
            "venue": event.venue if event else None,
            "moderator": session.moderator.name if session.moderator else None,
        },
        "attendance": {
            "peak_room": att.peak_room,
            "peak_room_at": _iso(att.peak_room_at),
            "peak_remote": att.peak_remote,
            "peak_remote_at": _iso(att.peak_remote_at),
        },
        # Per audience, so a hybrid meeting can see whether both took part. A speaking turn
        # is an invitation onto the stage (`hand.invite`) of someone from that audience.
        "fairness": [
            {
                "where": f.where,
                "participants_peak": f.peak,
                "questions_asked": f.asked,
                "questions_answered": f.answered,
                "votes_cast": f.votes,
                "speaking_turns": state.hands.turns.get(f.where, 0),
            }
            for f in audience_figures(
                state.board.questions.values(),
                state.board.audience_of,
                {"room": att.peak_room, "remote": att.peak_remote},
            )
        ],
        "agenda": [
            {
                "position": i,
                "id": item.id,
                "kind": item.kind.value,
                "title": item.title,
                "speakers": _speakers(item.speakers),
                "planned_start": clock(item.start),
                "planned_minutes": item.minutes,
                "status": agenda.statuses[item.id].value,
                "started_at": _iso(agenda.started_at.get(item.id)),
                "questions": asked_under.get(item.id, 0),
            }
            for i, item in enumerate(session.items, 1)
        ],
        "questions": [_question(q, titles) for q in state.board.seen_by_moderators()],
        "polls": [_poll(p, titles) for p in state.polls.polls.values()],
        # Which members took part: only a members-only session says (its remote
        # participants came through their personal links); null for any other session.
        "members": (
            sorted(
                (
                    {
                        "name": m["name"],
                        "organisation": m["organisation"],
                        "joined_at": _iso(m["at"]),
                    }
                    for m in state.members_present.values()
                ),
                key=lambda m: (m["name"].casefold(), m["joined_at"] or ""),
            )
            if session.members_only
            else None
        ),
    }


def _question(q: Question, titles: dict[str, str]) -> dict[str, Any]:
    return {
        "id": q.id,
        "text": q.text,
        "name": q.name,
        "anonymous": q.name is None,
        "where": q.where,
        "status": q.status.value,
        "votes": q.votes,
        "merged_into": q.merged_into,
        "merged_from": list(q.merged_from),
        "item_id": q.item_id,
        "item_title": titles.get(q.item_id) if q.item_id else None,
        "asked_at": _iso(q.asked_at),
        "answered_at": _iso(q.answered_at),
        "edited": q.edited,
    }


def _poll(p: Poll, titles: dict[str, str]) -> dict[str, Any]:
    full = results(p, cloud_words=None)
    return {
        "id": p.id,
        "kind": p.kind.value,
        "text": p.text,
        "item_id": p.item_id,
        "item_title": titles.get(p.item_id) if p.item_id else None,
        "status": p.status.value,
        "hide_results": p.hide_results,
        "max_choices": p.max_choices,
        "scale": p.scale,
        "options": list(p.options),
        "created_at": _iso(p.created_at),
        "opened_at": _iso(p.opened_at),
        "closed_at": _iso(p.closed_at),
        "respondents": p.respondents,
        "average": full.get("average"),
        "results": poll_rows(p),
    }


def top_questions(report: dict[str, Any], limit: int = TOP_QUESTIONS) -> list[dict[str, Any]]:
    """The public questions with the most votes (the earliest first among equals)."""
    public = {s.value for s in PUBLIC_STATUSES}
    shown = [q for q in report["questions"] if q["status"] in public]
    return sorted(shown, key=lambda q: (-q["votes"], q["asked_at"] or ""))[:limit]


def questions_by_item(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The public questions grouped by the agenda item that was current when each was asked,
    in agenda order (then those asked before any item), each group by votes."""
    public = {s.value for s in PUBLIC_STATUSES}
    shown = [q for q in report["questions"] if q["status"] in public]
    shown.sort(key=lambda q: (-q["votes"], q["asked_at"] or ""))
    groups = [{"item_id": a["id"], "title": a["title"], "questions": []} for a in report["agenda"]]
    groups.append({"item_id": None, "title": None, "questions": []})
    by_id = {g["item_id"]: g for g in groups}
    for q in shown:
        by_id.get(q["item_id"], by_id[None])["questions"].append(q)
    return [g for g in groups if g["questions"]]


# -- encodings -------------------------------------------------------------------------------


def to_json(report: dict[str, Any]) -> bytes:
    """The report as UTF-8 JSON, Swedish characters as they are."""
    return json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")


def _csv_time(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, int):
        return str(value)
    text = str(value)
    # Spreadsheets run a cell starting with these as a formula (CSV injection).
    return "'" + text if text.startswith(FORMULA_START) else text


class Words(Protocol):
    """The report's language: `t(key)` from the catalogue (companion/web/i18n.py)."""

    def __call__(self, key: str, **values: object) -> str: ...


def _table(columns: list[str], rows: list[list[Any]], t: Words) -> bytes:
    """A CSV file whose header row names each column in the report's language (catalogue
    keys `csv.<column>`); yes/no are written in that language too."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=CSV_DELIMITER, lineterminator="\r\n")
    writer.writerow([t(f"csv.{column}") for column in columns])
    for row in rows:
        writer.writerow(
            [t("csv.yes" if v else "csv.no") if isinstance(v, bool) else _cell(v) for v in row]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def csv_tables(report: dict[str, Any], t: Words) -> dict[str, bytes]:
    """One CSV file per table, by file name, with headers and words in the language of `t`.

    Codes people read (where, status, kind) are written as words; ids, numbers and times
    stay as data."""
    s, att = report["session"], report["attendance"]

    def where(code: str | None) -> str | None:
        return {"room": t("common.in_room"), "remote": t("common.remote")}.get(code or "", code)

    return {
        "session.csv": _table(
            ["field", "value"],
            [
                [t(f"csv.{key}"), value]
                for key, value in (
                    ("id", s["id"]),
                    ("title", s["title"]),
                    ("event", s["event"]),
                    ("network", s["network"]),
                    ("date", s["date"]),
                    ("venue", s["venue"]),
                    ("moderator", s["moderator"]),
                    ("generated_at", _csv_time(report["generated_at"])),
                )
            ],
            t,
        ),
        "attendance.csv": _table(
            ["where", "peak", "reached_at"],
            [
                [where("room"), att["peak_room"], _csv_time(att["peak_room_at"])],
                [where("remote"), att["peak_remote"], _csv_time(att["peak_remote_at"])],
            ],
            t,
        ),
        "fairness.csv": _table(
            [
                "where",
                "participants_peak",
                "questions_asked",
                "questions_answered",
                "votes_cast",
                "speaking_turns",
            ],
            [
                [
                    where(f["where"]),
                    f["participants_peak"],
                    f["questions_asked"],
                    f["questions_answered"],
                    f["votes_cast"],
                    f["speaking_turns"],
                ]
                for f in report["fairness"]
            ],
            t,
        ),
        "agenda.csv": _table(
            [
                "position",
                "item_id",
                "kind",
                "title",
                "speakers",
                "planned_start",
                "planned_minutes",
                "status",
                "started_at",
                "questions",
            ],
            [
                [
                    a["position"],
                    a["id"],
                    t(f"common.kind_{a['kind']}"),
                    a["title"],
                    a["speakers"],
                    a["planned_start"],
                    a["planned_minutes"],
                    t(f"common.status_{a['status']}"),
                    _csv_time(a["started_at"]),
                    a["questions"],
                ]
                for a in report["agenda"]
            ],
            t,
        ),
        "questions.csv": _table(
            [
                "id",
                "text",
                "name",
                "anonymous",
                "where",
                "status",
                "votes",
                "merged_into",
                "merged_from",
                "item_id",
                "item_title",
                "asked_at",
                "answered_at",
                "edited",
            ],
            [
                [
                    q["id"],
                    q["text"],
                    q["name"],
                    q["anonymous"],
                    where(q["where"]),
                    t(f"moderator.status_{q['status']}"),
                    q["votes"],
                    q["merged_into"],
                    " ".join(str(i) for i in q["merged_from"]),
                    q["item_id"],
                    q["item_title"],
                    _csv_time(q["asked_at"]),
                    _csv_time(q["answered_at"]),
                    q["edited"],
                ]
                for q in report["questions"]
            ],
            t,
        ),
        "polls.csv": _table(
            [
                "id",
                "kind",
                "text",
                "options",
                "max_choices",
                "scale",
                "item_id",
                "item_title",
                "status",
                "hide_results",
                "respondents",
                "average",
                "opened_at",
                "closed_at",
            ],
            [
                [
                    p["id"],
                    t(f"polls.kind_{p['kind']}"),
                    p["text"],
                    " | ".join(p["options"]),
                    p["max_choices"],
                    p["scale"],
                    p["item_id"],
                    p["item_title"],
                    t(f"polls.status_{p['status']}"),
                    p["hide_results"],
                    p["respondents"],
                    p["average"],
                    _csv_time(p["opened_at"]),
                    _csv_time(p["closed_at"]),
                ]
                for p in report["polls"]
            ],
            t,
        ),
        "poll_results.csv": _table(
            ["poll_id", "poll", "kind", "option", "answer", "count", "percent"],
            [
                [
                    p["id"],
                    p["text"],
                    t(f"polls.kind_{p['kind']}"),
                    r["option"],
                    r["answer"],
                    r["count"],
                    r["percent"],
                ]
                for p in report["polls"]
                for r in p["results"]
            ],
            t,
        ),
        **(
            {
                "members.csv": _table(
                    ["name", "organisation", "joined_at"],
                    [
                        [m["name"], m["organisation"], _csv_time(m["joined_at"])]
                        for m in report["members"]
                    ],
                    t,
                )
            }
            if report.get("members") is not None
            else {}
        ),
    }


def to_zip(report: dict[str, Any], t: Words) -> bytes:
    """Every CSV table in one zip file, in a folder named after the session; headers and
    words in the language of `t`."""
    out = io.BytesIO()
    folder = f"companion-{report['session']['id']}"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in csv_tables(report, t).items():
            archive.writestr(f"{folder}/{name}", data)
    return out.getvalue()
