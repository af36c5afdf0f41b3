"""End to end over real WebSockets: participants, a moderator and a big screen in one session."""

from __future__ import annotations

from tests.e2e.conftest import Room
from tests.wsclient import Client


def has_question(text: str):
    """Predicate: a `questions` event containing a question with this text."""
    return lambda m: m["type"] == "questions" and any(q["text"] == text for q in m["questions"])


def counts_for(qid: int, n: int):
    """Predicate: a `counts` event giving question `qid` the count n."""
    return lambda m: m["type"] == "counts" and m["counts"].get(str(qid)) == n


async def test_question_and_votes_reach_every_client(room: Room) -> None:
    """A question asked in the room reaches remote participants, the moderator and the screen; votes update everyone."""
    moderator = await room.moderator()
    screen = await room.screen()
    anna = await room.participant("room", name="Anna")
    bo = await room.participant("remote")

    ack = await anna.request({"type": "ask", "text": "  Hur lång tid tar en omorganisation?  "})
    assert ack["type"] == "ack" and ack["status"] == "live"
    qid = ack["question"]
    for client in (moderator, screen, anna, bo):
        event = await client.wait_for(has_question("Hur lång tid tar en omorganisation?"))
        question = event["questions"][0]
        assert question["name"] == "Anna" and question["where"] == "room"
        assert ("author" in question) is (client is moderator)

    anonymous = await bo.request({"type": "ask", "text": "Vad kostar den?", "name": None})
    seen = await moderator.wait_for(has_question("Vad kostar den?"))
    assert seen["questions"][0]["name"] is None and anonymous["type"] == "ack"

    vote = await bo.request({"type": "vote", "question": qid})
    assert vote == {"type": "ack", "re": vote["re"], "question": qid, "voted": True, "votes": 1}
    for client in (moderator, screen, anna, bo):
        await client.wait_for(counts_for(qid, 1))

    withdrawn = await bo.request({"type": "vote", "question": qid})
    assert withdrawn["voted"] is False and withdrawn["votes"] == 0
    await screen.wait_for(counts_for(qid, 0))

    presence = await moderator.wait_for(
        lambda m: m["type"] == "presence" and m["room"] == 1 and m["remote"] == 1
    )
    assert presence["moderators"] == 1 and presence["screens"] == 1


async def test_premoderation_holds_questions_until_approved(room: Room) -> None:
    """With pre-moderation on, a question is seen only by the moderator (and its author) until approved."""
    moderator = await room.moderator()
    ack = await moderator.request({"type": "session.premoderation", "on": True})
    assert ack["type"] == "ack"
    asker = await room.participant("room")
    other = await room.participant("remote")
    await other.wait_for(lambda m: m["type"] == "snapshot" and m["session"]["premoderation"])

    ack = await asker.request({"type": "ask", "text": "Får jag fråga anonymt?"})
    assert ack["status"] == "pending"
    pending = await moderator.wait_for(has_question("Får jag fråga anonymt?"))
    assert pending["questions"][0]["status"] == "pending"
    vote = await other.request({"type": "vote", "question": ack["question"]})
    assert vote["type"] == "error" and vote["code"] == "question_closed"
    assert not any(has_question("Får jag fråga anonymt?")(m) for m in other.messages)

    assert (await moderator.request({"type": "question.approve", "question": ack["question"]}))[
        "type"
    ] == "ack"
    live = await other.wait_for(has_question("Får jag fråga anonymt?"))
    assert live["questions"][0]["status"] == "live"


