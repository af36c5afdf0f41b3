"""uvicorn's HTTP protocol with two guards: a deadline for each request to arrive whole,
and a cap on the connections of one client address.

uvicorn closes a kept-alive connection that stays idle after a response, but not one
that never sends a request, nor one that sends its request a byte at a time: such
sockets used to stay open forever, until the process ran out of file descriptors.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from companion.fd_budget import AddressCap

_REFUSAL = b"Too many connections from this address.\n"
REFUSED = (
    b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_REFUSAL), _REFUSAL)
)


def guarded_http_protocol(cap: AddressCap, request_timeout: float) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn (`Config(http=...)`)."""

    class GuardedHttpProtocol(HttpToolsProtocol):
        """A connection must deliver each request (head and body) within `request_timeout`
        seconds of opening or of the request's first byte; past `cap` connections from
        its address it is answered 429 and closed at once."""

        _address: str | None = None
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            address = self.client[0] if self.client else "unknown"
            if not cap.admit(address):
                transport.write(REFUSED)
                transport.close()
                return
            self._address = address
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._address is not None:
                cap.release(self._address)
                self._address = None
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._deadline is None:
                self._arm()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(request_timeout, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedHttpProtocol
