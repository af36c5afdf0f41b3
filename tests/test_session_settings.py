"""Per-session settings (anonymous questions, word filter and own words, live stream) as
session events: decided by the domain, applied in order, enforced by the service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from companion.backends.memory import MemoryBus
from companion.backends.sqlite import SQLiteStore
from companion.cli import demo_programme_text
from companion.domain import events as ev
from companion.domain.errors import DomainError, InvalidState
from companion.domain.session_settings import (
    SessionSettings,
    SettingsError,
    apply,
    change,
    parse_words,
)
from companion.domain.word_filter import WordFilter
from companion.programme_file import parse_programme
from companion.services.projection import session_view
from companion.services.sessions import SessionService

SID = "ledarskap-2020-05-05"


def test_a_change_carries_only_what_differs_and_applies() -> None:
    """Only changed fields go into the event; applying it gives the wanted settings."""
    current = SessionSettings()
    draft = change(
        current, {"anonymous": False, "stream": True, "extra_words": "Skatt*\nbudget, skatt*"}
    )
    assert draft == ev.Draft(
        ev.SETTINGS_CHANGED, {"anonymous": False, "extra_words": ["skatt*", "budget"]}
    )
    after = apply(current, draft.data)
    assert after == SessionSettings(anonymous=False, extra_words=("skatt*", "budget"))
    with pytest.raises(InvalidState) as same:
        change(after, {"anonymous": False, "extra_words": ["skatt*", "budget"]})
    assert same.value.code == "no_change"


@pytest.mark.parametrize(
    "fields",
    [
        {"stream": "yes"},
        {"anonymous": 1},
        {"extra_words": ["två ord"]},
        {"extra_words": ["x" * 41]},
        {"extra_words": [f"ord{i}" for i in range(101)]},
        {"extra_words": 5},
        {"extra_words": [None]},
    ],
)
def test_bad_values_are_refused_naming_the_field(fields: dict[str, object]) -> None:
    """A wrong type, a word with a space, too long or too many words: SettingsError."""
    with pytest.raises(SettingsError) as refused:
        change(SessionSettings(), fields)
    assert refused.value.field == next(iter(fields))


def test_the_filter_holds_own_words_and_can_be_turned_off() -> None:
    """Own words are held like the list's; with the filter off nothing is held."""
    installation = WordFilter(["jävla"])
    settings = SessionSettings(extra_words=parse_words("skatt*"))
    assert settings.held(installation, "Varför höjs skatterna?", None)
    assert settings.held(installation, "Jävla bra", None)
    assert not settings.held(installation, "En vanlig fråga", "Anna")
    off = SessionSettings(word_filter=False, extra_words=("skatt*",))
    assert not off.held(installation, "Jävla skatter", None)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[SessionService]:
    """A loaded service over a real SQLite file, with an installation word list."""
    store = SQLiteStore(tmp_path / "c.db")
    await store.open()
    service = SessionService(store, MemoryBus(), word_filter=WordFilter(["jävla"]))
    await service.import_programme(parse_programme(demo_programme_text(), "demo.yaml"))
    await service.load()
    yield service
    await store.close()


async def test_the_service_enforces_the_settings_and_a_restart_keeps_them(
    service: SessionService, tmp_path: Path
) -> None:
    """No anonymous questions when off; own words held; the filter off lets words through;
    the settings are rebuilt from the log after a restart."""
    await service.execute(
        SID, lambda s: s.change_settings({"anonymous": False, "extra_words": ["skatt*"]})
    )
    with pytest.raises(DomainError) as nameless:
        await service.ask(SID, "p1", "room", "Utan namn?", "  ")
    assert nameless.value.code == "name_required"
    held = await service.ask(SID, "p1", "room", "Skatterna då?", "Anna")
    assert held.change.public is None  # pending: moderators only
    await service.execute(SID, lambda s: s.change_settings({"word_filter": False}))
    shown = await service.ask(SID, "p1", "room", "Skatterna och jävla budgeten?", "Anna")
    assert shown.change.public is not None
    view = session_view(service.states[SID].session, service.states[SID])
    assert (view["anonymous"], view["stream_enabled"]) == (False, True)
    again = SessionService(service.store, MemoryBus())
    await again.load()
    assert again.states[SID].settings == SessionSettings(
        anonymous=False, word_filter=False, extra_words=("skatt*",)
    )
