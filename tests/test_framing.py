"""The pre-built frame is byte for byte what `websockets` itself would send."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from companion.realtime.framing import text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_text_frame_matches_the_librarys_own(size: int) -> None:
    """Every length encoding (7-bit, 16-bit, 64-bit) matches an unmasked library frame."""
    payload = ("å" * size).encode()[:size]
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert text_frame(payload) == expected