async def test_moderator_edits_merges_highlights_answers_and_hides(room: Room) -> None:
    """Moderation works end to end: merged votes count each participant once, at most one highlight."""
    moderator = await room.moderator()
    screen = await room.screen()
    p1 = await room.participant("room")
    p2 = await room.participant("remote")
    p3 = await room.participant("remote")
    a = (await p1.request({"type": "ask", "text": "Hur lång tid tar det?"}))["question"]
    b = (await p2.request({"type": "ask", "text": "Hur lång tid tar en omorganisation"}))[
        "question"
    ]
    for voter, qid in ((p2, a), (p3, a), (p2, b), (p1, b)):
        assert (await voter.request({"type": "vote", "question": qid}))["voted"] is True

    ack = await moderator.request({"type": "question.merge", "question": a, "into": b})
    assert ack["type"] == "ack"
    merged = await screen.wait_for(lambda m: m["type"] == "questions" and a in m["removed"])
    target = next(q for q in merged["questions"] if q["id"] == b)
    assert target["votes"] == 3 and target["merged_from"] == [a]  # p2 voted both: counts once
    err = await p3.request({"type": "vote", "question": a})
    assert err["code"] == "question_merged"

    await moderator.request(
        {"type": "question.edit", "question": b, "text": "Hur lång tid tar en omorganisation?"}
    )
    edited = await p3.wait_for(has_question("Hur lång tid tar en omorganisation?"))
    assert edited["questions"][0]["edited"] is True

    c = (await p3.request({"type": "ask", "text": "Vad kostar en omorganisation?"}))["question"]
    await moderator.request({"type": "question.highlight", "question": b})
    await moderator.request({"type": "question.highlight", "question": c})
    both = await screen.wait_for(
        lambda m: m["type"] == "questions" and {q["id"] for q in m["questions"]} == {b, c}
    )
    statuses = {q["id"]: q["status"] for q in both["questions"]}
    assert statuses == {b: "live", c: "highlighted"}

    await moderator.request({"type": "question.answer", "question": c})
    answered = await p1.wait_for(
        lambda m: m["type"] == "questions" and m["questions"][0]["status"] == "answered"
    )
    assert answered["questions"][0]["id"] == c and answered["questions"][0]["answered_at"]

    await moderator.request({"type": "question.hide", "question": b})
    await p1.wait_for(lambda m: m["type"] == "questions" and b in m["removed"])
    hidden = await moderator.wait_for(
        lambda m: m["type"] == "questions" and m["questions"][0]["status"] == "hidden"
    )
    assert hidden["questions"][0]["id"] == b


async def test_moderator_runs_the_agenda(room: Room) -> None:
    """Agenda moves, timer changes, postponements and breaks reach every client."""
    moderator = await room.moderator()
    phone = await room.participant("room")
    snap = await moderator.wait_for(lambda m: m["type"] == "snapshot")
    items = [item["id"] for item in snap["agenda"]["items"]]
    assert snap["agenda"]["current"] is None and len(items) >= 4

    async def act(message: dict) -> dict:
        start = len(phone.messages)
        assert (await moderator.request(message))["type"] == "ack", message
        return (await phone.wait_for(lambda m: m["type"] == "agenda", start=start))["agenda"]

    agenda = await act({"type": "agenda.next"})
    assert agenda["current"] == items[0] and agenda["timer"]["running_since"]
    agenda = await act({"type": "agenda.next"})
    assert agenda["current"] == items[1] and agenda["items"][0]["status"] == "done"
    agenda = await act({"type": "agenda.prev"})
    assert agenda["current"] == items[0]
    agenda = await act({"type": "agenda.goto", "item": items[2]})
    assert agenda["current"] == items[2] and agenda["items"][2]["status"] == "live"
    agenda = await act({"type": "timer.pause"})
    assert agenda["timer"]["running_since"] is None
    planned = agenda["timer"]["planned_seconds"]
    agenda = await act({"type": "timer.extend", "minutes": 5})
    assert agenda["timer"]["planned_seconds"] == planned + 300
    agenda = await act({"type": "timer.start"})
    assert agenda["timer"]["running_since"] is not None
    agenda = await act({"type": "item.status", "item": items[-1], "status": "postponed"})
    assert agenda["items"][-1]["status"] == "postponed"
    agenda = await act({"type": "item.status", "item": items[-2], "status": "date-to-come"})
    assert agenda["items"][-2]["status"] == "date-to-come"
    agenda = await act({"type": "break.start", "minutes": 20, "message": "Fika"})
    assert agenda["break"]["minutes"] == 20 and agenda["break"]["message"] == "Fika"
    agenda = await act({"type": "break.end"})
    assert agenda["break"] is None

    err = await moderator.request({"type": "agenda.goto", "item": "no-such-item"})
    assert err["type"] == "error" and err["code"] == "not_found"
    err = await moderator.request({"type": "timer.extend", "minutes": "ten"})
    assert err["code"] == "invalid_value"


