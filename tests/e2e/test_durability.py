"""SIGKILL the server and start it again: every acknowledged change is still there."""

from __future__ import annotations

from tests.e2e.conftest import Room
from tests.serverproc import ServerProcess
from tests.wsclient import Client


async def test_sigkill_and_restart_keeps_questions_votes_merges_and_agenda(
    server: ServerProcess, clients: list[Client]
) -> None:
    """Questions, votes, a merge, a highlight and the agenda position survive a SIGKILL."""
    room = Room(server, clients)
    moderator = await room.moderator()
    p1 = await room.participant("room", name="Eva")
    p2 = await room.participant("remote")
    token1 = p1.welcome["participant"]["token"]
    a = (await p1.request({"type": "ask", "text": "Vad är Chefios?"}))["question"]
    b = (await p2.request({"type": "ask", "text": "Vad var Chefios-projektet?"}))["question"]
    c = (await p2.request({"type": "ask", "text": "Hur mår cheferna?"}))["question"]
    for voter, qid in ((p1, b), (p2, a), (p1, c)):
        assert (await voter.request({"type": "vote", "question": qid}))["voted"]
    for message in (
        {"type": "question.merge", "question": a, "into": b},
        {"type": "question.highlight", "question": c},
        {"type": "agenda.next"},
        {"type": "agenda.next"},
        {"type": "timer.extend", "minutes": 7},
    ):
        assert (await moderator.request(message))["type"] == "ack", message
    before = await room.moderator()
    expected = await before.wait_for(lambda m: m["type"] == "snapshot")
    last_seq = p1.seq

    server.kill()
    clients.clear()
    server.start()

    after = await Room(server, clients).moderator()
    snap = await after.wait_for(lambda m: m["type"] == "snapshot")
    assert snap["seq"] == expected["seq"]
    assert snap["questions"] == expected["questions"]
    assert snap["agenda"]["current"] == expected["agenda"]["current"] is not None
    assert (
        snap["agenda"]["timer"]["planned_seconds"] == expected["agenda"]["timer"]["planned_seconds"]
    )
    votes = {q["id"]: (q["votes"], q["status"]) for q in snap["questions"]}
    assert votes == {a: (1, "merged"), b: (2, "live"), c: (1, "highlighted")}

    # The same participant comes back with their token: their votes and questions are theirs.
    back = await Client.open(server.ws)
    clients.append(back)
    await back.join(code=room.code, where="room", token=token1, since=last_seq - 3)
    await back.wait_for(lambda m: m["type"] == "resumed")
    replayed = [m["seq"] for m in back.events() if m["type"] in ("questions", "counts", "agenda")]
    assert replayed and replayed == sorted(set(replayed)) and min(replayed) > last_seq - 3
    again = await back.request({"type": "vote", "question": b})
    assert again["voted"] is False  # p1 had voted for b before the crash: this withdraws it
