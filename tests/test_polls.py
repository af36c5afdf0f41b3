"""Tests of polls: creation rules, answering, results, what each role is told, and the
hub's coalescing of poll tallies with vote counts (live and on replay).

Commands are driven like the session service drives them: decide a Draft, wrap it in an
Event with the next seq, apply it to the SessionState, project the Change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from companion.domain import events as ev
from companion.domain.errors import DomainError, NotFound
from companion.domain.polls import (
    CLOUD_WORDS,
    MAX_OPTIONS,
    PollBoard,
    PollKind,
    PollStatus,
    normalise_word,
    results,
)
from companion.domain.programme import AgendaItem, ItemKind, Session
from companion.domain.session_state import SessionState
from companion.realtime import hub as hub_module
from companion.realtime.delivery import LANES
from companion.realtime.hub import Hub, Member
from companion.services.projection import Change, project, snapshot

SESSION = Session(
    id="poll-test",
    title="Omröstningar",
    items=(
        AgendaItem("intro", ItemKind.TALK, "Inledning", minutes=10),
        AgendaItem("samtal", ItemKind.DIALOGUE, "Samtal", minutes=30),
    ),
)


class Room:
    """A SessionState driven like the service, projecting each event."""

    def __init__(self) -> None:
        self.state = SessionState(SESSION)
        self.now = 5_000.0
        self.changes: list[Change] = []

    @property
    def polls(self) -> PollBoard:
        return self.state.polls

    def commit(self, draft: ev.Draft) -> Change:
        self.now += 1.0
        event = ev.Event(SESSION.id, self.state.seq + 1, draft.type, draft.data, self.now)
        change = project(self.state, self.state.apply(event), {})
        self.changes.append(change)
        return change

    def create(self, **fields: Any) -> int:
        draft = self.state.create_poll(fields)
        self.commit(draft)
        return draft.data["id"]

    def open_poll(self, **fields: Any) -> int:
        pid = self.create(**fields)
        self.commit(self.polls.open(pid))
        return pid

    def answer(self, pid: object, participant: str, answer: object) -> Change:
        return self.commit(self.polls.answer(pid, participant, answer))


CHOICE = {"kind": "single", "text": "Vilken dag passar?", "options": ["Måndag", "Tisdag", "Onsdag"]}


def code_of(call: Any, *args: Any) -> str:
    with pytest.raises(DomainError) as exc_info:
        call(*args)
    return exc_info.value.code


# -- creating ----------------------------------------------------------------------------


def test_create_makes_a_draft_with_trimmed_text_and_options() -> None:
    """A new poll is a draft; its text and options are trimmed and given 1-based ids."""
    room = Room()
    pid = room.create(
        kind="multiple",
        text="  Vad   vill ni prata om? ",
        options=[" Ledarskap ", "Digitalisering", "Kompetens"],
        max_choices=2,
        item="samtal",
    )
    poll = room.polls.polls[pid]
    assert (pid, poll.kind, poll.status) == (1, PollKind.MULTIPLE, PollStatus.DRAFT)
    assert poll.text == "Vad vill ni prata om?"
    assert poll.options == ("Ledarskap", "Digitalisering", "Kompetens")
    assert (poll.max_choices, poll.item_id, poll.created_at) == (2, "samtal", room.now)
    assert list(poll.option_ids()) == [1, 2, 3]
    assert room.create(kind="words", text="Ett ord?") == 2


def test_create_defaults_max_choices_and_scale() -> None:
    """Multiple choice defaults to all options; a rating poll defaults to 1-5."""
    room = Room()
    multi = room.create(kind="multiple", text="Flera?", options=["a", "b", "c"])
    rating = room.create(kind="rating", text="Betyg?")
    ten = room.create(kind="rating", text="Betyg?", scale=10)
    assert room.polls.polls[multi].max_choices == 3
    assert room.polls.polls[rating].scale == 5
    assert room.polls.polls[ten].scale == 10
    assert room.polls.polls[rating].item_id is None


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "quiz", "text": "?"},
        {"kind": None, "text": "?"},
        {"kind": "single", "text": "", "options": ["a", "b"]},
        {"kind": "single", "text": "x" * 201, "options": ["a", "b"]},
        {"kind": "single", "text": 3, "options": ["a", "b"]},
        {"kind": "single", "text": "?", "options": ["bara en"]},
        {"kind": "single", "text": "?", "options": [f"o{i}" for i in range(MAX_OPTIONS + 1)]},
        {"kind": "single", "text": "?", "options": ["Ja", " ja "]},
        {"kind": "single", "text": "?", "options": ["Ja", ""]},
        {"kind": "single", "text": "?", "options": ["Ja", "x" * 101]},
        {"kind": "single", "text": "?", "options": "Ja,Nej"},
        {"kind": "single", "text": "?", "options": ["Ja", "Nej"], "max_choices": 2},
        {"kind": "multiple", "text": "?", "options": ["a", "b"], "max_choices": 3},
        {"kind": "multiple", "text": "?", "options": ["a", "b"], "max_choices": 0},
        {"kind": "multiple", "text": "?", "options": ["a", "b"], "max_choices": True},
        {"kind": "rating", "text": "?", "scale": 7},
        {"kind": "rating", "text": "?", "scale": "5"},
        {"kind": "rating", "text": "?", "options": ["a", "b"]},
        {"kind": "words", "text": "?", "scale": 5},
        {"kind": "words", "text": "?", "max_choices": 1},
        {"kind": "words", "text": "?", "hide_results": "yes"},
    ],
)
def test_create_rejects_malformed_polls(fields: dict[str, Any]) -> None:
    """Unknown kinds, bad texts, options, maximums and scales are refused (invalid_poll)."""
    room = Room()
    assert code_of(room.state.create_poll, fields) == "invalid_poll"
    assert room.polls.polls == {} and room.state.seq == 0


def test_create_under_an_unknown_agenda_item_is_not_found() -> None:
    """A poll can only be attached to an item of the session's agenda."""
    room = Room()
    assert code_of(room.state.create_poll, {**CHOICE, "item": "nope"}) == "not_found"