MODERATOR_MESSAGES = [
    {"type": "question.approve", "question": 1},
    {"type": "question.hide", "question": 1},
    {"type": "question.edit", "question": 1, "text": "changed"},
    {"type": "question.merge", "question": 1, "into": 2},
    {"type": "question.highlight", "question": 1},
    {"type": "question.unhighlight", "question": 1},
    {"type": "question.answer", "question": 1},
    {"type": "agenda.next"},
    {"type": "agenda.prev"},
    {"type": "agenda.goto", "item": "x"},
    {"type": "timer.start"},
    {"type": "timer.pause"},
    {"type": "timer.extend", "minutes": 5},
    {"type": "item.status", "item": "x", "status": "postponed"},
    {"type": "break.start", "minutes": 10},
    {"type": "break.end"},
    {"type": "session.premoderation", "on": True},
    {"type": "session.lock", "on": True},
    {"type": "session.close", "on": True},
    {"type": "session.rotate_key"},
    {"type": "session.new_code"},
]


async def test_participants_and_screens_cannot_moderate(room: Room) -> None:
    """Every moderator action from a participant or a screen is refused and changes nothing."""
    moderator = await room.moderator()
    phone = await room.participant("room")
    for text in ("Första frågan?", "Andra frågan?"):
        await phone.request({"type": "ask", "text": text})
    screen = await room.screen()
    before = await moderator.request({"type": "ping"})
    seq_before = moderator.seq
    for intruder in (phone, screen):
        for message in MODERATOR_MESSAGES:
            reply = await intruder.request(message)
            assert reply["type"] == "error" and reply["code"] == "forbidden", (message, reply)
    err = await screen.request({"type": "ask", "text": "Screens cannot ask"})
    assert err["code"] == "forbidden"
    # A fresh moderator snapshot shows nothing moved.
    check = await room.moderator()
    snap = await check.wait_for(lambda m: m["type"] == "snapshot")
    # Attendance peaks are recorded by the hub on its own clock and may land meanwhile;
    # any other event would mean an intruder's action was applied.
    if snap["seq"] > seq_before:
        await moderator.wait_for(lambda m: m.get("seq", 0) >= snap["seq"])
    moved = [m["type"] for m in moderator.events() if seq_before < m["seq"] <= snap["seq"]]
    assert before["type"] == "pong" and len(moved) == snap["seq"] - seq_before, moved
    assert set(moved) <= {"attendance"}, moved
    assert snap["agenda"]["current"] is None and not snap["session"]["premoderation"]
    assert {q["status"] for q in snap["questions"]} == {"live"}
    assert {q["text"] for q in snap["questions"]} == {"Första frågan?", "Andra frågan?"}


