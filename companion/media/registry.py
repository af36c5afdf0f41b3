"""Publications and viewers of every session, and every peer connection this process holds.

The registry creates and closes all peer connections, so `stats()["peer_connections"]`
is an exact count of what is open (the leak checks in the tests rely on it). It turns a
publisher going live or away into session events through `SessionService.execute`, and
reports each session's number of viewers to the realtime hub's presence.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.exceptions import OperationError
from aiortc.sdp import candidate_from_sdp

from companion.domain.errors import DomainError, NotFound
from companion.media.aiortc_internals import (
    expire_consent_sooner,
    quiet_closed_while_connecting,
    route_keyframe_requests,
)
from companion.media.broadcast import Broadcast
from companion.media.codecs import accept_publisher_codecs, viewer_codecs
from companion.media.errors import (
    BadOffer,
    Conflict,
    Forbidden,
    MediaError,
    Overloaded,
    Unauthorized,
    UnknownResource,
    UnknownSession,
)
from companion.media.keys import same_secret, session_stream_key
from companion.media.offers import normalise
from companion.media.publication import Publication
from companion.services.sessions import SessionService
from companion.services.tokens import TokenError, TokenSigner
from companion.settings import Settings

log = logging.getLogger(__name__)

PUBLISHER, VIEWER = "publisher", "viewer"

# ICE consent (RFC 7675): a check every 2 s (±20 %), closed after 5 unanswered in a row,
# so a peer that vanished without a DELETE is gone within 5 x 2.4 s + 0.5 s = 12.5 s.
CONSENT_INTERVAL = 2.0
CONSENT_FAILURES = 5
VIEWER_CONNECT_TIMEOUT = 15.0  # a viewer not connected by then is not counted any longer


class PresenceSink(Protocol):
    """Where viewer counts go (the realtime hub)."""

    def set_viewers(self, session_id: str, viewers: int) -> None: ...


@dataclass(eq=False)
class Resource:
    """One WHIP or WHEP session: a peer connection and what it is for."""

    id: str
    session_id: str
    role: str
    pc: RTCPeerConnection
    credential: str  # sha256 of the bearer token that created it (DELETE/PATCH need it)
    who: str
    etag: str = field(default_factory=lambda: f'"{secrets.token_hex(8)}"')
    created: float = field(default_factory=time.time)
    publication: Publication | None = None
    ended: bool = False


def fingerprint(token: str) -> str:
    """What is kept of a bearer token: its hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def ice_servers(settings: Settings) -> list[RTCIceServer]:
    """STUN/TURN servers from COMPANION_ICE_SERVERS; none by default (no outside calls)."""
    out = []
    for url in settings.ice_servers.split():
        if url.startswith(("turn:", "turns:")):
            out.append(RTCIceServer(url, settings.turn_username, settings.turn_credential))
        else:
            out.append(RTCIceServer(url))
    return out


