"""Scenes: a move applies the new item's scene in the same event, and replays exactly."""

from __future__ import annotations

import pytest

from companion.domain import events as ev
from companion.domain.errors import InvalidState, NotFound
from companion.domain.polls import PollStatus
from companion.domain.programme import AgendaItem, ItemKind, Session, Speaker
from companion.domain.scene import Scene, ScreenMode, SlateAudio, StreamSource, scene_of
from companion.domain.session_state import SessionState
from companion.services.projection import project

ITEMS = (
    AgendaItem("valkommen", ItemKind.TALK, "Välkommen", minutes=10),
    AgendaItem(
        "samtal",
        ItemKind.DIALOGUE,
        "Samtal",
        speakers=(Speaker("Lars Olsson", "generaldirektör", "Skatteverket"),),
        minutes=40,
    ),
    AgendaItem("fika", ItemKind.BREAK, "Fika", minutes=20),
    AgendaItem("panel", ItemKind.DISCUSSION, "Panel", minutes=30),
)


class Run:
    """A session state driven like the service drives it, every event kept."""

    def __init__(self) -> None:
        self.state = SessionState(Session("s", "Morgonmöte", items=ITEMS))
        self.events: list[ev.Event] = []
        self.now = 1000.0

    def commit(self, draft: ev.Draft) -> ev.Event:
        self.now += 5
        event = ev.Event("s", self.state.seq + 1, draft.type, draft.data, self.now)
        self.state.apply(event)
        self.events.append(event)
        return event

    def poll(self, item: str | None) -> int:
        fields = {"kind": "single", "text": "Vilken dag?", "options": ["Mån", "Tis"], "item": item}
        return int(self.commit(self.state.create_poll(fields)).data["id"])


def test_an_unplanned_break_item_shows_the_countdown_and_the_slate() -> None:
    assert scene_of(ITEMS[2]) == Scene(ScreenMode.BREAK, StreamSource.SLATE)
    assert scene_of(ITEMS[0]) == Scene(ScreenMode.QR, StreamSource.CAMERA)


def test_a_move_into_a_break_closes_the_previous_poll_and_starts_the_break_in_one_event() -> None:
    run = Run()
    s = run.state
    poll = run.poll("samtal")
    run.commit(s.set_scene("samtal", {"screen": "poll", "stream": "camera", "poll": poll}))
    run.commit(s.move(s.agenda.step(+1)))  # valkommen
    seq_before = s.seq
    run.commit(s.move(s.agenda.step(+1)))  # samtal: its poll opens and goes on screen
    assert s.seq == seq_before + 1
    assert s.polls.polls[poll].status == PollStatus.OPEN and s.polls.on_screen == poll
    assert (s.show.screen, s.show.poll) == (ScreenMode.POLL, poll)

    seq_before = s.seq
    event = run.commit(s.move(s.agenda.step(+1)))  # fika
    assert s.seq == seq_before + 1  # one event moved everything
    assert s.agenda.current == "fika"
    assert s.polls.polls[poll].status == PollStatus.CLOSED
    assert s.polls.on_screen is None
    assert s.agenda.current_break is not None and s.agenda.current_break.minutes == 20
    assert (s.show.screen, s.show.stream, s.show.item) == (
        ScreenMode.BREAK,
        StreamSource.SLATE,
        "fika",
    )
    assert event.data["scene"]["close"] == [poll] and event.data["scene"]["unshow"] == poll

    run.commit(s.move(s.agenda.step(+1)))  # panel: the camera scene again, the break ends
    assert (s.show.screen, s.show.stream) == (ScreenMode.QR, StreamSource.CAMERA)
    assert s.agenda.current_break is None


def test_the_move_message_carries_agenda_show_and_polls_per_role() -> None:
    run = Run()
    s = run.state
    draft_poll = run.poll("valkommen")
    run.commit(s.set_scene("valkommen", {"screen": "poll", "poll": draft_poll}))
    event = ev.Event("s", s.seq + 1, ev.AGENDA_MOVED, s.move(s.agenda.step(+1)).data, 2000.0)
    change = project(s, s.apply(event), {})
    assert change.public is not None and change.moderator is not None
    for body in (change.public, change.moderator):
        assert body["type"] == "agenda"
        assert body["agenda"]["current"] == "valkommen"
        assert body["show"] == {
            "screen": "poll",
            "stream": "camera",
            "slate_audio": "muted",
            "item": "valkommen",
            "poll": 1,
        }
        assert [(p["id"], p["status"], p["on_screen"]) for p in body["polls"]] == [
            (draft_poll, "open", True)
        ]


