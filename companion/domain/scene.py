"""Scenes: what the room and the stream show during each agenda item (the run of show).

A `Scene` is planned per agenda item, in the console or the programme editor: what the
big screen shows, which of the item's polls runs while the item is current, and what the
stream shows. Moving the agenda applies the new item's scene in the same event, so the
big screen, the polls, the stream and the agenda move together under one `seq`
(`SessionState.move`). `Show` is what is applied now; the moderator can override any
part of it by hand afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from companion.domain import events as ev
from companion.domain.errors import InvalidState
from companion.domain.programme import AgendaItem, ItemKind


class ScreenMode(StrEnum):
    """What the big screen shows."""

    QR = "qr"  # the join QR code and the highlighted question
    POLL = "poll"  # the scene's poll, live
    AGENDA = "agenda"  # the agenda with what is next
    SPEAKER = "speaker"  # a card with the item's speakers: name, title, organisation
    BREAK = "break"  # a countdown to the restart


class StreamSource(StrEnum):
    """What the live stream shows (the slate itself is drawn by the media layer)."""

    CAMERA = "camera"
    SLATE = "slate"


class SlateAudio(StrEnum):
    """The room's sound while the stream shows a slate (with the camera it is always on)."""

    MUTED = "muted"  # the default: the fika's chatter stays in the room
    ROOM = "room"


DEFAULT_BREAK_MINUTES = 15  # a break item without a planned length


@dataclass(frozen=True, slots=True)
class Scene:
    """The planned scene of one agenda item; `poll` is a poll id of the session or None."""

    screen: ScreenMode = ScreenMode.QR
    stream: StreamSource = StreamSource.CAMERA
    poll: int | None = None
    slate_audio: SlateAudio = SlateAudio.MUTED


def default_scene(item: AgendaItem) -> Scene:
    """The scene of an item nobody planned one for: a break shows the countdown and the
    slate, anything else the join code and the camera."""
    if item.kind == ItemKind.BREAK:
        return Scene(ScreenMode.BREAK, StreamSource.SLATE)
    return Scene()


def scene_of(item: AgendaItem) -> Scene:
    """The scene that applies when the item becomes current."""
    return item.scene if item.scene is not None else default_scene(item)


def scene_to_data(scene: Scene) -> dict[str, Any]:
    """A scene as plain JSON-compatible data."""
    return {
        "screen": scene.screen.value,
        "stream": scene.stream.value,
        "poll": scene.poll,
        "slate_audio": scene.slate_audio.value,
    }


def scene_from_data(d: dict[str, Any]) -> Scene:
    """The inverse of `scene_to_data`; missing keys take their defaults."""
    return Scene(
        ScreenMode(d.get("screen", ScreenMode.QR)),
        StreamSource(d.get("stream", StreamSource.CAMERA)),
        d.get("poll"),
        SlateAudio(d.get("slate_audio", SlateAudio.MUTED)),
    )


def _choice(
    value: object, kind: type[ScreenMode] | type[StreamSource] | type[SlateAudio], what: str
) -> Any:
    try:
        return kind(value if isinstance(value, str) else "")
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidState(f"`{what}` must be one of {allowed}.", code="invalid_value") from None


def read_scene(fields: object, poll_ok: Any) -> Scene:
    """A scene from a client's `scene` object; `poll_ok(poll id)` checks the poll."""
    if not isinstance(fields, dict):
        raise InvalidState("`scene` must be an object.", code="invalid_value")
    screen = _choice(fields.get("screen", ScreenMode.QR.value), ScreenMode, "screen")
    stream = _choice(fields.get("stream", StreamSource.CAMERA.value), StreamSource, "stream")
    audio = _choice(fields.get("slate_audio", SlateAudio.MUTED.value), SlateAudio, "slate_audio")
    poll = fields.get("poll")
    if poll is not None:
        if not isinstance(poll, int) or isinstance(poll, bool):
            raise InvalidState("`poll` must be a poll id or null.", code="invalid_value")
        poll_ok(poll)
    return Scene(screen, stream, poll, audio)


@dataclass(slots=True)
class Show:
    """What the scene of the current item (and any override since) shows now."""

    screen: ScreenMode = ScreenMode.QR
    stream: StreamSource = StreamSource.CAMERA
    item: str | None = None  # the item whose scene was applied last
    poll: int | None = None  # the poll that scene runs; closed when the item ends
    slate_audio: SlateAudio = SlateAudio.MUTED

    def set_screen(self, mode: object) -> ev.Draft:
        """The moderator's override of the big screen."""
        wanted = _choice(mode, ScreenMode, "screen")
        if wanted == self.screen:
            raise InvalidState("The screen already shows that.")
        return ev.Draft(ev.SHOW_SCREEN, {"screen": wanted.value})

    def set_stream(self, source: object) -> ev.Draft:
        """The moderator's override of what the stream shows."""
        wanted = _choice(source, StreamSource, "stream")
        if wanted == self.stream:
            raise InvalidState("The stream already shows that.")
        return ev.Draft(ev.SHOW_STREAM, {"stream": wanted.value})

    def set_slate_audio(self, audio: object) -> ev.Draft:
        """The moderator's override of the room's sound while a slate is shown."""
        wanted = _choice(audio, SlateAudio, "audio")
        if wanted == self.slate_audio:
            raise InvalidState("The slate's sound is already so.")
        return ev.Draft(ev.SHOW_SLATE_AUDIO, {"audio": wanted.value})

    def apply(self, event: ev.Event) -> None:
        """Fold a show event, or the scene part of an `agenda.moved`, in."""
        d = event.data
        match event.type:
            case ev.SHOW_SCREEN:
                self.screen = ScreenMode(d["screen"])
            case ev.SHOW_STREAM:
                self.stream = StreamSource(d["stream"])
            case ev.SHOW_SLATE_AUDIO:
                self.slate_audio = SlateAudio(d["audio"])
            case ev.AGENDA_MOVED:
                scene = d["scene"]
                self.screen = ScreenMode(scene["screen"])
                self.stream = StreamSource(scene["stream"])
                self.item = d["item_id"]
                self.poll = scene["poll"]
                # Moves logged before the choice existed muted the slate (the default).
                self.slate_audio = SlateAudio(scene.get("slate_audio", SlateAudio.MUTED))
            case _:
                raise ValueError(f"not a show event: {event.type}")