# -- opening, closing, screen ------------------------------------------------------------


def test_open_close_and_reopen_keep_the_answers() -> None:
    """A poll opens, closes and reopens; answers given before closing are kept."""
    room = Room()
    pid = room.open_poll(**CHOICE)
    poll = room.polls.polls[pid]
    opened = poll.opened_at
    assert poll.status == PollStatus.OPEN and poll.closed_at is None
    room.answer(pid, "p1", 2)
    room.commit(room.polls.close(pid))
    assert poll.status == PollStatus.CLOSED and poll.closed_at == room.now
    room.commit(room.polls.open(pid))
    assert poll.status == PollStatus.OPEN
    assert poll.opened_at == opened and poll.closed_at is None
    assert results(poll)["counts"] == [0, 1, 0]


def test_state_rules_for_open_close_show() -> None:
    """Opening an open poll, closing a closed one, or showing a draft is invalid_state."""
    room = Room()
    pid = room.create(**CHOICE)
    assert code_of(room.polls.close, pid) == "invalid_state"
    assert code_of(room.polls.show, pid) == "invalid_state"
    room.commit(room.polls.open(pid))
    assert code_of(room.polls.open, pid) == "invalid_state"
    assert code_of(room.polls.unshow, pid) == "invalid_state"
    assert code_of(room.polls.set_hide_results, pid, False) == "invalid_state"
    assert code_of(room.polls.set_hide_results, pid, "on") == "invalid_value"
    for bad in (99, "1", None, True):
        assert code_of(room.polls.open, bad) == "not_found"


def test_one_poll_at_a_time_is_on_the_screen() -> None:
    """Showing a poll takes the previous one off the screen in the same event."""
    room = Room()
    first, second = room.open_poll(**CHOICE), room.open_poll(kind="rating", text="Betyg?")
    room.commit(room.polls.show(first))
    change = room.commit(room.polls.show(second))
    assert room.polls.on_screen == second
    assert change.public is not None
    assert {p["id"]: p["on_screen"] for p in change.public["polls"]} == {
        second: True,
        first: False,
    }
    room.commit(room.polls.unshow(second))
    assert room.polls.on_screen is None


