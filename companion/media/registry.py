"""Publications and viewers of every session of this process.

The registry knows which publisher and which viewers each session has, turns a publisher
going live or away into session events through `SessionService.execute`, and reports
each session's number of viewers to the realtime hub's presence. Peer connections are
made, negotiated and closed by `connections`; who may publish or watch is decided by
`companion.services.stream_access`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import RTCPeerConnection

from companion.backends.base import StoreUnavailable
from companion.domain.errors import DomainError
from companion.domain.members import parse_member_participant
from companion.media.aiortc_internals import route_keyframe_requests
from companion.media.broadcast import Broadcast
from companion.media.codecs import accept_publisher_codecs, viewer_codecs
from companion.media.connections import PeerConnections
from companion.media.errors import (
    BadOffer,
    Conflict,
    NotCreator,
    Overloaded,
    PublisherElsewhere,
    UnknownResource,
)
from companion.media.ice_servers import IceServers
from companion.media.publication import Publication
from companion.media.slate import Cue, cue_for
from companion.services.members import MemberService
from companion.services.projection import Change
from companion.services.sessions import SessionService
from companion.services.stream_access import MissingCredentials, StreamAccess, same_secret
from companion.services.tokens import TokenSigner
from companion.settings import Settings

log = logging.getLogger(__name__)

PUBLISHER, VIEWER = "publisher", "viewer"

VIEWER_CONNECT_TIMEOUT = 15.0  # a viewer not connected by then is not counted any longer
# With several processes on one store, a live stream's publisher is in one of them: that
# process renews the stream's lease every LEASE_EVERY seconds, and any process that finds
# a live stream without a lease (its owner died: SIGKILL, a crash, a lost machine) ends it.
# A dead publisher's process thus leaves the stream live at most LEASE_TTL + LEASE_EVERY.
LEASE_TTL = 5.0
LEASE_EVERY = 1.5


class PresenceSink(Protocol):
    """Where viewer counts go (the realtime hub)."""

    def set_viewers(self, session_id: str, viewers: int) -> None: ...

    def session_viewers(self, session_id: str) -> int | None: ...


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


class MediaRegistry:
    """Every publication and viewer of this process."""

    def __init__(
        self,
        settings: Settings,
        service: SessionService,
        presence: PresenceSink | None = None,
        members: MemberService | None = None,
    ) -> None:
        accept_publisher_codecs()
        self.settings = settings
        self.service = service
        self.presence = presence
        self.access = StreamAccess(
            service,
            settings.secret_key,
            TokenSigner(settings.secret_key, settings.token_days * 86400),
            members,
        )
        self.connections = PeerConnections(IceServers(settings))
        self.resources: dict[str, Resource] = {}
        self.broadcasts: dict[str, Broadcast] = {}
        self.publishers: dict[str, str] = {}  # session -> resource id
        self.negotiating: set[str] = set()  # sessions with a publisher's offer being answered
        self.viewers: dict[str, set[str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.process = secrets.token_hex(8)  # who holds this process's stream leases

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """After a restart no publisher is connected: end streams the log says are live."""
        self.connections.start()
        if self.service.store.shared:
            # Several processes share the log: a live stream may be another process's; the
            # leases tell which are still served (a stream live from before a crash is not).
            self._spawn(self._lease_loop())
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
        for pc in list(self.connections.open):
            await self.connections.close(pc)
        for broadcast in self.broadcasts.values():
            broadcast.close()
        self.broadcasts.clear()

    def on_change(self, change: Change) -> None:
        """A committed change (from the bus): a member whose link was revoked stops
        watching at once."""
        if change.revoke_member is None:
            return
        for res in list(self.resources.values()):
            parsed = parse_member_participant(res.who)
            if res.session_id == change.session_id and parsed and parsed[0] == change.revoke_member:
                self._spawn(self.end(res.id, "member link revoked"))

    def members_only(self, session_id: str) -> None:
        """The session became members-only: viewers who are neither a member through
        their link nor the moderator stop watching (a member's link is checked again by
        every later request)."""
        for res in list(self.resources.values()):
            if res.session_id != session_id or res.role != VIEWER or res.who == "moderator":
                continue
            if parse_member_participant(res.who) is None:
                self._spawn(self.end(res.id, "members only"))

    # -- resources -------------------------------------------------------------------
    def resource(self, session_id: str, resource_id: str, token: str | None) -> Resource:
        """An open resource of the session, for the token that created it."""
        res = self.resources.get(resource_id)
        if res is None or res.session_id != session_id:
            raise UnknownResource("No such stream resource; it may have ended.")
        if not token:
            raise MissingCredentials("Send the same Bearer token as when the resource was created.")
        if not same_secret(fingerprint(token), res.credential):
            raise NotCreator("That token did not create this resource.")
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
            pc = self.connections.new()
            try:
                answer = await self.connections.answer(pc, offer)
                if not any(t.receiver.track is not None for t in pc.getTransceivers()):
                    raise BadOffer("The offer sends no audio or video.")
            except BaseException:
                await self.connections.close(pc)
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
            if self.service.store.shared:
                # Held before the stream is announced, so no process ends it as ownerless.
                try:
                    await self.service.store.renew_lease(
                        f"stream:{res.session_id}", self.process, LEASE_TTL
                    )
                except StoreUnavailable as exc:  # the announcement below fails the same way
                    log.warning("%s: stream lease not taken: %s", res.session_id, exc)
            await self._stream_event(res.session_id, live=True, detail=res.who, resource=res)

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self._keep_leases()
            except StoreUnavailable as exc:  # the store is away: try again next round
                log.warning("stream leases not checked: %s", exc)
            except Exception:
                log.exception("stream leases not checked")
            await asyncio.sleep(LEASE_EVERY)

    async def _keep_leases(self) -> None:
        """Renew the leases of this process's publishers; end live streams nobody holds."""
        for session_id in list(self.publishers):
            await self.service.store.renew_lease(f"stream:{session_id}", self.process, LEASE_TTL)
        for session_id, state in list(self.service.states.items()):
            if state.stream_status != "live" or session_id in self.publishers:
                continue
            if session_id in self.negotiating:
                continue
            if await self.service.store.lease_owner(f"stream:{session_id}") is None:
                log.info("%s: the stream's publisher is gone with its process", session_id)
                await self._stream_event(session_id, live=False, detail="publisher lost")

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
        self.check_publisher_here(session_id)
        watching = self.viewers.setdefault(session_id, set())
        if len(watching) >= self.settings.stream_max_viewers:
            raise Overloaded("Too many viewers right now; try again in a moment.")
        broadcast = self._broadcast(session_id)
        pc = self.connections.new()
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
            answer = await self.connections.answer(pc, offer, viewer=True)
        except BaseException:
            watching.discard(res.id)
            await self.connections.close(pc)
            self._drop_idle(session_id)
            raise
        self.resources[res.id] = res
        self._report_viewers(session_id)

        self.connections.on_gone(pc, lambda reason: self._spawn(self.end(res.id, reason)))

        self._spawn(self._expire_unconnected(res))
        return res, answer

    def check_publisher_here(self, session_id: str) -> None:
        """Refuse a viewer that would get nothing: the shared log says the stream is live
        but no publisher of this process serves it (it is on another replica, or its
        process died). An offline stream may be watched anywhere: media starts when a
        publisher comes, and the proxy sends it to the same process by the session id.
        The voices on stage and the room's speakers are held to the same rule."""
        if not self.service.store.shared:
            return  # one process: a live stream's publisher is here
        state = self.service.states.get(session_id)
        live = state is not None and state.stream_status == "live"
        if live and session_id not in self.publishers and session_id not in self.negotiating:
            raise PublisherElsewhere(
                "The stream is served by another server right now; try again in a moment."
            )

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
            if reason in ("deleted", "shutdown"):  # stopped on purpose: no "right back"
                res.publication.broadcast.stopped = True
            await res.publication.stop()
            await self.connections.close(res.pc)
            await self._stream_event(session_id, live=False, detail=reason)
            if self.publishers.get(session_id) == res.id:
                del self.publishers[session_id]
            log.info("%s: publisher %s gone (%s)", session_id, res.id, reason)
        else:
            self.viewers.get(session_id, set()).discard(res.id)
            await self.connections.close(res.pc)
            self._report_viewers(session_id)
        self._drop_idle(session_id)
        return True

    async def trickle(self, res: Resource, fragment: str) -> None:
        """Add trickled ICE candidates to a resource's connection (see `connections`)."""
        await self.connections.trickle(res.pc, fragment)

    def stats(self) -> dict[str, Any]:
        """Counts of what is open, for the stats endpoint and the leak checks."""
        return {
            "peer_connections": len(self.connections.open),
            "opened": self.connections.opened,
            "closed": self.connections.closed,
            "publishers": sum(1 for r in self.resources.values() if r.role == PUBLISHER),
            "viewers": sum(1 for r in self.resources.values() if r.role == VIEWER),
            "broadcasts": {sid: b.stats() for sid, b in self.broadcasts.items()},
        }

    # -- internals -------------------------------------------------------------------
    def _broadcast(self, session_id: str) -> Broadcast:
        broadcast = self.broadcasts.get(session_id)
        if broadcast is None:
            broadcast = Broadcast(session_id, self.settings.stream_kbps, self._cue(session_id))
            self.broadcasts[session_id] = broadcast
            broadcast.start()
        return broadcast

    def _cue(self, session_id: str) -> Callable[[bool], Cue]:
        """What the session's stream shows now (the camera or a slate), from its state."""
        site = self.settings.base_url.split("://", 1)[-1]

        def cue(camera_ok: bool) -> Cue:
            return cue_for(self.service.states.get(session_id), camera_ok, time.time(), site)

        return cue

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

    def session_viewers(self, session_id: str) -> int:
        """The session's viewers: over every process when presence is shared, else here."""
        if self.presence is not None:
            shared = self.presence.session_viewers(session_id)
            if shared is not None:
                return shared
        return len(self.viewers.get(session_id, ()))

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