def test_replaying_the_log_gives_the_same_show_even_after_scenes_change() -> None:
    run = Run()
    s = run.state
    poll = run.poll(None)
    run.commit(s.set_scene("valkommen", {"screen": "speaker", "stream": "slate", "poll": poll}))
    run.commit(s.move(s.agenda.step(+1)))
    run.commit(s.set_scene("valkommen", None))  # planned differently afterwards
    run.commit(s.show.set_stream("camera"))  # the moderator's override
    replayed = SessionState(Session("s", "Morgonmöte", items=ITEMS))
    for event in run.events:
        replayed.apply(event)
    assert replayed.show == s.show
    assert replayed.show.screen == ScreenMode.SPEAKER
    assert replayed.show.stream == StreamSource.CAMERA
    assert replayed.polls.polls[poll].status == PollStatus.OPEN
    assert replayed.agenda.items == s.agenda.items and replayed.agenda.items[0].scene is None


def test_a_move_logged_before_scenes_replays_as_before() -> None:
    s = SessionState(Session("s", "Morgonmöte", items=ITEMS))
    s.apply(ev.Event("s", 1, ev.AGENDA_MOVED, {"item_id": "fika"}, 10.0))
    assert s.agenda.current == "fika" and s.agenda.current_break is None
    assert s.show.item is None and s.show.screen == ScreenMode.QR


def test_a_hand_opened_poll_stays_open_and_overrides_take_effect() -> None:
    run = Run()
    s = run.state
    poll = run.poll("valkommen")
    run.commit(s.move(s.agenda.step(+1)))
    run.commit(s.polls.open(poll))  # by hand, not the scene's
    run.commit(s.show.set_screen("agenda"))
    assert s.show.screen == ScreenMode.AGENDA
    run.commit(s.move(s.agenda.step(+1)))
    assert s.polls.polls[poll].status == PollStatus.OPEN
    assert s.show.screen == ScreenMode.QR


@pytest.mark.parametrize(
    ("item", "scene", "error"),
    [
        ("nope", {"screen": "qr"}, NotFound),
        ("valkommen", {"screen": "disco"}, InvalidState),
        ("valkommen", {"stream": "tv"}, InvalidState),
        ("valkommen", {"screen": ["qr"]}, InvalidState),
        ("valkommen", {"poll": 99}, NotFound),
        ("valkommen", {"poll": True}, InvalidState),
        ("valkommen", {"poll": "1"}, InvalidState),
        ("valkommen", "break", InvalidState),
        ("valkommen", {"poll": 1}, InvalidState),  # poll 1 belongs to another item
        ("fika", None, InvalidState),  # already the default
    ],
)
def test_bad_scenes_are_refused_with_a_code(item: str, scene: object, error: type) -> None:
    run = Run()
    run.poll("samtal")
    with pytest.raises(error) as caught:
        run.state.set_scene(item, scene)
    assert caught.value.code in ("not_found", "invalid_value", "invalid_state")


def test_an_override_to_what_is_shown_is_refused() -> None:
    s = SessionState(Session("s", "Morgonmöte", items=ITEMS))
    with pytest.raises(InvalidState):
        s.show.set_screen("qr")
    with pytest.raises(InvalidState):
        s.show.set_stream("camera")


def test_the_slate_sound_is_planned_per_scene_and_overridden_by_hand() -> None:
    run = Run()
    s = run.state
    run.commit(s.set_scene("fika", {"screen": "break", "stream": "slate", "slate_audio": "room"}))
    run.commit(s.move(s.agenda.goto("fika")))
    assert (s.show.stream, s.show.slate_audio) == (StreamSource.SLATE, SlateAudio.ROOM)
    event = run.commit(s.show.set_slate_audio("muted"))
    assert (event.type, event.data) == ("show.slate_audio", {"audio": "muted"})
    assert s.show.slate_audio == SlateAudio.MUTED
    with pytest.raises(InvalidState):
        s.show.set_slate_audio("muted")  # already so
    with pytest.raises(InvalidState) as bad:
        s.show.set_slate_audio("loud")
    assert bad.value.code == "invalid_value"
    with pytest.raises(InvalidState):
        s.set_scene("panel", {"stream": "slate", "slate_audio": 1})
    run.commit(s.move(s.agenda.step(+1)))  # panel: its default scene mutes a slate again
    assert (s.show.stream, s.show.slate_audio) == (StreamSource.CAMERA, SlateAudio.MUTED)
    replayed = SessionState(Session("s", "Morgonmöte", items=ITEMS))
    for event in run.events:
        replayed.apply(event)
    assert replayed.show == s.show
