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


def test_several_messages_go_out_in_one_write_per_socket() -> None:
    """Counts, an event and presence due together reach a socket as one write, in order."""
    from typing import Any

    from websockets.protocol import State

    from companion.realtime.framing import fan_out

    class Transport:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        def write(self, data: bytes) -> None:
            self.writes.append(data)

    class Protocol:
        def __init__(self, state: State) -> None:
            self.state = state

    class Socket:
        def __init__(self, state: State) -> None:
            self.protocol = Protocol(state)
            self.transport = Transport()

    open_, closing = Socket(State.OPEN), Socket(State.CLOSING)
    messages = ['{"type":"counts"}', '{"type":"questions"}']
    sockets: list[Any] = [open_, closing]
    fan_out(sockets, messages)
    assert open_.transport.writes == [b"".join(text_frame(m.encode()) for m in messages)]
    assert closing.transport.writes == []  # nothing after a close frame
