"""The programme as JSON-ready data: what the store keeps and `agenda.revised` carries.

One conversion each way, exact for everything the domain holds: dates ``YYYY-MM-DD``,
times ``HH:MM`` (``HH:MM:SS[.ffffff]`` if they have seconds), enums their string values,
absent values ``None``. The data has the shape of the YAML programme file, so stored data
also parses back as a file. Pages and reports have their own views (`services.projection`,
`services.report`); this is the storage format only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from companion.domain.programme import (
    AgendaItem,
    Event,
    ItemKind,
    Network,
    Programme,
    Season,
    Session,
    Speaker,
    Status,
    Track,
)
from companion.domain.scene import scene_from_data, scene_to_data


def speaker_to_data(s: Speaker) -> dict[str, str]:
    """A speaker as plain data."""
    return {"name": s.name, "title": s.title, "organisation": s.organisation}


def speaker_from_data(d: dict[str, Any]) -> Speaker:
    """The inverse of `speaker_to_data`."""
    return Speaker(name=d["name"], title=d.get("title", ""), organisation=d.get("organisation", ""))


def time_to_data(t: dt.time | None) -> str | None:
    """``HH:MM``, or ``HH:MM:SS[.ffffff]`` for a time with seconds, so any time round-trips."""
    if t is None:
        return None
    spec = "minutes" if t.second == 0 and t.microsecond == 0 else "auto"
    return t.isoformat(timespec=spec)


def time_from_data(value: str | None) -> dt.time | None:
    """The inverse of `time_to_data`."""
    return None if value is None else dt.time.fromisoformat(value)


def item_to_data(i: AgendaItem) -> dict[str, Any]:
    """An agenda item as plain JSON-compatible data."""
    return {
        "id": i.id,
        "kind": i.kind.value,
        "title": i.title,
        "description": i.description,
        "speakers": [speaker_to_data(s) for s in i.speakers],
        "start": time_to_data(i.start),
        "minutes": i.minutes,
        "status": i.status.value,
        "scene": scene_to_data(i.scene) if i.scene is not None else None,
    }


def item_from_data(d: dict[str, Any]) -> AgendaItem:
    """The inverse of `item_to_data`; missing keys take their defaults."""
    return AgendaItem(
        id=d["id"],
        kind=ItemKind(d["kind"]),
        title=d["title"],
        description=d.get("description", ""),
        speakers=tuple(speaker_from_data(s) for s in d.get("speakers") or () if s is not None),
        start=time_from_data(d.get("start")),
        minutes=d.get("minutes"),
        status=Status(d.get("status", Status.SCHEDULED)),
        scene=scene_from_data(d["scene"]) if d.get("scene") else None,
    )


def programme_to_data(p: Programme) -> dict[str, Any]:
    """The programme as plain JSON-compatible data (same shape as the file, every field).

    Dates are ``YYYY-MM-DD``, times ``HH:MM`` (``HH:MM:SS[.ffffff]`` if they have
    seconds), enums their string values and absent values ``None``.
    """
    return {"networks": [_network_to_data(network) for network in p.networks]}


def programme_from_data(d: dict[str, Any]) -> Programme:
    """Rebuild the programme from `programme_to_data` output; missing keys take defaults.

    Raises KeyError / ValueError on data that was not produced by `programme_to_data`.
    """
    return Programme(networks=tuple(_network_from_data(n) for n in d.get("networks") or ()))


def _speaker_to_data(s: Speaker | None) -> dict[str, str] | None:
    return None if s is None else speaker_to_data(s)


def _speaker_from_data(d: dict[str, Any] | None) -> Speaker | None:
    return None if d is None else speaker_from_data(d)


def _network_to_data(n: Network) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": n.id,
        "title": n.title,
        "description": n.description,
        "audience": n.audience,
        "moderator": _speaker_to_data(n.moderator),
        "contact": n.contact,
        "seasons": [
            {"id": s.id, "title": s.title, "events": [_event_to_data(e) for e in s.events]}
            for s in n.seasons
        ],
    }
    if n.retention_days is not None:  # absent: the installation's period
        data["retention_days"] = n.retention_days
    return data


def _network_from_data(d: dict[str, Any]) -> Network:
    return Network(
        id=d["id"],
        title=d["title"],
        description=d.get("description", ""),
        audience=d.get("audience", ""),
        moderator=_speaker_from_data(d.get("moderator")),
        contact=d.get("contact", ""),
        retention_days=d.get("retention_days"),
        seasons=tuple(
            Season(
                id=s["id"],
                title=s["title"],
                events=tuple(_event_from_data(e) for e in s.get("events") or ()),
            )
            for s in d.get("seasons") or ()
        ),
    )


def _event_to_data(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "title": e.title,
        "date": e.date.isoformat() if e.date is not None else None,
        "start": time_to_data(e.start),
        "end": time_to_data(e.end),
        "venue": e.venue,
        "status": e.status.value,
        "note": e.note,
        "tracks": [{"id": t.id, "title": t.title, "description": t.description} for t in e.tracks],
        "sessions": [_session_to_data(s) for s in e.sessions],
    }


def _event_from_data(d: dict[str, Any]) -> Event:
    date = d.get("date")
    return Event(
        id=d["id"],
        title=d["title"],
        date=dt.date.fromisoformat(date) if date is not None else None,
        start=time_from_data(d.get("start")),
        end=time_from_data(d.get("end")),
        venue=d.get("venue", ""),
        status=Status(d.get("status", Status.SCHEDULED)),
        note=d.get("note", ""),
        tracks=tuple(
            Track(id=t["id"], title=t["title"], description=t.get("description", ""))
            for t in d.get("tracks") or ()
        ),
        sessions=tuple(_session_from_data(s) for s in d.get("sessions") or ()),
    )


def _session_to_data(s: Session) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "description": s.description,
        "track": s.track,
        "moderator": _speaker_to_data(s.moderator),
        "items": [item_to_data(i) for i in s.items],
        **({"members_only": True} if s.members_only else {}),
    }


def _session_from_data(d: dict[str, Any]) -> Session:
    return Session(
        id=d["id"],
        title=d["title"],
        description=d.get("description", ""),
        track=d.get("track"),
        moderator=_speaker_from_data(d.get("moderator")),
        items=tuple(item_from_data(i) for i in d.get("items") or ()),
        members_only=bool(d.get("members_only", False)),
    )
