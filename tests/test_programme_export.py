"""The programme written as YAML reads back as the same programme."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from companion.domain.programme import Programme
from companion.domain.scene import Scene, ScreenMode, SlateAudio, StreamSource
from companion.programme_export import dump_programme
from companion.programme_file import ProgrammeError, parse_programme
from tests.serverproc import DEMO


def demo() -> Programme:
    return parse_programme(DEMO.read_text("utf-8"), DEMO.name)


def test_the_demo_round_trips() -> None:
    """export → import gives the same programme, every field of every level."""
    programme = demo()
    text = dump_programme(programme)
    assert parse_programme(text, "export.yaml") == programme
    assert "Klarahuset, Drottninggatan 33" in text  # UTF-8 as written, not escaped
    assert "\\u" not in text
    assert "null" not in text  # empty fields are left out


def test_scenes_round_trip_and_a_bad_one_is_refused_with_its_line() -> None:
    """An item's scene is written under `scene:` and read back; an unknown screen is an
    error naming the file, the line and the field."""
    programme = demo()
    network = programme.networks[0]
    season = network.seasons[0]
    event = season.events[0]
    session = event.sessions[0]
    items = (
        dataclasses.replace(session.items[0], scene=Scene(ScreenMode.SPEAKER, poll=2)),
        dataclasses.replace(
            session.items[1],
            scene=Scene(ScreenMode.BREAK, StreamSource.SLATE, slate_audio=SlateAudio.ROOM),
        ),
        *session.items[2:],
    )
    changed = dataclasses.replace(
        programme,
        networks=(
            dataclasses.replace(
                network,
                seasons=(
                    dataclasses.replace(
                        season,
                        events=(
                            dataclasses.replace(
                                event,
                                sessions=(
                                    dataclasses.replace(session, items=items),
                                    *event.sessions[1:],
                                ),
                            ),
                            *season.events[1:],
                        ),
                    ),
                    *network.seasons[1:],
                ),
            ),
            *programme.networks[1:],
        ),
    )
    text = dump_programme(changed)
    assert "screen: speaker" in text and "stream: slate" in text and "slate_audio: room" in text
    assert parse_programme(text, "export.yaml") == changed
    bad = text.replace("screen: speaker", "screen: disco", 1)
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(bad, "export.yaml")
    assert "export.yaml:" in str(caught.value) and ".scene.screen" in str(caught.value)


# Text an organiser might write: YAML look-alikes, quotes, colons, hashes, leading dashes,
# Swedish letters, paragraphs.
TEXT = (
    st.one_of(
        st.sampled_from(
            [
                "yes",
                "no",
                "09:30",
                "2020-05-05",
                "- punkt",
                "a: b",
                "#1",
                "'citat'",
                '"x"',
                "~",
                "@",
            ]
        ),
        st.text(
            alphabet=st.characters(
                blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\u2028\u2029\x85"
            ),
            min_size=1,
            max_size=40,
        ),
    )
    .map(str.strip)
    .filter(bool)
)
PARAGRAPHS = st.lists(TEXT, min_size=1, max_size=3).map("\n".join)


@settings(max_examples=60, deadline=None)
@given(title=TEXT, description=PARAGRAPHS, venue=TEXT, note=PARAGRAPHS)
def test_any_text_round_trips(title: str, description: str, venue: str, note: str) -> None:
    """Whatever the texts, the written file reads back to the same programme."""
    programme = demo()
    network = programme.networks[0]
    season = network.seasons[0]
    event = dataclasses.replace(season.events[1], title=title, venue=venue, note=note)
    network = dataclasses.replace(
        network,
        description=description,
        seasons=(dataclasses.replace(season, events=(event,)),),
    )
    changed = Programme(networks=(network,))
    assert parse_programme(dump_programme(changed), "export.yaml") == changed


def test_a_members_only_session_round_trips_and_a_bad_flag_is_named() -> None:
    """`members_only: true` on a session is exported and read back; anything but true or
    false is refused with its line, like every field."""
    programme = demo()
    network = programme.networks[0]
    season = network.seasons[0]
    event = season.events[0]
    closed = dataclasses.replace(event.sessions[0], members_only=True)
    event = dataclasses.replace(event, sessions=(closed, *event.sessions[1:]))
    season = dataclasses.replace(season, events=(event, *season.events[1:]))
    network = dataclasses.replace(network, seasons=(season, *network.seasons[1:]))
    programme = Programme((network, *programme.networks[1:]))
    text = dump_programme(programme)
    assert text.count("members_only: true") == 1
    assert parse_programme(text, "export.yaml") == programme
    bad = text.replace("members_only: true", "members_only: kanske")
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(bad, "bad.yaml")
    line = bad.splitlines().index(next(row for row in bad.splitlines() if "members_only" in row))
    assert str(caught.value).startswith(f"bad.yaml:{line + 1}:"), str(caught.value)
    assert "true or false" in str(caught.value)
