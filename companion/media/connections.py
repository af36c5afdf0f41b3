"""Every peer connection of this process: made, negotiated, trickled and closed here.

Because nothing else creates or closes one, `count` is exact (the leak checks in the
tests rely on it). A peer that vanishes without a DELETE is noticed by ICE consent
(RFC 7675), checked sooner than aioice does by itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import OperationError
from aiortc.sdp import candidate_from_sdp

from companion.media.aiortc_internals import expire_consent_sooner, quiet_closed_while_connecting
from companion.media.errors import BadOffer, IceRestart
from companion.media.ice_servers import IceServers
from companion.media.offers import normalise

log = logging.getLogger(__name__)

# ICE consent (RFC 7675): a check every 2 s (±20 %), closed after 5 unanswered in a row,
# so a peer that vanished without a DELETE is gone within 5 x 2.4 s + 0.5 s = 12.5 s.
CONSENT_INTERVAL = 2.0
CONSENT_FAILURES = 5


class PeerConnections:
    """The open peer connections, with counts of all ever opened and closed."""

    def __init__(self, ice: IceServers) -> None:
        expire_consent_sooner(CONSENT_INTERVAL, CONSENT_FAILURES)
        self.ice = ice
        self.open: set[RTCPeerConnection] = set()
        self.opened = 0
        self.closed = 0

    def start(self) -> None:
        """On the serving event loop: aiortc's noise after early closes is one log line."""
        quiet_closed_while_connecting(asyncio.get_running_loop())

    def new(self) -> RTCPeerConnection:
        """A new peer connection with the configured ICE servers."""
        # Fresh TURN credentials for every connection: a long-running server's would expire.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice.for_user("companion")))
        self.open.add(pc)
        self.opened += 1
        return pc

    async def close(self, pc: RTCPeerConnection) -> None:
        """Close a peer connection (idempotent; never raises)."""
        if pc not in self.open:
            return
        try:
            await pc.close()
        except Exception:  # closing must not fail the request that closes it
            log.exception("closing a peer connection failed")
        self.open.discard(pc)
        self.closed += 1

    @staticmethod
    def on_gone(pc: RTCPeerConnection, gone: Callable[[str], None]) -> None:
        """Call `gone(reason)` when the connection fails or closes (ICE consent included)."""

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                gone(f"connection {pc.connectionState}")

    async def answer(
        self,
        pc: RTCPeerConnection,
        offer: str,
        viewer: bool = False,
        reply: MediaStreamTrack | None = None,
    ) -> str:
        """Apply an offer (checked by `offers` first) and return the SDP answer, or BadOffer.

        `reply`: a track to send back on the offer's section of its kind; it is sent only
        if that section is sendrecv (a sendonly offer's answer stays recvonly)."""
        sdp = normalise(offer, viewer)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        except OperationError:  # no codec in common (a viewer's were checked above)
            raise BadOffer(
                "The offer has no codec Companion can receive: VP8 or H.264 video, Opus audio."
            ) from None
        except Exception as exc:  # what our checks did not foresee: still the offer's fault
            log.warning("offer refused by aiortc: %s", _short(exc))
            raise BadOffer("The SDP offer cannot be used.") from None
        if viewer and not any(t.mid is not None for t in pc.getTransceivers()):
            raise BadOffer("The offer has no audio or video to receive.")
        if reply is not None:
            pc.addTrack(reply)  # takes the offer's transceiver of that kind
        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            log.warning("no answer to an offer: %s", _short(exc))
            raise BadOffer("The SDP offer cannot be answered.") from None
        return pc.localDescription.sdp

    @staticmethod
    async def trickle(pc: RTCPeerConnection, fragment: str) -> None:
        """Add trickled ICE candidates (RFC 8840 SDP fragment); ICE restarts are refused."""
        remote = pc.remoteDescription
        ufrag = next(
            (
                line.split(":", 1)[1].strip()
                for line in fragment.splitlines()
                if line.startswith("a=ice-ufrag:")
            ),
            None,
        )
        if ufrag is not None and remote is not None and f"a=ice-ufrag:{ufrag}" not in remote.sdp:
            raise IceRestart("ICE restarts are not supported; create a new session.")
        mid = next((t.mid for t in pc.getTransceivers() if t.mid is not None), None)
        for line in fragment.splitlines():
            if line.startswith("a=candidate:"):
                try:
                    candidate = candidate_from_sdp(line[len("a=candidate:") :].strip())
                except (AssertionError, ValueError, IndexError) as exc:
                    raise BadOffer("A candidate line cannot be read.") from exc
                candidate.sdpMid = mid
                await pc.addIceCandidate(candidate)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
