"""Raised hands and the stage on a real server over real WebSockets: the queue in the
order raised, what each role sees, at most two on stage, and refusals that change nothing."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.conftest import Room
from tests.wsclient import Client


def last_hands(client: Client) -> list[dict[str, Any]]:
    return [m for m in client.messages if m["type"] == "hands"][-1]["hands"]


async def hands_after(client: Client, start: int) -> list[dict[str, Any]]:
    message = await client.wait_for(lambda m: m["type"] == "hands", 5, start)
    hands: list[dict[str, Any]] = message["hands"]
    return hands


async def test_the_queue_keeps_the_order_raised_and_shows_names_and_topics_to_moderators_only(
    room: Room,
) -> None:
    moderator = await room.moderator()
    eva = await room.participant("remote", name="Eva")
    anon = await room.participant("room")
    onlooker = await room.participant("remote")
    start = len(onlooker.messages)
    first = await eva.request({"type": "hand.raise", "topic": "  Om   budgeten  "})
    second = await anon.request({"type": "hand.raise"})
    assert first["type"] == second["type"] == "ack", (first, second)
    await moderator.wait_for(lambda m: m["type"] == "hands" and len(m["hands"]) == 2)
    queue = last_hands(moderator)
    assert [(h["id"], h["name"], h["where"], h["topic"], h["status"]) for h in queue] == [
        (first["hand"], "Eva", "remote", "Om budgeten", "raised"),
        (second["hand"], None, "room", "", "raised"),
    ]
    await onlooker.wait_for(lambda m: m["type"] == "hands" and len(m["hands"]) == 2, 5, start)
    public = last_hands(onlooker)
    # Those waiting are anonymous to everyone but the moderators: no name, topic or audience.
    assert public == [
        {"id": first["hand"], "status": "raised", "muted": False},
        {"id": second["hand"], "status": "raised", "muted": False},
    ]
    again = await eva.request({"type": "hand.raise"})
    assert again["type"] == "error" and again["code"] == "hand_raised", again

    # Invited: on stage, named to everyone (they are heard), the topic still moderators' only.
    start = len(onlooker.messages)
    ack = await moderator.request({"type": "hand.invite", "hand": first["hand"]})
    assert ack["type"] == "ack", ack
    public = await hands_after(onlooker, start)
    assert public[0] == {
        "id": first["hand"],
        "status": "on_stage",
        "muted": False,
        "name": "Eva",
        "where": "remote",
    }

    # A new connection's snapshot: the participant's own hand, the public list.
    again_eva = await room.participant("remote", token=eva.welcome["participant"]["token"])
    snap = await again_eva.wait_for(lambda m: m["type"] == "snapshot")
    assert snap["my_hand"] == first["hand"] and snap["hands"] == public
    other_snap = await (await room.participant()).wait_for(lambda m: m["type"] == "snapshot")
    assert other_snap["my_hand"] is None
    mod_snap = await (await room.moderator()).wait_for(lambda m: m["type"] == "snapshot")
    assert mod_snap["hands"][0]["topic"] == "Om budgeten"

    # Participants and screens may not invite, mute or end.
    refused = await onlooker.request({"type": "hand.invite", "hand": second["hand"]})
    assert refused["code"] == "forbidden", refused


async def test_at_most_two_on_stage_mute_end_and_leave(room: Room) -> None:
    moderator = await room.moderator()
    people = [await room.participant("remote", name=f"Talare {i}") for i in range(3)]
    hands = [(await p.request({"type": "hand.raise"}))["hand"] for p in people]
    for hand in hands[:2]:
        assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
    full = await moderator.request({"type": "hand.invite", "hand": hands[2]})
    assert full["type"] == "error" and full["code"] == "on_stage_full", full
    twice = await moderator.request({"type": "hand.invite", "hand": hands[0]})
    assert twice["code"] == "on_stage", twice
    waiting = await moderator.request({"type": "hand.mute", "hand": hands[2], "on": True})
    assert waiting["code"] == "not_on_stage", waiting
    bad = await moderator.request({"type": "hand.mute", "hand": hands[0], "on": "ja"})
    assert bad["code"] == "invalid_value", bad
    for missing in (999, "1", True, None):
        refused = await moderator.request({"type": "hand.end", "hand": missing})
        assert refused["code"] == "not_found", (missing, refused)

    start = len(moderator.messages)
    assert (await moderator.request({"type": "hand.mute", "hand": hands[0], "on": True}))[
        "type"
    ] == "ack"
    assert (await hands_after(moderator, start))[0]["muted"] is True

    # The moderator ends one, the other leaves: the stage is free for the third.
    assert (await moderator.request({"type": "hand.end", "hand": hands[0]}))["type"] == "ack"
    left = await people[1].request({"type": "hand.lower"})
    assert left == {"type": "ack", "re": left["re"], "hand": hands[1]}, left
    start = len(moderator.messages)
    assert (await moderator.request({"type": "hand.invite", "hand": hands[2]}))["type"] == "ack"
    queue = await hands_after(moderator, start)
    assert [(h["id"], h["status"]) for h in queue] == [(hands[2], "on_stage")]
    # Lowering twice: nothing to lower.
    gone = await people[1].request({"type": "hand.lower"})
    assert gone["code"] == "not_found", gone
    # A hand that was ended may be raised again, at the end of the queue.
    back = await people[0].request({"type": "hand.raise", "topic": "x" * 121})
    assert back["code"] == "text_too_long", back
    back = await people[0].request({"type": "hand.raise", "topic": "Igen"})
    assert back["type"] == "ack" and back["hand"] > hands[2], back


async def test_my_data_shows_the_participants_own_raised_hand(room: Room) -> None:
    eva = await room.participant("remote", name="Eva")
    other = await room.participant("remote")
    assert (await eva.request({"type": "me.data"}))["data"]["hand"] is None
    hand = (await eva.request({"type": "hand.raise", "topic": "Budget"}))["hand"]
    assert (await other.request({"type": "hand.raise"}))["type"] == "ack"
    mine = (await eva.request({"type": "me.data"}))["data"]["hand"]
    assert {k: mine[k] for k in ("id", "name", "topic", "status")} == {
        "id": hand,
        "name": "Eva",
        "topic": "Budget",
        "status": "raised",
    }
    assert (await eva.request({"type": "hand.lower"}))["type"] == "ack"
    assert (await eva.request({"type": "me.data"}))["data"]["hand"] is None


async def test_the_screen_and_participants_are_told_only_who_is_on_stage(room: Room) -> None:
    """The big screen's name card needs the names on stage, and only those: a screen and a
    participant get the same list for the same state, with the name and audience of the
    one on stage and nothing of who waits or why (checked on the whole text of every
    message and snapshot, not on field names)."""
    moderator = await room.moderator()
    screen = await room.screen()
    onlooker = await room.participant("room")
    speaker = await room.participant("remote", name="Maria-Kristina Johansson Lindqvist-Öberg")
    waiting = await room.participant("remote", name="Bo Väntarsson")
    anonymous = await room.participant("room")
    topics = ["Om budgeten", "Hemligt ämne", "Ett tredje ämne"]
    hands = [
        (await who.request({"type": "hand.raise", "topic": topic}))["hand"]
        for who, topic in zip((speaker, waiting, anonymous), topics, strict=True)
    ]
    start_screen, start_onlooker = len(screen.messages), len(onlooker.messages)
    assert (await moderator.request({"type": "hand.invite", "hand": hands[0]}))["type"] == "ack"
    on_screen = await hands_after(screen, start_screen)
    assert on_screen == await hands_after(onlooker, start_onlooker)
    assert on_screen == [
        {
            "id": hands[0],
            "status": "on_stage",
            "muted": False,
            "name": "Maria-Kristina Johansson Lindqvist-Öberg",
            "where": "remote",
        },
        {"id": hands[1], "status": "raised", "muted": False},
        {"id": hands[2], "status": "raised", "muted": False},
    ]
    # An anonymous speaker is on stage without a name (the pages say "Deltagare på plats").
    assert (await moderator.request({"type": "hand.invite", "hand": hands[2]}))["type"] == "ack"
    await screen.wait_for(
        lambda m: m["type"] == "hands" and len([h for h in m["hands"] if "where" in h]) == 2
    )
    assert last_hands(screen)[2] == {
        "id": hands[2],
        "status": "on_stage",
        "muted": False,
        "name": None,
        "where": "room",
    }
    fresh = await room.screen()
    snapshot = await fresh.wait_for(lambda m: m["type"] == "snapshot")
    assert snapshot["hands"] == last_hands(screen) == last_hands(onlooker)
    everything = json.dumps(
        [*screen.messages, *fresh.messages, *onlooker.messages], ensure_ascii=False
    )
    for secret in ("Bo Väntarsson", *topics):
        assert secret not in everything, secret
    # The moderator's queue has it.
    assert "Bo Väntarsson" in json.dumps(moderator.messages, ensure_ascii=False)
