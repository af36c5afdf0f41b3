"""The programme editor's form reading (companion/domain/programme_edits.py): an agenda
item's scene, as organisers plan it beside the item's other fields."""

from __future__ import annotations

import pytest

from companion.domain.programme import AgendaItem, Event, ItemKind, Network
from companion.domain.programme_edits import FormError, form_values, read_item, read_network
from companion.domain.scene import Scene, ScreenMode, StreamSource

EVENT = Event("traff", "Träff")
FIELDS = {"kind": "talk", "title": "Samtal med gästen"}


def test_screen_and_stream_make_the_scene_and_blank_is_the_default() -> None:
    item = read_item({**FIELDS, "screen": "speaker", "stream": ""}, set(), None, EVENT)
    assert item.scene == Scene(ScreenMode.SPEAKER, StreamSource.CAMERA)
    assert form_values(item) | {"screen": "speaker", "stream": "camera"} == form_values(item)
    pause = read_item({**FIELDS, "kind": "break", "stream": "camera"}, set(), None, EVENT)
    assert pause.scene == Scene(ScreenMode.BREAK, StreamSource.CAMERA)  # blank: the kind's
    assert read_item({**FIELDS, "screen": "", "stream": ""}, set(), None, EVENT).scene is None


def test_a_form_without_scene_fields_keeps_the_scene_and_its_poll() -> None:
    old = AgendaItem("samtal", ItemKind.TALK, "Samtal", scene=Scene(ScreenMode.POLL, poll=3))
    assert read_item(FIELDS, set(), old, EVENT).scene == old.scene
    # The poll is chosen in the console; an organiser's edit of screen and stream keeps it.
    edited = read_item({**FIELDS, "screen": "agenda", "stream": "slate"}, set(), old, EVENT)
    assert edited.scene == Scene(ScreenMode.AGENDA, StreamSource.SLATE, 3)


@pytest.mark.parametrize("field", ["screen", "stream"])
def test_an_unknown_choice_is_an_error_beside_its_field(field: str) -> None:
    with pytest.raises(FormError) as caught:
        read_item({**FIELDS, field: "disco"}, set(), None, EVENT)
    assert set(caught.value.errors) == {field}


def test_a_networks_retention_period_from_its_form() -> None:
    """Blank is the installation's period, 0 keeps data, a bad number is an error beside
    the field, and a form without the field (a new network) keeps what there was."""
    base = {"title": "Ledarskap i offentlig sektor"}
    assert read_network({**base, "retention_days": ""}, set(), None).retention_days is None
    assert read_network({**base, "retention_days": " 30 "}, set(), None).retention_days == 30
    zero = read_network({**base, "retention_days": "0"}, set(), None)
    assert zero.retention_days == 0 and form_values(zero)["retention_days"] == "0"
    for bad in ("-1", "3651", "90 dagar", "٣٠"):
        with pytest.raises(FormError) as caught:
            read_network({**base, "retention_days": bad}, set(), None)
        assert set(caught.value.errors) == {"retention_days"}
    old = Network("ledarskap", "Ledarskap", retention_days=60)
    assert read_network(base, set(), old).retention_days == 60