# -- answering ---------------------------------------------------------------------------


def test_one_answer_per_participant_changeable_while_open() -> None:
    """Answering again replaces the earlier answer; each participant counts once."""
    room = Room()
    pid = room.open_poll(**CHOICE)
    room.answer(pid, "p1", 1)
    room.answer(pid, "p2", 1)
    room.answer(pid, "p1", 3)
    poll = room.polls.polls[pid]
    assert poll.respondents == 2
    assert results(poll) == {"respondents": 2, "counts": [1, 0, 1]}
    assert room.polls.answers_of("p1") == {pid: 3}


def test_answers_to_a_draft_or_closed_poll_are_refused() -> None:
    """A draft is poll_not_open, a closed poll is poll_closed; nothing changes."""
    room = Room()
    pid = room.create(**CHOICE)
    assert code_of(room.polls.answer, pid, "p1", 1) == "poll_not_open"
    room.commit(room.polls.open(pid))
    room.answer(pid, "p1", 1)
    room.commit(room.polls.close(pid))
    seq = room.state.seq
    assert code_of(room.polls.answer, pid, "p1", 2) == "poll_closed"
    assert code_of(room.polls.answer, pid, "p2", 2) == "poll_closed"
    assert room.state.seq == seq
    assert results(room.polls.polls[pid])["counts"] == [1, 0, 0]


@pytest.mark.parametrize(
    ("kind", "answer", "code"),
    [
        ("single", 4, "unknown_option"),
        ("single", 0, "unknown_option"),
        ("single", "1", "invalid_answer"),
        ("single", [1], "invalid_answer"),
        ("single", True, "invalid_answer"),
        ("multiple", [1, 2, 3], "too_many_choices"),
        ("multiple", [1, 9], "unknown_option"),
        ("multiple", [], "invalid_answer"),
        ("multiple", [1, 1], "invalid_answer"),
        ("multiple", 1, "invalid_answer"),
        ("rating", 0, "invalid_rating"),
        ("rating", 6, "invalid_rating"),
        ("rating", 2.5, "invalid_answer"),
        ("rating", "3", "invalid_answer"),
        ("rating", True, "invalid_answer"),
        ("rating", None, "invalid_answer"),
        ("words", "", "answer_empty"),
        ("words", "   ", "answer_empty"),
        ("words", "x" * 41, "answer_too_long"),
        ("words", 5, "invalid_answer"),
        ("words", "\ud800", "invalid_text"),
    ],
)
def test_bad_answers_get_a_clear_code_and_change_nothing(
    kind: str, answer: object, code: str
) -> None:
    """Unknown options, too many choices, ratings out of range and bad texts are refused."""
    room = Room()
    fields: dict[str, Any] = {"kind": kind, "text": "?"}
    if kind in ("single", "multiple"):
        fields["options"] = ["a", "b", "c"]
    if kind == "multiple":
        fields["max_choices"] = 2
    pid = room.open_poll(**fields)
    seq = room.state.seq
    assert code_of(room.polls.answer, pid, "p1", answer) == code
    assert room.state.seq == seq and room.polls.polls[pid].respondents == 0


def test_multiple_choice_counts_each_chosen_option() -> None:
    """A multiple-choice answer counts once per chosen option; a change moves the counts."""
    room = Room()
    pid = room.open_poll(kind="multiple", text="?", options=["a", "b", "c"], max_choices=2)
    room.answer(pid, "p1", [3, 1])
    room.answer(pid, "p2", [1])
    assert room.polls.answers_of("p1") == {pid: [1, 3]}  # stored sorted
    room.answer(pid, "p1", [2])
    assert results(room.polls.polls[pid]) == {"respondents": 2, "counts": [1, 1, 0]}


