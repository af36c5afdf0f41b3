"""Polls end to end over real WebSockets: many participants answering and changing their
answers, coalesced tallies, hidden results, refused answers, resuming and restarts."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.e2e.conftest import Room
from tests.wsclient import Client, Message


def tallies_for(poll: int, predicate: Any = None):
    """Predicate: a `counts` message with tallies of this poll (matching `predicate`)."""

    def match(m: Message) -> bool:
        tally = m.get("tallies", {}).get(str(poll)) if m["type"] == "counts" else None
        return tally is not None and (predicate is None or predicate(tally))

    return match


async def make_poll(moderator: Client, **fields: Any) -> int:
    """Create and open a poll as the moderator; returns its id."""
    created = await moderator.request({"type": "poll.create", **fields})
    assert created["type"] == "ack", created
    event = await moderator.wait_for(
        lambda m: m["type"] == "polls" and m["polls"][0]["text"] == fields["text"]
    )
    poll = event["polls"][0]["id"]
    opened = await moderator.request({"type": "poll.open", "poll": poll})
    assert opened["type"] == "ack", opened
    return poll


async def test_a_thousand_answers_are_counted_once_per_participant_and_coalesced(
    room: Room,
) -> None:
    """200 participants answer five times each within seconds: each counts once with their
    last answer, and clients get at most about ten tally messages a second."""
    moderator = await room.moderator()
    screen = await room.screen()
    poll = await make_poll(
        moderator, kind="single", text="Vilken dag passar bäst?", options=["Mån", "Tis", "Ons"]
    )
    people = await asyncio.gather(*(room.participant("room") for _ in range(200)))
    await screen.wait_for(lambda m: m["type"] == "polls" and m["polls"][0]["status"] == "open")
    start_index = len(screen.messages)

    async def answer_five_times(i: int, client: Client) -> Message:
        reply: Message = {}
        for round_ in range(5):
            # Everyone ends on option 1 + i % 3; earlier answers are replaced.
            reply = await client.request(
                {"type": "poll.answer", "poll": poll, "answer": 1 + (i + 4 - round_) % 3}
            )
            assert reply["type"] == "ack", reply
            await asyncio.sleep(0.1 + (i % 10) * 0.05)  # spread the 1000 over a few seconds
        return reply

    began = time.monotonic()
    acks = await asyncio.gather(*(answer_five_times(i, c) for i, c in enumerate(people)))
    elapsed = time.monotonic() - began
    assert [a["answer"] for a in acks] == [1 + i % 3 for i in range(200)]

    expected = {"respondents": 200, "counts": [67, 67, 66]}
    # The flush after the last answer: both have a tally with every final answer in it.
    await screen.wait_for(tallies_for(poll, lambda t: t == expected), start=start_index)
    await moderator.wait_for(tallies_for(poll, lambda t: t == expected))
    tally_messages = [m for m in screen.messages[start_index:] if tallies_for(poll)(m)]
    last_for_moderator = [m for m in moderator.messages if tallies_for(poll)(m)][-1]
    assert tally_messages[-1]["tallies"][str(poll)] == expected
    assert last_for_moderator["tallies"][str(poll)] == expected
    # 1000 answers, but one message per coalescing interval (100 ms), plus slack for timing.
    assert elapsed > 2 and len(tally_messages) <= elapsed / 0.1 + 3, (len(tally_messages), elapsed)
    seqs = [m["seq"] for m in tally_messages]
    assert seqs == sorted(seqs) and last_for_moderator["seq"] == seqs[-1]

    snapshot = await room.participant("room", token=people[4].welcome["participant"]["token"])
    snap = await snapshot.wait_for(lambda m: m["type"] == "snapshot")
    assert snap["my_answers"] == {str(poll): 2}
    assert snap["polls"][0]["results"] == expected


async def test_hidden_results_reach_participants_only_after_closing(room: Room) -> None:
    """With results hidden, participants and the screen see only the number of answers
    until the poll closes; the moderator sees the tallies all along."""
    moderator = await room.moderator()
    screen = await room.screen()
    anna, bo = await room.participant("room"), await room.participant("remote")
    poll = await make_poll(
        moderator, kind="rating", text="Hur var förmiddagen?", scale=5, hide_results=True
    )
    assert (await anna.request({"type": "poll.answer", "poll": poll, "answer": 4}))["answer"] == 4
    assert (await bo.request({"type": "poll.answer", "poll": poll, "answer": 5}))["type"] == "ack"

    hidden = await screen.wait_for(tallies_for(poll, lambda t: t["respondents"] == 2))
    assert hidden["tallies"][str(poll)] == {"respondents": 2}
    full = await moderator.wait_for(tallies_for(poll, lambda t: t["respondents"] == 2))
    assert full["tallies"][str(poll)] == {
        "respondents": 2,
        "distribution": [0, 0, 0, 1, 1],
        "average": 4.5,
    }
    assert not any("distribution" in str(m) for m in anna.messages + bo.messages + screen.messages)

    assert (await moderator.request({"type": "poll.close", "poll": poll}))["type"] == "ack"
    closed = await screen.wait_for(
        lambda m: m["type"] == "polls" and m["polls"][0]["status"] == "closed"
    )
    assert closed["polls"][0]["results"]["average"] == 4.5


async def test_bad_answers_and_closed_polls_are_refused_and_change_nothing(room: Room) -> None:
    """Unknown options, too many choices, bad ratings, long words, closed or unopened polls
    and answers from the wrong role get their error codes; the tallies stay as they were."""
    moderator = await room.moderator()
    screen = await room.screen()
    anna = await room.participant("room")
    multi = await make_poll(
        moderator,
        kind="multiple",
        text="Vad vill ni mer av?",
        options=["A", "B", "C"],
        max_choices=2,
    )
    words = await make_poll(moderator, kind="words", text="Ett ord om dagen?")
    rating = await make_poll(moderator, kind="rating", text="Betyg?", scale=10)
    draft = await moderator.request({"type": "poll.create", "kind": "words", "text": "Utkast?"})
    assert draft["type"] == "ack"
    ok = await anna.request({"type": "poll.answer", "poll": multi, "answer": [1, 3]})
    assert ok["answer"] == [1, 3]
    await moderator.wait_for(tallies_for(multi, lambda t: t["respondents"] == 1))
    mark = len(moderator.messages)

    refused = {
        "unknown_option": {"poll": multi, "answer": [1, 4]},
        "too_many_choices": {"poll": multi, "answer": [1, 2, 3]},
        "invalid_answer": {"poll": multi, "answer": "A"},
        "invalid_rating": {"poll": rating, "answer": 11},
        "answer_too_long": {"poll": words, "answer": "ord" * 14},
        "answer_empty": {"poll": words, "answer": "   "},
        "poll_not_open": {"poll": 4, "answer": "hej"},
        "not_found": {"poll": 99, "answer": 1},
    }
    for code, fields in refused.items():
        reply = await anna.request({"type": "poll.answer", **fields})
        assert (reply["type"], reply["code"]) == ("error", code), (code, reply)

    assert (await moderator.request({"type": "poll.close", "poll": multi}))["type"] == "ack"
    closed = await anna.request({"type": "poll.answer", "poll": multi, "answer": [2]})
    assert closed["code"] == "poll_closed"
    for client in (moderator, screen):
        reply = await client.request({"type": "poll.answer", "poll": words, "answer": "x"})
        assert reply["code"] == "forbidden"
    for message, code in (
        (
            {"type": "poll.create", "kind": "single", "text": "?", "options": ["bara en"]},
            "invalid_poll",
        ),
        ({"type": "poll.create", "kind": "words", "text": "?", "item": "nej"}, "not_found"),
        ({"type": "poll.close", "poll": multi}, "invalid_state"),
        ({"type": "poll.show", "poll": 4}, "invalid_state"),
        ({"type": "poll.hide_results", "poll": words, "hide": "ja"}, "invalid_value"),
    ):
        reply = await moderator.request(message)
        assert reply.get("code") == code, (message, reply)
    reply = await anna.request({"type": "poll.open", "poll": multi})
    assert reply["code"] == "forbidden"

    # Only the close went through; no answer reached any tally. Nothing to wait on for an
    # absence: wait out three coalescing intervals (100 ms) for a tally that must not come.
    await asyncio.sleep(0.3)
    later = moderator.messages[mark:]
    assert [m["polls"][0]["status"] for m in later if m["type"] == "polls"] == ["closed"]
    assert not [m for m in later if m["type"] == "counts"]

    # Reopening accepts changes again.
    assert (await moderator.request({"type": "poll.open", "poll": multi}))["type"] == "ack"
    changed = await anna.request({"type": "poll.answer", "poll": multi, "answer": [2]})
    assert changed["type"] == "ack"
    await screen.wait_for(tallies_for(multi, lambda t: t["counts"] == [0, 1, 0]))


async def test_resume_replays_tallies_and_restarts_keep_polls(room: Room) -> None:
    """A client that reconnects with its last seq gets the missed tallies coalesced; after a
    restart the polls, answers and the poll on screen are rebuilt from the event log."""
    moderator = await room.moderator()
    anna = await room.participant("room")
    poll = await make_poll(moderator, kind="words", text="Vad tar du med dig?")
    await anna.wait_for(lambda m: m["type"] == "polls" and m["polls"][0]["status"] == "open")
    since = anna.seq
    token = anna.welcome["participant"]["token"]
    await anna.close()

    others = [await room.participant("remote") for _ in range(3)]
    for client, word in zip(others, ("Tillit", " tillit ", "Mod"), strict=True):
        assert (await client.request({"type": "poll.answer", "poll": poll, "answer": word}))[
            "type"
        ] == "ack"
    assert (await moderator.request({"type": "poll.show", "poll": poll}))["type"] == "ack"
    await moderator.wait_for(lambda m: m["type"] == "polls" and m["polls"][0]["on_screen"])

    back = await room.participant("room", token=token, since=since)
    resumed = await back.wait_for(lambda m: m["type"] == "resumed")
    replay = [m for m in back.messages if "seq" in m and m["type"] != "presence"]
    assert [m["type"] for m in replay] == ["counts", "polls", "resumed"]
    assert replay[0]["tallies"][str(poll)] == {
        "respondents": 3,
        "words": [["tillit", 2], ["mod", 1]],
    }
    assert resumed["replayed"] == 2

    room.server.stop()
    room.server.start()
    screen = await room.screen()
    snap = await screen.wait_for(lambda m: m["type"] == "snapshot")
    [view] = snap["polls"]
    assert view["on_screen"] is True and view["status"] == "open"
    assert view["results"]["words"] == [["tillit", 2], ["mod", 1]]
    again = await room.participant("remote", token=others[2].welcome["participant"]["token"])
    snap = await again.wait_for(lambda m: m["type"] == "snapshot")
    assert snap["my_answers"] == {str(poll): "mod"}