async def test_reconnect_resumes_exactly_what_was_missed(room: Room) -> None:
    """A client that reconnects with its last seq gets exactly the missed events, in order, once."""
    moderator = await room.moderator()
    watcher = await room.participant("remote")  # stays connected: the reference stream
    leaver = await room.participant("room")
    token = leaver.welcome["participant"]["token"]
    first = (await leaver.request({"type": "ask", "text": "Före avbrottet?"}))["question"]
    await leaver.wait_for(has_question("Före avbrottet?"))
    await leaver.close()
    last_seen = leaver.seq
    mark = len(watcher.messages)

    asker = await room.participant("room")
    second = (await asker.request({"type": "ask", "text": "Under avbrottet?"}))["question"]
    for qid in (first, second, first):
        voter = await room.participant("remote")
        await voter.request({"type": "vote", "question": qid})
    await moderator.request({"type": "question.highlight", "question": first})
    await moderator.request({"type": "agenda.next"})
    await watcher.wait_for(lambda m: m["type"] == "agenda", start=mark)
    await watcher.wait_for(counts_for(first, 2), start=mark)

    back = await room.connect()
    welcome = await back.join(code=room.code, where="room", token=token, since=last_seen)
    assert welcome["participant"]["id"] == leaver.welcome["participant"]["id"]
    resumed = await back.wait_for(lambda m: m["type"] == "resumed")
    replay = [m for m in back.messages if m["type"] in ("questions", "agenda", "counts")]
    expected = [
        m for m in watcher.messages[mark:] if m["type"] in ("questions", "agenda", "counts")
    ]
    assert resumed["replayed"] == len(replay) > 0
    assert [m["seq"] for m in replay] == sorted({m["seq"] for m in replay})  # ordered, no dupes
    assert all(m["seq"] > last_seen for m in replay)
    # Same non-vote events as the live client saw; the final counts agree.
    assert [m for m in replay if m["type"] != "counts"] == [
        m for m in expected if m["type"] != "counts"
    ]
    final = {}
    for m in replay:
        if m["type"] == "counts":
            final.update(m["counts"])
    assert final == {str(first): 2, str(second): 1}

    fresh = await room.connect()
    await fresh.join(code=room.code, where="room", token=token, since=moderator.seq + 1000)
    snap = await fresh.wait_for(lambda m: m["type"] == "snapshot")
    assert first in snap["mine"]


async def test_same_token_is_the_same_participant(room: Room) -> None:
    """Two tabs with one token vote as one participant and count once in presence."""
    moderator = await room.moderator()
    asker = await room.participant("room")
    qid = (await asker.request({"type": "ask", "text": "En fråga?"}))["question"]
    tab1 = await room.participant("remote")
    token = tab1.welcome["participant"]["token"]
    tab2 = await room.connect()
    await tab2.join(code=room.code, where="remote", token=token)
    assert (await tab1.request({"type": "vote", "question": qid}))["voted"] is True
    second = await tab2.request({"type": "vote", "question": qid})
    assert second["voted"] is False and second["votes"] == 0
    await moderator.wait_for(
        lambda m: m["type"] == "presence" and m["remote"] == 1 and m["room"] == 1
    )


async def test_old_seq_gets_a_snapshot(server, clients: list[Client]) -> None:
    """When the missed events are no longer kept, a reconnecting client gets a full snapshot."""
    server.stop()
    server.extra_env["COMPANION_REPLAY_EVENTS"] = "5"
    server.extra_env["COMPANION_QUESTION_BURST"] = "10"
    server.start()
    room = Room(server, clients)
    phone = await room.participant("room")
    for i in range(6):
        await phone.request({"type": "ask", "text": f"Fråga {i}?"})
    await phone.wait_for(has_question("Fråga 5?"))
    seqs = {m["questions"][0]["text"]: m["seq"] for m in phone.events("questions")}
    late = await room.connect()
    await late.join(code=room.code, where="remote", since=0)  # 6+ events: seq 1 is gone
    snap = await late.wait_for(lambda m: m["type"] == "snapshot")
    assert len(snap["questions"]) == 6 and snap["seq"] >= seqs["Fråga 5?"]
    near = await room.connect()
    await near.join(code=room.code, where="remote", since=seqs["Fråga 3?"])
    await near.wait_for(lambda m: m["type"] == "resumed")
    replayed = [m["questions"][0]["text"] for m in near.events("questions")]
    assert replayed == ["Fråga 4?", "Fråga 5?"]


async def test_word_filter_holds_a_question_for_moderation(room: Room) -> None:
    """Without pre-moderation, a question with a listed word is held; the others go live."""
    moderator = await room.moderator()
    phone = await room.participant("room")
    other = await room.participant("remote")
    held = await phone.request({"type": "ask", "text": "Varför är det så jävla krångligt?"})
    fine = await phone.request({"type": "ask", "text": "Varför är det så krångligt?"})
    assert held["status"] == "pending" and fine["status"] == "live"
    await other.wait_for(has_question("Varför är det så krångligt?"))
    pending = await moderator.wait_for(has_question("Varför är det så jävla krångligt?"))
    assert pending["questions"][0]["status"] == "pending"
    assert not any(has_question("Varför är det så jävla krångligt?")(m) for m in other.messages)
