"""One encoded frame for many sockets: the hot loop of the fan-out.

A server's WebSocket frame carries no mask and (compression is off) no per-connection
state, so the bytes of a text frame are the same for every connection: they are built
once per message and handed to each transport as they are. `websockets.broadcast` frames
the message again for every connection (about half of its cost per socket); what is left
per socket here is one state check and one `transport.write`, the floor measured in
shared/notes/realtime.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

OPEN = State.OPEN


def text_frame(payload: bytes) -> bytes:
    """An unfragmented, unmasked text frame (RFC 6455 section 5.2) holding `payload`."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return b"\x81\x7e" + n.to_bytes(2, "big") + payload
    return b"\x81\x7f" + n.to_bytes(8, "big") + payload


def fan_out(sockets: Iterable[ServerConnection], payloads: Sequence[str]) -> None:
    """Write text messages, in order, to every open connection, without yielding: all of
    them in one write per connection (a write is a system call; its cost, not the bytes,
    is what a fan-out spends).

    A connection whose closing handshake has begun gets nothing more (RFC 6455: no data
    after a close frame). Nothing here checks buffers: a connection whose transport passes
    its high-water mark tells the hub itself (`pause_writing`), so slow clients cost
    nothing per message.
    """
    frame = b"".join(text_frame(payload.encode()) for payload in payloads)
    for ws in sockets:
        if ws.protocol.state is OPEN:
            ws.transport.write(frame)