def test_rating_gives_average_and_distribution() -> None:
    """A rating poll's result is the distribution over 1..scale and the rounded average."""
    room = Room()
    pid = room.open_poll(kind="rating", text="Hur var dagen?", scale=10)
    assert results(room.polls.polls[pid]) == {
        "respondents": 0,
        "distribution": [0] * 10,
        "average": None,
    }
    for participant, value in (("a", 10), ("b", 7), ("c", 7), ("a", 9)):
        room.answer(pid, participant, value)
    out = results(room.polls.polls[pid])
    assert out["distribution"] == [0, 0, 0, 0, 0, 0, 2, 0, 1, 0]
    assert out["average"] == round(23 / 3, 2) == 7.67
    assert out["respondents"] == 3


@pytest.mark.parametrize(
    ("raw", "word"),
    [
        ("  Trygghet ", "trygghet"),
        ("TRYGGHET", "trygghet"),
        ("Öppen   dialog", "öppen dialog"),
        ("A\u030angest", "ångest"),  # decomposed å from one keyboard equals the composed one
        ("x" * 40, "x" * 40),
    ],
)
def test_word_answers_are_normalised(raw: str, word: str) -> None:
    """Case, surrounding and inner spaces and Unicode composition do not make new words."""
    assert normalise_word(raw) == word


def test_word_cloud_counts_by_frequency_and_forgets_replaced_words() -> None:
    """Words are counted per participant, most frequent first; a replaced word disappears."""
    room = Room()
    pid = room.open_poll(kind="words", text="Ett ord om dagen?")
    for participant, word in (
        ("a", "Tillit"),
        ("b", "tillit "),
        ("c", "Mod"),
        ("d", "ansvar"),
        ("d", "Tillit"),
        ("e", "Xylofon"),
        ("e", "mod"),
    ):
        room.answer(pid, participant, word)
    assert results(room.polls.polls[pid]) == {
        "respondents": 5,
        "words": [["tillit", 3], ["mod", 2]],
    }
    assert "xylofon" not in room.polls.polls[pid].tally


def test_word_cloud_sends_the_most_frequent_words_only() -> None:
    """The live cloud is capped; the full list stays available for the report."""
    room = Room()
    pid = room.open_poll(kind="words", text="?")
    for i in range(CLOUD_WORDS + 10):
        room.answer(pid, f"p{i}", f"ord{i:03d}")
    room.answer(pid, "extra", "ord069")
    poll = room.polls.polls[pid]
    live = results(poll)["words"]
    assert len(live) == CLOUD_WORDS and live[0] == ["ord069", 2]
    assert len(results(poll, cloud_words=None)["words"]) == CLOUD_WORDS + 10


def test_state_is_the_fold_of_its_poll_events() -> None:
    """Replaying the poll events into a fresh state gives the same polls and tallies."""
    room = Room()
    events: list[ev.Event] = []
    original = room.commit

    def keep(draft: ev.Draft) -> Change:
        change = original(draft)
        events.append(
            ev.Event(SESSION.id, room.state.seq, draft.type, json.loads(json.dumps(draft.data)), 0)
        )
        return change

    room.commit = keep  # type: ignore[method-assign]
    pid = room.open_poll(kind="multiple", text="?", options=["a", "b", "c"])
    room.answer(pid, "p1", [1, 2])
    room.answer(pid, "p2", [2])
    room.answer(pid, "p1", [3])
    room.commit(room.polls.show(pid))
    fresh = SessionState(SESSION)
    for event in events:
        fresh.apply(event)
    assert results(fresh.polls.polls[pid]) == results(room.polls.polls[pid])
    assert fresh.polls.on_screen == pid
    assert fresh.polls.answers_of("p1") == {pid: [3]}


# -- what each role sees -----------------------------------------------------------------


def test_drafts_are_for_moderators_only() -> None:
    """Creating a poll tells only moderators; participants' snapshots leave drafts out."""
    room = Room()
    change = room.commit(room.state.create_poll(dict(CHOICE)))
    assert change.public is None
    assert change.moderator is not None and change.moderator["polls"][0]["status"] == "draft"
    assert snapshot(room.state, False, "p1")["polls"] == []
    assert len(snapshot(room.state, True, None)["polls"]) == 1
    opened = room.commit(room.polls.open(1))
    assert opened.public is not None and opened.public["polls"][0]["status"] == "open"


