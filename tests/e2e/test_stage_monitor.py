"""The stage monitor's messages over real WebSockets (docs/protocol.md, `stage.send`):
only moderators send them, moderator connections (the console and the stage monitor) get
them, participants and screens never do, and a resume replays them."""

from __future__ import annotations

from tests.e2e.conftest import Room


async def test_only_moderators_send_and_only_moderators_are_told(room: Room) -> None:
    moderator = await room.moderator()
    stage = await room.moderator()  # the stage monitor joins with the moderator key
    participant = await room.participant("remote")
    screen = await room.screen()

    refused = await participant.request({"type": "stage.send", "text": "Hej från salen"})
    assert refused["type"] == "error" and refused["code"] == "forbidden", refused
    refused = await screen.request({"type": "stage.send", "text": "Hej"})
    assert refused["code"] == "forbidden", refused

    text = "<b>Dags att runda av</b>"
    assert (await moderator.request({"type": "stage.send", "text": text}))["type"] == "ack"
    shown = await stage.wait_for(lambda m: m["type"] == "stage")
    assert [m["text"] for m in shown["stage"]["messages"]] == [text]  # as typed; pages escape
    sent_seq = shown["seq"]

    # Another change everyone sees, after it: when participants and the screen have that,
    # they would have had the stage message before it, had it been sent to them.
    await moderator.request({"type": "agenda.next"})
    for client in (participant, screen):
        await client.wait_for(lambda m: m["type"] == "agenda")
        assert not [m for m in client.messages if m["type"] == "stage"]
        assert all(m.get("seq") != sent_seq for m in client.messages)
        assert "Dags att runda av" not in repr(client.messages)

    message_id = shown["stage"]["messages"][0]["id"]
    assert (await participant.request({"type": "stage.dismiss", "message": message_id}))[
        "code"
    ] == "forbidden"
    assert (await moderator.request({"type": "stage.dismiss", "message": message_id}))[
        "type"
    ] == "ack"
    cleared = await stage.wait_for(lambda m: m["type"] == "stage" and not m["stage"]["messages"])
    assert cleared["seq"] > sent_seq


async def test_limits_and_refusals(room: Room) -> None:
    moderator = await room.moderator()
    too_long = await moderator.request({"type": "stage.send", "text": "x" * 121})
    assert too_long["code"] == "text_too_long"
    assert (await moderator.request({"type": "stage.send", "text": " \n "}))["code"] == "text_empty"
    assert (await moderator.request({"type": "stage.send", "text": 5}))["code"] == "invalid_text"
    assert (await moderator.request({"type": "stage.send", "text": "x" * 120}))["type"] == "ack"
    for text in ("2 minuter kvar", "Ta en fråga från distans"):
        assert (await moderator.request({"type": "stage.send", "text": text}))["type"] == "ack"
    full = await moderator.request({"type": "stage.send", "text": "En till"})
    assert full["code"] == "stage_full"
    missing = await moderator.request({"type": "stage.dismiss", "message": 99})
    assert missing["code"] == "not_found"


async def test_resume_and_snapshot_bring_the_shown_messages(room: Room) -> None:
    moderator = await room.moderator()
    stage = await room.moderator()
    await stage.wait_for(lambda m: m["type"] == "snapshot")
    last_seen = stage.seq
    await stage.close()

    await moderator.request({"type": "stage.send", "text": "2 minuter kvar"})
    await moderator.request({"type": "stage.send", "text": "Ta en fråga från distans"})
    await moderator.request({"type": "stage.dismiss", "message": 1})

    back = await room.moderator(since=last_seen)  # resumes: the missed events, replayed
    await back.wait_for(lambda m: m["type"] == "resumed")
    replayed = [m for m in back.messages if m["type"] == "stage"]
    assert [[x["text"] for x in m["stage"]["messages"]] for m in replayed] == [
        ["2 minuter kvar"],
        ["2 minuter kvar", "Ta en fråga från distans"],
        ["Ta en fråga från distans"],
    ]
    fresh = await room.moderator()
    snapshot = await fresh.wait_for(lambda m: m["type"] == "snapshot")
    assert [m["text"] for m in snapshot["stage"]["messages"]] == ["Ta en fråga från distans"]
    participant = await room.participant()
    snap = await participant.wait_for(lambda m: m["type"] == "snapshot")
    assert "stage" not in snap
