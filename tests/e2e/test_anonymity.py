"""Anonymous questions are anonymous to moderators too, over real WebSockets and HTTP: no
moderator-visible message (live, snapshot, replay after resume, after a restart) and no
report links an anonymous question to a participant or to another question; a moderator
can still mute an abusive asker by question id."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.e2e.conftest import Room
from tests.e2e.test_report import get


def leaves(value: Any, inside_named: bool = False) -> list[tuple[str, bool]]:
    """Every scalar in a JSON document, as text, with whether it sits inside a question
    object that carries a name (the only place an author id may appear)."""
    if isinstance(value, dict):
        named = inside_named or ("text" in value and "status" in value and value.get("name"))
        found = [(str(key), bool(named)) for key in value]
        for item in value.values():
            found += leaves(item, bool(named))
        return found
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item, inside_named)]
    return [(str(value), inside_named)]


def anonymous_views(documents: list[Any]) -> list[dict[str, Any]]:
    """Every question object with no name, anywhere in the documents."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "text" in value and "status" in value and value.get("name", "x") is None:
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(documents)
    return found


async def test_no_moderator_message_or_report_links_an_anonymous_question(room: Room) -> None:
    """Anna asks once with her name and once without; Bo asks without. Whatever a moderator
    can receive or download holds neither Bo's nor Carl's participant id or token (nor a
    short prefix of them), holds Anna's id only inside her named question, and her
    anonymous question looks exactly like Bo's but for id, text and time. Carl, muted on
    his anonymous question, keeps his earlier question but nothing he sends afterwards
    reaches a moderator, the screen, the report or the other participants, across a
    restart too; one vote per participant still holds."""
    watcher = await room.moderator()
    opening = await watcher.wait_for(lambda m: m["type"] == "snapshot")
    screen = await room.screen()
    anna = await room.participant("room", name="Anna")
    bo = await room.participant("room")
    carl = await room.participant("room")
    ids = {
        who: (c.welcome["participant"]["id"], c.welcome["participant"]["token"])
        for who, c in (("anna", anna), ("bo", bo), ("carl", carl))
    }

    named = (await anna.request({"type": "ask", "text": "Annas fråga med namn", "name": "Anna"}))[
        "question"
    ]
    anna_anon = (await anna.request({"type": "ask", "text": "Annas anonyma fråga", "name": None}))[
        "question"
    ]
    bo_anon = (await bo.request({"type": "ask", "text": "Bos anonyma fråga"}))["question"]
    carl_first = (await carl.request({"type": "ask", "text": "Carls första fråga"}))["question"]
    abuse = (await carl.request({"type": "ask", "text": "Carls olämpliga fråga"}))["question"]
    for voter in (anna, bo, carl):
        for qid in (named, anna_anon, bo_anon):
            assert (await voter.request({"type": "vote", "question": qid}))["voted"] is True
    # One vote per participant: Bo's second vote withdraws, it does not count twice.
    assert (await bo.request({"type": "vote", "question": bo_anon}))["votes"] == 2
    assert (await bo.request({"type": "vote", "question": bo_anon}))["votes"] == 3

    hid = await watcher.request({"type": "question.hide_asker", "question": abuse})
    assert hid["type"] == "ack", hid
    await screen.wait_for(lambda m: m["type"] == "questions" and abuse in m["removed"])
    later = await carl.request({"type": "ask", "text": "Carls senare fråga"})
    assert later["type"] == "ack" and later["status"] == "hidden"
    # A moderator cannot act on (or probe for) the withheld question by guessing its id.
    probe = await watcher.request({"type": "question.approve", "question": later["question"]})
    assert probe["type"] == "error" and probe["code"] == "not_found"
    marker = await anna.request({"type": "ask", "text": "Sista frågan", "name": "Anna"})
    await watcher.wait_for(
        lambda m: (
            m["type"] == "questions" and any(q["text"] == "Sista frågan" for q in m["questions"])
        )
    )

    fresh = await room.moderator()
    snapshot = await fresh.wait_for(lambda m: m["type"] == "snapshot")
    resumed = await room.connect()
    await resumed.join(
        role="moderator",
        session=room.session,
        moderator_token=room.moderator_token,
        since=opening["seq"],
    )
    await resumed.wait_for(lambda m: m["type"] == "resumed")
    replay = [m for m in resumed.messages if m.get("type") not in ("welcome", "resumed")]
    assert any(m["type"] == "questions" for m in replay)
    assert {q["id"] for q in snapshot["questions"]} == {
        named,
        anna_anon,
        bo_anon,
        carl_first,
        abuse,
        marker["question"],
    }
    report_json = json.loads(
        get(f"{room.server.http}/moderate/{room.session}/report.json", room.moderator_token)[2]
    )
    status, _, archive = get(
        f"{room.server.http}/moderate/{room.session}/report.zip", room.moderator_token
    )
    assert status == 200
    csvs = [
        zipfile.ZipFile(io.BytesIO(archive)).read(n).decode()
        for n in zipfile.ZipFile(io.BytesIO(archive)).namelist()
    ]
    html = get(f"{room.server.http}/moderate/{room.session}/report.html", room.moderator_token)[
        2
    ].decode()

    documents: list[Any] = [watcher.messages, screen.messages, snapshot, replay, report_json]
    texts = [json.dumps(d, ensure_ascii=False) for d in documents] + csvs + [html]
    for who in ("bo", "carl"):
        participant_id, token = ids[who]
        # The id, a handle-length prefix of it, the token and its signature part.
        for secret in (participant_id, participant_id[:6], token, token.rsplit(".", 1)[-1]):
            for text in texts:
                assert secret not in text, (who, secret)
    anna_id = ids["anna"][0]
    for text, inside_named in leaves(documents):
        if anna_id[:6] in text:
            assert inside_named, text
    for text in [*csvs, html]:
        assert anna_id[:6] not in text
    for text in texts:
        assert "Carls senare fråga" not in text
    assert not any("Carls senare fråga" in json.dumps(m) for c in (anna, bo) for m in c.messages)

    # Anna's anonymous question is indistinguishable from Bo's but for id, text and time.
    def shape(view: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in view.items() if k not in ("id", "text", "asked_at")}

    views = anonymous_views(documents)
    assert {v["id"] for v in views} >= {anna_anon, bo_anon, carl_first, abuse}
    for source in (snapshot["questions"], report_json["questions"]):
        by_id = {q["id"]: q for q in source}
        assert shape(by_id[anna_anon]) == shape(by_id[bo_anon])

    # The mute is decided from the event log, so it holds after a restart.
    room.server.stop()
    room.server.start()
    carl_again = await room.connect()
    await carl_again.join(code=room.code, where="room", token=ids["carl"][1])
    again = await carl_again.request({"type": "ask", "text": "Carl efter omstart"})
    assert again["type"] == "ack" and again["status"] == "hidden"
    after = await room.moderator()
    restarted = await after.wait_for(lambda m: m["type"] == "snapshot")
    assert "Carl efter omstart" not in json.dumps(restarted, ensure_ascii=False)
    assert ids["carl"][0] not in json.dumps(restarted)