def test_hidden_results_reach_only_moderators_until_closed() -> None:
    """While a hidden poll is open participants get the number of answers, never tallies."""
    room = Room()
    pid = room.open_poll(**CHOICE, hide_results=True)
    change = room.answer(pid, "p1", 2)
    assert change.public is None and change.moderator is None
    assert change.tally == (pid, {"respondents": 1}, {"respondents": 1, "counts": [0, 1, 0]})
    participant = snapshot(room.state, False, "p1")
    assert participant["polls"][0]["results"] == {"respondents": 1}
    assert participant["my_answers"] == {str(pid): 2}
    screen = snapshot(room.state, False, None)
    assert screen["polls"][0]["results"] == {"respondents": 1} and screen["my_answers"] == {}
    moderator = snapshot(room.state, True, None)
    assert moderator["polls"][0]["results"]["counts"] == [0, 1, 0]
    closed = room.commit(room.polls.close(pid))
    assert closed.public is not None
    assert closed.public["polls"][0]["results"] == {"respondents": 1, "counts": [0, 1, 0]}


def test_showing_results_while_open_publishes_them() -> None:
    """Turning "hide results" off sends the tallies to everyone at once."""
    room = Room()
    pid = room.open_poll(**CHOICE, hide_results=True)
    room.answer(pid, "p1", 1)
    change = room.commit(room.polls.set_hide_results(pid, False))
    assert change.public is not None
    assert change.public["polls"][0]["results"]["counts"] == [1, 0, 0]
    visible = room.answer(pid, "p2", 1)
    assert visible.tally is not None and visible.tally[1] is visible.tally[2]


def test_no_participant_id_leaks_through_polls() -> None:
    """Answers are never attributed in any message or snapshot."""
    room = Room()
    pid = room.open_poll(kind="words", text="?")
    room.answer(pid, "secret-participant-42", "hej")
    room.commit(room.polls.show(pid))
    texts = [json.dumps(snapshot(room.state, m, None)) for m in (True, False)]
    texts += [json.dumps([c.public, c.moderator, c.tally]) for c in room.changes]
    assert not any("secret-participant-42" in text for text in texts)


def test_attendance_peaks_only_grow() -> None:
    """A peak is recorded only when one count is higher; the other keeps its maximum."""
    room = Room()
    room.commit(room.state.attendance.record(3, 1))
    change = room.commit(room.state.attendance.record(2, 4))
    att = room.state.attendance
    assert (att.peak_room, att.peak_remote) == (3, 4)
    assert att.peak_remote_at == room.now and att.peak_room_at == room.now - 1
    assert change.public is None
    assert change.moderator == {
        "type": "attendance",
        "attendance": {
            "peak_room": 3,
            "peak_remote": 4,
            "peak_room_at": room.now - 1,
            "peak_remote_at": room.now,
        },
    }
    assert code_of(att.record, 3, 4) == "no_change"
    assert code_of(att.record, -1, 9) == "invalid_value"


def test_poll_lookup_rejects_non_integers() -> None:
    """Poll ids are integers; anything else is not_found."""
    with pytest.raises(NotFound):
        PollBoard().get("1")


# -- coalescing in the hub -----------------------------------------------------------------


class FakeSocket:
    """Stands in for a server connection: the hub only needs identity and a transport."""

    transport = None


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> dict[FakeSocket, list[dict[str, Any]]]:
    """Every payload the hub writes, decoded, by socket."""
    out: dict[FakeSocket, list[dict[str, Any]]] = {}

    def broadcast(sockets: Any, payloads: list[str]) -> None:
        for ws in sockets:
            out.setdefault(ws, []).extend(json.loads(payload) for payload in payloads)

    monkeypatch.setattr(hub_module, "fan_out", broadcast)
    return out


