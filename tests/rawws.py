"""Bare sockets that speak just enough WebSocket to join and then misbehave: never read,
or never finish the handshake. A library client would read for them."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
from typing import Any

# Linux `struct tcp_info` starts with the state byte.
TCP_CLOSE_WAIT = 8
TCP_CLOSE = 7


def handshake(sock: socket.socket, host: str, port: int, path: str = "/ws") -> None:
    """Upgrade an open socket to a WebSocket; reads only the response head."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        # One byte at a time so that nothing after the head is taken out of the socket.
        byte = sock.recv(1)
        if not byte:
            raise ConnectionError(f"closed during the handshake: {head!r}")
        head += byte
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(head.decode(errors="replace"))


def frame(message: dict[str, Any]) -> bytes:
    """A masked text frame, as a client must send it."""
    payload = json.dumps(message).encode()
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, 0x80 | size)
    else:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def stalled_member(host: str, port: int, join: dict[str, Any], rcvbuf: int = 4096) -> socket.socket:
    """A connection that joins and then never reads again, with a small receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect((host, port))
    handshake(sock, host, port)
    sock.sendall(frame(join))
    return sock


def tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of a socket (1 established, 7 closed, 8 closed by the peer)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def released(sock: socket.socket) -> bool:
    """Whether the server has let go of this connection (closed or reset it)."""
    return tcp_state(sock) in (TCP_CLOSE, TCP_CLOSE_WAIT)
