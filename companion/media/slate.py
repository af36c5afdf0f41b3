"""What the stream shows instead of the room camera: the slate's words.

A slate replaces the camera in the outgoing video when the show's stream field says
`slate` (a break, the time before the start) and, whatever the field says, when the
publisher's pictures have stopped coming ("Vi är strax tillbaka"). The words are made
here from the session's state, Swedish first with the English below; the picture is
drawn by `slate_picture` and encoded by the session's one shared encoder
(`broadcast.Broadcast`), so a slate costs every viewer what a camera frame does. The cue
also names who is on stage, for the lower third that `name_card` draws over either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from companion.domain.scene import StreamSource
from companion.domain.session_state import SessionState
from companion.web.i18n import translator

# Where the sessions take place (as the calendar feed): the slate's "tillbaka 10.45" is
# the room's time whatever zone the server runs in (a container's is often UTC).
TIME_ZONE = ZoneInfo("Europe/Stockholm")


class SlateKind(StrEnum):
    """Why the camera is not shown; each kind has its own background colour."""

    PLANNED = "planned"  # the scene or the moderator says slate: a break, before the start
    RIGHT_BACK = "right_back"  # the publisher's pictures stopped coming


@dataclass(frozen=True, slots=True)
class SlateText:
    """The lines of one slate picture; equal texts draw the same picture. Each is one
    line: line breaks and runs of spaces (a break message typed on two lines) are one
    space."""

    kind: SlateKind
    title: str  # the session's title
    headline: str  # "Fika — tillbaka 10.45"
    headline_en: str  # the same in English, smaller
    countdown: str  # "14:32" to the restart, or ""
    next_item: str  # "Härnäst: Panelsamtal · Next", or ""
    join: str  # "Kod 123456 · companion.example"

    def __post_init__(self) -> None:
        for name in ("title", "headline", "headline_en", "countdown", "next_item", "join"):
            object.__setattr__(self, name, " ".join(getattr(self, name).split()))


@dataclass(frozen=True, slots=True)
class NameCard:
    """One person on stage as the stream's lower third names them (`name_card` draws it);
    equal cards draw the same picture."""

    name: str  # as they gave it, or "Deltagare på distans" / "på plats" without one
    status: str  # "På scen · på distans" (just "På scen" when the name says where)
    status_en: str  # the same in English, smaller
    # "Mikrofonen är avstängd" while the moderator has them muted, else "". Swedish only,
    # in place of the English line: the stream speaks the session's language, as the big
    # screen does by default, and a third line would not fit the card at a phone's size.
    muted: str = ""


@dataclass(frozen=True, slots=True)
class Cue:
    """What the stream sends now: a slate (None: the camera), the room's sound or not, and
    who is on stage (drawn over either, in the order invited)."""

    slate: SlateText | None
    room_audio: bool
    on_stage: tuple[NameCard, ...] = ()


def countdown(seconds: float) -> str:
    """Seconds left as "m:ss" (or "h:mm:ss"), never below zero."""
    left = max(0, int(seconds + 0.999))  # 0.2 s left still shows 0:01
    hours, rest = divmod(left, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def cue_for(state: SessionState | None, camera_ok: bool, now: float, site: str) -> Cue:
    """The slate (or the camera) and the sound at unix time `now`.

    `camera_ok`: the publisher's pictures are coming. `site`: the address to join at.
    """
    if state is None:
        return Cue(None, True) if camera_ok else Cue(_right_back(None, site), False)
    cards = name_cards(state)
    if state.show.stream == StreamSource.SLATE:
        room = state.show.slate_audio == "room" and camera_ok
        return Cue(_planned(state, now, site), room, cards)
    if not camera_ok:
        return Cue(_right_back(state, site), False, cards)
    return Cue(None, True, cards)


def name_cards(state: SessionState) -> tuple[NameCard, ...]:
    """Who is on stage, in the order raised, as the big screen's name cards say it
    (static/js/screen.js)."""
    sv, en = translator("sv"), translator("en")
    cards = []
    for hand in state.hands.on_stage():
        remote = hand.where != "room"
        if hand.name:
            where, where_en = (
                (sv("hands.remote"), en("hands.remote"))
                if remote
                else (sv("hands.room"), en("hands.room"))
            )
            status = sv("namecard.status", where=where)
            status_en = en("namecard.status", where=where_en)
            name = hand.name
        else:  # the name line says where they are
            name = sv("namecard.anonymous_remote" if remote else "namecard.anonymous_room")
            status, status_en = sv("namecard.label"), en("namecard.label")
        cards.append(NameCard(name, status, status_en, sv("namecard.muted") if hand.muted else ""))
    return tuple(cards)


def _join(state: SessionState | None, site: str) -> str:
    sv = translator("sv")
    if state is None or not state.join_code:
        return site
    return sv("slate.join", code=state.join_code, url=site)


def _next(state: SessionState) -> str:
    item = state.agenda.next_item()
    if item is None:
        return ""
    return translator("sv")("slate.next", title=item.title)


def _planned(state: SessionState, now: float, site: str) -> SlateText:
    sv, en = translator("sv"), translator("en")
    pause = state.agenda.current_break
    current = state.agenda.item(state.agenda.current) if state.agenda.current else None
    if pause is not None:
        what = pause.message or (current.title if current else "") or sv("slate.break")
        what_en = pause.message or (current.title if current else "") or en("slate.break")
        ends = dt.datetime.fromtimestamp(pause.ends_at, TIME_ZONE)
        headline = sv("slate.back_at", what=what, time=sv.time(ends))
        headline_en = en("slate.back_at", what=what_en, time=en.time(ends))
        left = countdown(pause.ends_at - now)
    elif current is None:
        headline, headline_en, left = sv("slate.starting"), en("slate.starting"), ""
    else:
        headline = sv("slate.paused", what=current.title)
        headline_en = en("slate.paused", what=current.title)
        left = ""
    return SlateText(
        SlateKind.PLANNED,
        state.session.title,
        headline,
        headline_en,
        left,
        _next(state),
        _join(state, site),
    )


def _right_back(state: SessionState | None, site: str) -> SlateText:
    sv, en = translator("sv"), translator("en")
    return SlateText(
        SlateKind.RIGHT_BACK,
        state.session.title if state else "",
        sv("slate.right_back"),
        en("slate.right_back"),
        "",
        "",
        _join(state, site),
    )
