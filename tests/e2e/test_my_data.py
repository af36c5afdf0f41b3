"""The participant's own data over real WebSockets: see it, withdraw a question, take the
name off it and forget the device, each only for one's own data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.e2e.conftest import SESSION, Room


def stored_log(room: Room) -> str:
    """The session's whole event log as stored in the server's SQLite file."""
    with sqlite3.connect(Path(room.server.data_dir) / "companion.db") as db:
        rows = db.execute("SELECT data FROM events WHERE session_id = ?", (SESSION,)).fetchall()
    return "\n".join(r[0] for r in rows)


async def test_my_data_withdraw_unname_and_forget(room: Room) -> None:
    mod = await room.moderator()
    screen = await room.screen()
    anna = await room.participant("room", name="Anna Andersson")
    bo = await room.participant("remote")
    anna_id = anna.welcome["participant"]["id"]
    q1 = (await anna.request({"type": "ask", "text": "Första frågan"}))["question"]
    q2 = (await anna.request({"type": "ask", "text": "Andra frågan"}))["question"]
    q3 = (await bo.request({"type": "ask", "text": "Bos fråga"}))["question"]
    assert (await anna.request({"type": "vote", "question": q3}))["voted"] is True
    poll = (
        await mod.request({"type": "poll.create", "kind": "words", "text": "Ett ord om dagen?"})
    )["poll"]
    await mod.request({"type": "poll.open", "poll": poll})
    await anna.request({"type": "poll.answer", "poll": poll, "answer": "Trygghet"})

    mine = (await anna.request({"type": "me.data"}))["data"]
    assert [(q["id"], q["text"], q["name"]) for q in mine["questions"]] == [
        (q1, "Första frågan", "Anna Andersson"),
        (q2, "Andra frågan", "Anna Andersson"),
    ]
    assert mine["votes"] == [q3] and mine["answers"] == [{"poll": poll, "answer": "trygghet"}]

    # Only one's own: Bo's question answers as a missing one would.
    for kind in ("question.withdraw", "question.unname"):
        refused = await anna.request({"type": kind, "question": q3})
        assert refused["type"] == "error" and refused["code"] == "not_found"
        missing = await anna.request({"type": kind, "question": 999})
        assert missing["code"] == "not_found"
    for role in (mod, screen):
        denied = await role.request({"type": "me.data"})
        assert denied["type"] == "error" and denied["code"] == "forbidden"

    # Withdraw: gone for everyone, like a hidden one, and no moderator brings it back.
    assert (await anna.request({"type": "question.withdraw", "question": q2}))["type"] == "ack"
    await screen.wait_for(lambda m: m["type"] == "questions" and q2 in m["removed"])
    await bo.wait_for(lambda m: m["type"] == "questions" and q2 in m["removed"])
    back = await mod.request({"type": "question.approve", "question": q2})
    assert back["type"] == "error" and back["code"] == "question_withdrawn"

    # Unname: everyone sees it without the name, and the stored log no longer has it...
    assert (await anna.request({"type": "question.unname", "question": q1}))["type"] == "ack"
    await screen.wait_for(
        lambda m: (
            m["type"] == "questions"
            and any(q["id"] == q1 and q["name"] is None for q in m["questions"])
        )
    )
    again = await anna.request({"type": "question.unname", "question": q1})
    assert again["code"] == "no_name"
    assert stored_log(room).count("Anna Andersson") == 1  # on the other question only
    assert '"text": "Första frågan", "name": null' in stored_log(room)
    # ...nor does a screen resuming from before it get the name replayed.
    late = await room.connect()
    await late.join(role="screen", code=room.code, since=1)
    assert "Anna Andersson" not in json.dumps(late.messages, ensure_ascii=False)

    # Forget this device: the id is nowhere in the log; the questions, vote and answer stay.
    forgot = await anna.request({"type": "participant.forget"})
    assert (forgot["questions"], forgot["votes"], forgot["answers"]) == (2, 1, 1)
    assert anna_id not in stored_log(room)
    fresh = await room.moderator()
    snap = await fresh.wait_for(lambda m: m["type"] == "snapshot")
    by_id = {q["id"]: q for q in snap["questions"]}
    assert by_id[q3]["votes"] == 1 and by_id[q1]["text"] == "Första frågan"
    assert anna_id not in json.dumps(snap)
    reopened = await room.participant("room", token=anna.welcome["participant"]["token"])
    assert (await reopened.request({"type": "me.data"}))["data"] == {
        "questions": [],
        "votes": [],
        "answers": [],
        "hand": None,
    }
    # Everyone else goes on as before.
    assert (await bo.request({"type": "vote", "question": q1}))["votes"] == 1
