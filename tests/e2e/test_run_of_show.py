"""The run of show over real WebSockets (docs/protocol.md, *Scenes*): one `agenda.next`
moves the agenda, the big screen, the polls and the stream field as one event (one `seq`)
to every role, a resume by `seq` replays exactly that message, a restart rebuilds the
same show, and two processes on Redis agree."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.conftest import SESSION, Room, redis_pair
from tests.serverproc import ServerProcess
from tests.wsclient import Client, Message


async def prepare(moderator: Client) -> int:
    """The dialogue's poll, run by its scene on the screen; the agenda at the dialogue."""
    made = await moderator.request(
        {
            "type": "poll.create",
            "kind": "single",
            "text": "Hur långt har ni kommit?",
            "options": ["Början", "Mitten", "Målet"],
            "item": "samtal-olsson",
        }
    )
    poll = int(made["poll"])
    scene = {"screen": "poll", "stream": "camera", "poll": poll}
    planned = await moderator.request(
        {"type": "scene.set", "item": "samtal-olsson", "scene": scene}
    )
    assert planned["type"] == "ack", planned
    for _ in range(2):  # Välkommen, then the dialogue: its poll opens and goes on screen
        assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
    return poll


async def following(server: ServerProcess, code: str, poll: int) -> None:
    """Wait until `server` shows the poll another process put on screen: it follows the
    other process's changes through its event tail, a moment behind on a busy machine."""
    for _ in range(100):
        probe = await Client.open(server.ws)
        try:
            await probe.join(role="screen", code=code)
            snapshot = await probe.wait_for(lambda m: m["type"] == "snapshot")
        finally:
            await probe.close()
        if snapshot["show"]["poll"] == poll:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the other process never showed the poll")


def replayed(client: Client) -> list[Message]:
    """The events a resuming client was sent, after saying how many there were."""
    resumed = [m for m in client.messages if m["type"] == "resumed"]
    events = [m for m in client.messages if "seq" in m and m["type"] != "resumed"]
    assert resumed and resumed[0]["replayed"] == len(events), client.messages
    return events


def moves(client: Client, seq: int) -> list[Message]:
    """Every message the client got with this seq."""
    return [m for m in client.messages if m.get("seq") == seq]


async def test_next_into_a_break_is_one_event_for_every_role(room: Room) -> None:
    moderator = await room.moderator()
    poll = await prepare(moderator)
    phone = await room.participant("room")
    screen = await room.screen()
    for client in (phone, screen):
        snap = await client.wait_for(lambda m: m["type"] == "snapshot")
        assert snap["show"] == {
            "screen": "poll",
            "stream": "camera",
            "slate_audio": "muted",
            "item": "samtal-olsson",
            "poll": poll,
        }
        assert [p["status"] for p in snap["polls"]] == ["open"]

    assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
    bodies = []
    for client in (moderator, phone, screen):
        got = await client.wait_for(
            lambda m: m["type"] == "agenda" and m["agenda"]["current"] == "fika"
        )
        assert moves(client, got["seq"]) == [got]  # one message carries everything
        assert got["show"] == {
            "screen": "break",
            "stream": "slate",
            "slate_audio": "muted",
            "item": "fika",
            "poll": None,
        }
        brk = got["agenda"]["break"]
        assert brk is not None and brk["minutes"] == 20
        assert [(p["id"], p["status"], p["on_screen"]) for p in got["polls"]] == [
            (poll, "closed", False)
        ]
        bodies.append(got)
    assert bodies[0]["seq"] == bodies[1]["seq"] == bodies[2]["seq"]
    assert bodies[1] == bodies[2]  # participants and screens are told the same

    # Out of the break: the camera scene again, the break over, still one event.
    assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
    back = await screen.wait_for(
        lambda m: m["type"] == "agenda" and m["agenda"]["current"] == "diskussion"
    )
    assert back["show"]["screen"] == "qr" and back["show"]["stream"] == "camera"
    assert back["agenda"]["break"] is None and "polls" not in back
    assert back["seq"] == bodies[0]["seq"] + 1


async def test_a_resume_replays_the_move_exactly_and_a_restart_keeps_the_show(
    room: Room, server: ServerProcess
) -> None:
    moderator = await room.moderator()
    await prepare(moderator)
    watcher = await room.screen()  # stays connected: what was sent live
    away = await room.screen()
    await away.wait_for(lambda m: m["type"] == "snapshot")
    last_seen = away.seq
    await away.close()

    await moderator.request({"type": "agenda.next"})  # into the break, while `away` is gone
    live = await watcher.wait_for(lambda m: m["type"] == "agenda" and "show" in m)

    back = await room.connect()
    assert (await back.join(role="screen", code=room.code, since=last_seen))["type"] == "welcome"
    await back.wait_for(lambda m: m["type"] == "resumed")
    assert replayed(back) == [live]  # exactly what was sent live

    server.stop()
    server.start()
    restarted = await room.connect()
    await restarted.join(role="screen", code=room.code)
    snap = await restarted.wait_for(lambda m: m["type"] == "snapshot")
    assert snap["show"] == live["show"] and snap["agenda"]["break"] == live["agenda"]["break"]
    # A screen that saw the seq before the move resumes into the same message after a restart.
    again = await room.connect()
    await again.join(role="screen", code=room.code, since=last_seen)
    await again.wait_for(lambda m: m["type"] == "resumed")
    assert replayed(again) == [live]


async def test_two_processes_on_redis_tell_the_same_one_event(tmp_path: Path) -> None:
    with redis_pair(tmp_path) as (_, a, b):
        code, token = a.access()[SESSION]
        opened: list[Client] = []
        try:
            moderator = await Client.open(a.ws)
            phone_a = await Client.open(a.ws)
            phone_b = await Client.open(b.ws)
            screen_b = await Client.open(b.ws)
            opened += [moderator, phone_a, phone_b, screen_b]
            await moderator.join(role="moderator", session=SESSION, moderator_token=token)
            poll = await prepare(moderator)
            await following(b, code, poll)
            await phone_a.join(code=code, where="room")
            await phone_b.join(code=code, where="remote")
            await screen_b.join(role="screen", code=code)
            for client in (phone_b, screen_b):  # B has the dialogue's scene before the break
                await client.wait_for(
                    lambda m: m["type"] == "snapshot" and m["show"]["poll"] == poll
                )
            last_seen = screen_b.seq
            assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
            got = [
                await c.wait_for(lambda m: m["type"] == "agenda" and "show" in m)
                for c in (phone_a, phone_b, screen_b)
            ]
            assert got[0] == got[1] == got[2]
            assert got[0]["show"]["screen"] == "break" and got[0]["polls"][0]["status"] == "closed"
            for client in (phone_b, screen_b):
                assert moves(client, got[0]["seq"]) == [got[0]]
            # A screen resuming on A from B's last seq gets the same single message.
            resumed = await Client.open(a.ws)
            opened.append(resumed)
            await resumed.join(role="screen", code=code, since=last_seen)
            await resumed.wait_for(lambda m: m["type"] == "resumed")
            assert replayed(resumed) == [got[0]]
        finally:
            for client in opened:
                await client.close()