class MediaRegistry:
    """Every publication and viewer of this process."""

    def __init__(
        self, settings: Settings, service: SessionService, presence: PresenceSink | None = None
    ) -> None:
        accept_publisher_codecs()
        expire_consent_sooner(CONSENT_INTERVAL, CONSENT_FAILURES)
        self.settings = settings
        self.service = service
        self.presence = presence
        self.signer = TokenSigner(settings.secret_key, settings.token_days * 86400)
        self.ice = ice_servers(settings)
        self.peers: set[RTCPeerConnection] = set()
        self.resources: dict[str, Resource] = {}
        self.broadcasts: dict[str, Broadcast] = {}
        self.publishers: dict[str, str] = {}  # session -> resource id
        self.negotiating: set[str] = set()  # sessions with a publisher's offer being answered
        self.viewers: dict[str, set[str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.opened = 0  # peer connections ever created / closed, for stats
        self.closed = 0

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """After a restart no publisher is connected: end streams the log says are live."""
        quiet_closed_while_connecting(asyncio.get_running_loop())
        if self.service.store.shared:
            # Several processes share the log: a live stream may be another process's.
            return
        for session_id, state in self.service.states.items():
            if state.stream_status == "live":
                await self._stream_event(session_id, live=False, detail="restart")

    async def close(self) -> None:
        """End every publication and viewer and close every peer connection."""
        for resource_id in list(self.resources):
            await self.end(resource_id, "shutdown")
        for task in list(self._tasks):
            task.cancel()
        for pc in list(self.peers):
            await self._close_pc(pc)
        for broadcast in self.broadcasts.values():
            broadcast.close()
        self.broadcasts.clear()

    # -- who may do what -------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """The session named by a session id or a join code."""
        if ref in self.service.states:
            return ref
        try:
            return self.service.session_by_code(ref)
        except NotFound:
            raise UnknownSession("No such session.") from None

    def stream_key(self, session_id: str) -> str:
        """The secret an encoder such as OBS publishes with.

        Rotating the moderator key (a new key version) rotates the stream key with it.
        """
        version = getattr(self.service.states.get(session_id), "key_version", 0)
        return session_stream_key(self.settings.secret_key, session_id, version)

    def is_moderator(self, session_id: str, token: str | None) -> bool:
        """Whether `token` is the session's moderator token."""
        return self.service.is_moderator(session_id, token)

    def check_publisher(self, session_id: str, token: str | None) -> str:
        """Who publishes with this bearer token: "whip" (stream key) or "browser"."""
        if not token:
            raise Unauthorized("Publishing needs the stream key as a Bearer token.")
        if getattr(self.service.states[session_id], "closed", False):
            raise Forbidden("The session is closed.", code="session_closed")
        if not self.service.states[session_id].settings.stream:
            raise Forbidden("The organiser turned the live stream off.", code="stream_disabled")
        if same_secret(token, self.stream_key(session_id)):
            return "whip"
        if self.is_moderator(session_id, token):
            return "browser"
        raise Forbidden("That stream key is not valid for this session.")

    def check_viewer(self, session_id: str, token: str | None) -> str:
        """Who watches with this bearer token: a participant id, or "moderator"."""
        if not token:
            raise Unauthorized("Watching needs your participant token as a Bearer token.")
        if self.is_moderator(session_id, token) or same_secret(token, self.stream_key(session_id)):
            return "moderator"
        try:
            return self.signer.verify(token, session_id)
        except TokenError as exc:
            raise Forbidden(exc.message, code=exc.code) from None

    def resource(self, session_id: str, resource_id: str, token: str | None) -> Resource:
        """An open resource of the session, for the token that created it."""
        res = self.resources.get(resource_id)
        if res is None or res.session_id != session_id:
            raise UnknownResource("No such stream resource; it may have ended.")
        if not token:
            raise Unauthorized("Send the same Bearer token as when the resource was created.")
        if not same_secret(fingerprint(token), res.credential):
            raise Forbidden("That token did not create this resource.")
        return res

    # -- publishing ------------------------------------------------------------------
    async def publish(
        self, session_id: str, offer: str, token: str, source: str
    ) -> tuple[Resource, str]:
        """Accept a publisher's offer; returns its resource and the SDP answer.

        A valid offer replaces the session's current publisher, if any (its peer connection
        is closed): an encoder restarted after a crash must not wait until the server
        notices the old one is gone. Only two offers negotiating at once get a 409.
        """
        if session_id in self.negotiating:
            raise Conflict("Another publisher is connecting to this session; try again.")
        self.negotiating.add(session_id)
        try:
            pc = self._new_pc()
            try:
                answer = await self._negotiate(pc, offer)
                if not any(t.receiver.track is not None for t in pc.getTransceivers()):
                    raise BadOffer("The offer sends no audio or video.")
            except BaseException:
                await self._close_pc(pc)
                raise
            previous = self.publishers.get(session_id)
            if previous is not None:
                await self.end(previous, "replaced")
            res = Resource(
                secrets.token_urlsafe(16), session_id, PUBLISHER, pc, fingerprint(token), source
            )
            self.resources[res.id] = res
            self.publishers[session_id] = res.id
            res.publication = Publication(
                pc, self._broadcast(session_id), source, self._went_live, self._publication_ended
            )
            res.publication.start()
        finally:
            self.negotiating.discard(session_id)
        log.info("%s: publisher %s connected (%s)", session_id, res.id, source)
        return res, answer

    async def _went_live(self, publication: Publication) -> None:
        res = self._by_publication(publication)
        if res is not None:
            log.info("%s: live (%s, %s)", res.session_id, res.who, publication.codecs)
            await self._stream_event(res.session_id, live=True, detail=res.who, resource=res)

    async def _publication_ended(self, publication: Publication, reason: str) -> None:
        res = self._by_publication(publication)
        if res is not None:
            await self.end(res.id, reason)

    def _by_publication(self, publication: Publication) -> Resource | None:
        for res in self.resources.values():
            if res.publication is publication:
                return res
        return None

    # -- watching --------------------------------------------------------------------
    async def view(self, session_id: str, offer: str, token: str, who: str) -> tuple[Resource, str]:
        """Accept a viewer's offer; returns its resource and the SDP answer."""
        watching = self.viewers.setdefault(session_id, set())
        if len(watching) >= self.settings.stream_max_viewers:
            raise Overloaded("Too many viewers right now; try again in a moment.")
        broadcast = self._broadcast(session_id)
        pc = self._new_pc()
        res = Resource(secrets.token_urlsafe(16), session_id, VIEWER, pc, fingerprint(token), who)
        watching.add(res.id)  # counted from now, so concurrent offers respect the limit
        # Only the kinds the offer has: aiortc cannot answer with a transceiver left over.
        kinds = {line[2:].split(" ", 1)[0] for line in offer.splitlines() if line.startswith("m=")}
        try:
            for fanout in (broadcast.video, broadcast.audio):
                if fanout.kind not in kinds:
                    continue
                transceiver = pc.addTransceiver(fanout.track(), direction="sendonly")
                transceiver.setCodecPreferences(viewer_codecs(fanout.kind))
                if fanout.kind == "video":
                    # aiortc's packet-mode sender cannot make a keyframe itself: a PLI or
                    # FIR from this viewer goes to the shared encoder (rate-limited there).
                    route_keyframe_requests(transceiver.sender, broadcast.keyframes.request)
            answer = await self._negotiate(pc, offer, viewer=True)
        except BaseException:
            watching.discard(res.id)
            await self._close_pc(pc)
            self._drop_idle(session_id)
            raise
        self.resources[res.id] = res
        self._report_viewers(session_id)

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._spawn(self.end(res.id, f"connection {pc.connectionState}"))

        self._spawn(self._expire_unconnected(res))
        return res, answer

    async def _expire_unconnected(self, res: Resource) -> None:
        await asyncio.sleep(VIEWER_CONNECT_TIMEOUT)
        if not res.ended and res.pc.connectionState != "connected":
            await self.end(res.id, "never connected")

    # -- both ------------------------------------------------------------------------
    async def end(self, resource_id: str, reason: str = "deleted") -> bool:
        """End a publication or a viewer and close its peer connection (idempotent)."""
        res = self.resources.pop(resource_id, None)
        if res is None:
            return False
        res.ended = True
        session_id = res.session_id
        if res.role == PUBLISHER:
            assert res.publication is not None
            await res.publication.stop()
            await self._close_pc(res.pc)
            await self._stream_event(session_id, live=False, detail=reason)
            if self.publishers.get(session_id) == res.id:
                del self.publishers[session_id]
            log.info("%s: publisher %s gone (%s)", session_id, res.id, reason)
        else:
            self.viewers.get(session_id, set()).discard(res.id)
            await self._close_pc(res.pc)
            self._report_viewers(session_id)
        self._drop_idle(session_id)
        return True

    async def trickle(self, res: Resource, fragment: str) -> None:
        """Add trickled ICE candidates (RFC 8840 SDP fragment); ICE restarts are refused."""
        remote = res.pc.remoteDescription
        ufrag = next(
            (
                line.split(":", 1)[1].strip()
                for line in fragment.splitlines()
                if line.startswith("a=ice-ufrag:")
            ),
            None,
        )
        if ufrag is not None and remote is not None and f"a=ice-ufrag:{ufrag}" not in remote.sdp:
            raise MediaError("ICE restarts are not supported; create a new session.", "ice_restart")
        mid = next((t.mid for t in res.pc.getTransceivers() if t.mid is not None), None)
        for line in fragment.splitlines():
            if line.startswith("a=candidate:"):
                try:
                    candidate = candidate_from_sdp(line[len("a=candidate:") :].strip())
                except (AssertionError, ValueError, IndexError) as exc:
                    raise BadOffer("A candidate line cannot be read.") from exc
                candidate.sdpMid = mid
                await res.pc.addIceCandidate(candidate)

    def stats(self) -> dict[str, Any]:
        """Counts of what is open, for the stats endpoint and the leak checks."""
        return {
            "peer_connections": len(self.peers),
            "opened": self.opened,
            "closed": self.closed,
            "publishers": sum(1 for r in self.resources.values() if r.role == PUBLISHER),
            "viewers": sum(1 for r in self.resources.values() if r.role == VIEWER),
            "broadcasts": {sid: b.stats() for sid, b in self.broadcasts.items()},
        }

    # -- internals -------------------------------------------------------------------
    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self.ice))
        self.peers.add(pc)
        self.opened += 1
        return pc

    async def _close_pc(self, pc: RTCPeerConnection) -> None:
        if pc not in self.peers:
            return
        try:
            await pc.close()
        except Exception:  # closing must not fail the request that closes it
            log.exception("closing a peer connection failed")
        self.peers.discard(pc)
        self.closed += 1

    async def _negotiate(self, pc: RTCPeerConnection, offer: str, viewer: bool = False) -> str:
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
        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            log.warning("no answer to an offer: %s", _short(exc))
            raise BadOffer("The SDP offer cannot be answered.") from None
        return pc.localDescription.sdp

    def _broadcast(self, session_id: str) -> Broadcast:
        broadcast = self.broadcasts.get(session_id)
        if broadcast is None:
            broadcast = Broadcast(session_id, self.settings.stream_kbps)
            self.broadcasts[session_id] = broadcast
        return broadcast

    def _drop_idle(self, session_id: str) -> None:
        if (
            session_id in self.publishers
            or session_id in self.negotiating
            or self.viewers.get(session_id)
        ):
            return
        broadcast = self.broadcasts.pop(session_id, None)
        if broadcast is not None:
            broadcast.close()

    def _report_viewers(self, session_id: str) -> None:
        if self.presence is not None:
            self.presence.set_viewers(session_id, len(self.viewers.get(session_id, ())))

    async def _stream_event(
        self, session_id: str, live: bool, detail: str, resource: Resource | None = None
    ) -> None:
        # One lock per session orders "went live" and "went away" of quick successions.
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            if resource is not None and resource.ended:
                return  # it went away before it could be announced
            state = self.service.states.get(session_id)
            if state is None or (state.stream_status == "live") == live:
                return
            try:
                if live:
                    await self.service.execute(session_id, lambda s: s.start_stream(detail))
                else:
                    await self.service.execute(session_id, lambda s: s.stop_stream(detail))
            except DomainError as exc:  # the store failed: the page shows the old status
                log.error("%s: stream status not saved: %s", session_id, exc.message)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
