"""Every place Companion reaches into aiortc's private parts, in one module.

aiortc (1.16) has no public way to do these, and each is needed: its packet-mode sender
cannot make a keyframe, its negotiated codecs are not exposed, its codec table is a
module-level list, one of its fire-and-forget tasks fails noisily when a connection is
closed early, and aioice's ICE consent timing is fixed in module constants. An aiortc upgrade that changes any of them breaks here, and only here
(tests/media exercises each).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aioice.ice
from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import CODECS
from aiortc.exceptions import InvalidStateError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

log = logging.getLogger(__name__)


def route_keyframe_requests(sender: RTCRtpSender, request: Callable[[], None]) -> None:
    """Send a viewer's PLI/FIR to `request` (the shared encoder).

    In packet mode the sender's own keyframe forcing does nothing; aiortc calls the
    sender's `_send_keyframe` on every PLI/FIR it receives.
    """
    sender._send_keyframe = request  # type: ignore[method-assign]


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs negotiated for a transceiver, the one in use first (aiortc's `_codecs`)."""
    return list(getattr(transceiver, "_codecs", []))


def codec_table(kind: str) -> list[RTCRtpCodecParameters]:
    """aiortc's process-wide list of the codecs it negotiates for `kind` (mutable)."""
    return CODECS[kind]


def quiet_closed_while_connecting(loop: asyncio.AbstractEventLoop) -> None:
    """Log in one line, not a traceback, what aiortc's connect task raises when its
    connection is closed while ICE starts (a DELETE right after the answer).

    `RTCPeerConnection.__connect` runs as a task nobody awaits, so its
    `InvalidStateError("RTCIceTransport is closed")` would reach asyncio's handler as
    "Task exception was never retrieved" (aiortc issue #429). Nothing is lost: the
    connection was closed on purpose. Other exceptions go to the previous handler.
    """
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        future = context.get("future")
        coro = future.get_coro() if isinstance(future, asyncio.Task) else None
        if isinstance(context.get("exception"), InvalidStateError) and getattr(
            coro, "__qualname__", ""
        ).endswith("RTCPeerConnection.__connect"):
            log.info("a peer connection was closed while connecting")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def expire_consent_sooner(interval: float, failures: int) -> None:
    """Make ICE consent (RFC 7675) notice a vanished peer sooner, process-wide.

    aioice checks consent every CONSENT_INTERVAL seconds (randomised by ±20 %, one try,
    0.5 s for the answer) and closes the connection after CONSENT_FAILURES unanswered
    checks in a row; its 5 s x 6 keep a peer that vanished counted for about 30 s. Both
    are module constants read at each check, and there is no per-connection setting.
    """
    # aioice declares the interval an int; it only multiplies it by a random factor.
    aioice.ice.CONSENT_INTERVAL = interval  # type: ignore[assignment]
    aioice.ice.CONSENT_FAILURES = failures