def join(hub: Hub, role: str, since: int | None = None) -> FakeSocket:
    ws = FakeSocket()
    member = Member(ws, SESSION.id, role, "p-" + role if role == "participant" else None)  # type: ignore[arg-type]
    hub.join(member, since, lambda: {"type": "snapshot"})
    return ws


def test_hub_coalesces_answers_and_votes_into_one_counts_message(
    sent: dict[FakeSocket, list[dict[str, Any]]],
) -> None:
    """Many answers and votes between flushes become one `counts` per audience, with the
    last seq; hidden tallies go to moderators only; a later event flushes them first."""
    room = Room()
    hub = Hub()
    hub.ensure_room(SESSION.id, 0)
    participant, moderator = join(hub, "participant"), join(hub, "moderator")
    open_pid = room.open_poll(**CHOICE)
    hidden_pid = room.open_poll(kind="rating", text="?", hide_results=True)
    qid_change = room.commit(room.state.board.ask("Fråga?", None, "p9", "room", None, False))
    for change in room.changes:
        hub.on_change(change)
    hub.flush()  # presence of the joins
    sent.clear()
    start = len(room.changes)
    for i in range(200):
        room.answer(open_pid, f"a{i}", 1 + i % 3)
        room.answer(hidden_pid, f"a{i}", 1 + i % 5)
    room.commit(room.state.board.vote(1, "v1"))
    for change in room.changes[start:]:
        hub.on_change(change)
    assert sent == {}  # nothing before the flush
    hub.flush()
    [public] = sent[participant]
    [mod] = sent[moderator]
    assert public["type"] == mod["type"] == "counts"
    assert public["seq"] == mod["seq"] == room.state.seq
    assert public["counts"] == mod["counts"] == {"1": 1}
    assert public["tallies"][str(open_pid)] == {"respondents": 200, "counts": [67, 67, 66]}
    assert public["tallies"][str(hidden_pid)] == {"respondents": 200}
    assert mod["tallies"][str(hidden_pid)]["distribution"] == [40] * 5
    assert qid_change.seq < public["seq"]

    # A non-coalesced event flushes pending answers first, so seq order holds.
    sent.clear()
    room.answer(open_pid, "late", 2)
    closing = room.commit(room.polls.close(open_pid))
    hub.on_change(room.changes[-2])
    hub.on_change(closing)
    seqs = [(m["type"], m["seq"]) for m in sent[participant]]
    assert seqs == [("counts", closing.seq - 1), ("polls", closing.seq)]


def test_replay_coalesces_exactly_like_the_live_flush(
    sent: dict[FakeSocket, list[dict[str, Any]]],
) -> None:
    """A client resuming from an old seq gets the same coalesced tallies, in seq order."""
    room = Room()
    hub = Hub()
    hub.ensure_room(SESSION.id, 0)
    pid = room.open_poll(**CHOICE, hide_results=True)
    for change in room.changes:
        hub.on_change(change)
    since = room.state.seq
    start = len(room.changes)
    for i in range(30):
        room.answer(pid, f"a{i}", 1 + i % 2)
    room.commit(room.polls.show(pid))
    room.answer(pid, "a0", 3)
    for change in room.changes[start:]:
        hub.on_change(change)
    hub.flush()
    public_ws = join(hub, "screen", since=since)
    mod_ws = join(hub, "moderator", since=since)
    replay = [(m["type"], m["seq"]) for m in sent[public_ws]]
    assert replay == [("counts", since + 30), ("polls", since + 31), ("counts", since + 32)]
    assert sent[public_ws][0]["tallies"] == {str(pid): {"respondents": 30}}
    assert sent[public_ws][2]["tallies"] == {str(pid): {"respondents": 30}}
    assert sent[mod_ws][2]["tallies"][str(pid)]["counts"] == [14, 15, 1]


def captured_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> dict[FakeSocket, list[list[dict[str, Any]]]]:
    """Every socket's writes from now on, each as the list of messages it carried."""
    writes: dict[FakeSocket, list[list[dict[str, Any]]]] = {}

    def capture(sockets: Any, payloads: list[str]) -> None:
        for ws in sockets:
            writes.setdefault(ws, []).append([json.loads(p) for p in payloads])

    monkeypatch.setattr(hub_module, "fan_out", capture)
    return writes


def test_a_big_rooms_lanes_take_turns_and_get_events_and_counts_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From `lanes_from` connections, participants are flushed a lane per tick, in turn:
    within one coalescing interval (LANES ticks) each socket gets one write with the events
    and the counts between them in seq order. Moderators get each event at once. A client
    joining makes its own lane get what waited, and replays it itself."""
    writes = captured_writes(monkeypatch)
    room = Room()
    hub = Hub()
    hub.lanes_from = 2
    hub.ensure_room(SESSION.id, 0)
    participants = [join(hub, "participant") for _ in range(60)]
    moderator = join(hub, "moderator")
    lanes = hub.rooms[SESSION.id].public.lanes
    assert all(lane.sockets for lane in lanes)  # the hash spreads them over every lane
    hub.flush()
    writes.clear()
    room.commit(room.state.board.ask("Första frågan?", None, "p1", "room", None, False))
    room.commit(room.state.board.vote(1, "v1"))
    room.commit(room.state.board.ask("Andra frågan?", None, "p2", "room", None, False))
    for change in room.changes:
        hub.on_change(change)
    assert [[m["seq"] for m in w] for w in writes.pop(moderator)] == [[1], [2, 3]]
    assert writes == {}  # participants wait for their lane's turn

    for turn in range(LANES):
        hub.tick()
        assert set(writes) == set().union(*(lane.sockets for lane in lanes[: turn + 1]))
    for ws in participants:
        [one] = writes[ws]
        assert [(m["type"], m["seq"]) for m in one] == [
            ("questions", 1),
            ("counts", 2),
            ("questions", 3),
        ]
        assert one[1]["counts"] == {"1": 1}

    writes.clear()
    room.commit(room.state.board.vote(2, "v1"))
    room.commit(room.state.board.ask("Tredje frågan?", None, "p3", "room", None, False))
    for change in room.changes[-2:]:
        hub.on_change(change)
    writes.clear()  # the moderator's
    newcomer = join(hub, "participant", since=3)
    lane = hub.rooms[SESSION.id].public.lane_of(newcomer)
    # Given at the join to the newcomer's lane, before its replay; the other lanes wait.
    assert set(writes) == lane.sockets | {newcomer}
    for ws in lane.sockets:
        [got] = writes[ws]
        assert [(m["type"], m["seq"]) for m in got] == [("counts", 4), ("questions", 5)]
    assert [m["seq"] for m in writes[newcomer][0]] == [4, 5]  # replayed from the ring


def test_events_read_together_go_to_each_socket_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events another process stored, read from the log together (`Hub.together`), go to
    each connection of a small room in one write at the end, in seq order, where each
    would have been one write at once (four questions asked at the same moment through
    four processes were four writes to every socket of each)."""
    writes = captured_writes(monkeypatch)
    room = Room()
    hub = Hub()
    hub.ensure_room(SESSION.id, 0)
    participants = [join(hub, "participant") for _ in range(5)]
    moderator = join(hub, "moderator")
    hub.flush()
    writes.clear()
    with hub.together():
        for i in range(4):
            room.commit(room.state.board.ask(f"Fråga {i}?", None, f"p{i}", "room", None, False))
        room.commit(room.state.board.vote(1, "v1"))
        for change in room.changes:
            hub.on_change(change)
        assert writes == {}  # nothing before the end
    for ws in [*participants, moderator]:
        [one] = writes[ws]
        assert [(m["type"], m["seq"]) for m in one] == [
            *(("questions", seq) for seq in range(1, 5)),
            ("counts", 5),
        ]

    # Unheld, each event is one write at once, as before.
    writes.clear()
    room.commit(room.state.board.ask("Fråga 5?", None, "p5", "room", None, False))
    room.commit(room.state.board.ask("Fråga 6?", None, "p6", "room", None, False))
    for change in room.changes[-2:]:
        hub.on_change(change)
    assert [[m["seq"] for m in w] for w in writes[participants[0]]] == [[6], [7]]
