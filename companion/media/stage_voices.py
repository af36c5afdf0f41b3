"""On-stage voices: an invited participant publishes their microphone, the room hears it.

`POST /whip-stage/{session}` (WHIP, RFC 9725) with `Authorization: Bearer <participant
token>` and an audio-only offer: accepted only while that participant is on stage
(`hand.invite`, companion.domain.hands); anyone else gets 403 `not_on_stage`, so the token
alone carries no right to publish. When the moderator ends the turn or the participant
leaves, their connection is closed.

With several processes the voices and the room's speakers meet in one process: the proxy
routes both by the session id, like the stream, and while the stream is live from another
process both are refused with 503 `publisher_elsewhere` (the player's rule), since the
voices belong with the stream's publisher.

`POST /whep-room-audio/{session}` (WHEP) with the moderator token: the computer connected
to the room's speakers receives one audio track, the on-stage voices mixed (at most two),
silence when nobody speaks. The mix checks the session's state on every 20 ms frame, so a
voice that is ended or muted is silent from the next frame, before its connection closes.

The remote audience hears the same voices in the session's stream: each voice's pump
feeds its decoded samples to the session's `Broadcast`, which mixes them into the one
audio encode (companion.media.broadcast); a muted or ended voice is dropped from it at once.

The speaker hears the room and the other voice, not their own, on the same connection
when its offer is sendrecv (the remote page's): their return feed
(companion.media.return_feed). A sendonly offer (another WHIP client) gets no return.

The offer may also carry one video section, the speaker's camera (sendonly): while they
are on stage its newest frame is a tile in the stream's picture
(companion.media.camera_tile); the end of the turn removes it from the next frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from starlette.requests import Request
from starlette.responses import Response

from companion.backends.base import StoreUnavailable
from companion.domain.errors import DomainError
from companion.media.codecs import viewer_codecs
from companion.media.errors import BadOffer, NotCreator, UnknownResource
from companion.media.registry import MediaRegistry, Resource, fingerprint
from companion.media.return_feed import ReturnFeed
from companion.media.signalling import (
    CORS,
    TRICKLE,
    Endpoint,
    bearer,
    error_response,
    problem,
)
from companion.media.voice_mix import RATE, PacedMix
from companion.services.projection import Change
from companion.services.stream_access import MissingCredentials, same_secret

log = logging.getLogger(__name__)

STAGE, ROOM_AUDIO = "stage", "room-audio"
MAX_LISTENERS = 4  # the room's speakers, a spare computer, the console
CATCH_UP_S = 1.0  # how long a refused speaker's check may read the shared log


def offered_kinds(offer: str) -> set[str]:
    """The media kinds of an SDP offer's sections."""
    return set(offered_sections(offer))


def offered_sections(offer: str) -> list[str]:
    """The media kind of each of an SDP offer's sections, in order."""
    return [line[2:].split(" ", 1)[0] for line in offer.splitlines() if line.startswith("m=")]


class StageMix(PacedMix):
    """One listener's track: the on-stage voices summed, paced at 20 ms frames."""

    def __init__(self, audible: Callable[[str], bool]) -> None:
        super().__init__()
        self.audible = audible  # whether a voice (by resource id) may be heard now

    def feed(self, key: str, samples: np.ndarray) -> None:
        """Mono 48 kHz samples of one voice (see VoiceMix.feed)."""
        self.mix.feed(key, samples)

    def drop(self, key: str) -> None:
        self.mix.drop(key)

    def heard(self, key: str) -> bool:
        return self.audible(key)


class StageVoices:
    """The on-stage publishers and room-audio listeners of this process."""

    def __init__(self, registry: MediaRegistry) -> None:
        self.registry = registry
        self.resources: dict[str, Resource] = {}
        self.mixes: dict[str, StageMix] = {}  # listener resource id -> its mix
        self.returns: dict[str, ReturnFeed] = {}  # speaker resource id -> their return
        self._tasks: set[asyncio.Task[Any]] = set()
        registry.service.bus.subscribe(self.on_change)

    # -- who may --------------------------------------------------------------------
    async def check_speaker(self, session_id: str, token: str | None) -> str:
        """The participant behind the token, if they are on stage now; else 401/403."""
        if not token:
            raise MissingCredentials("Publishing on stage needs your participant token.")
        who = await self.registry.access.check_member_viewer(session_id, token)
        service = self.registry.service
        if who != "moderator" and not service.state(session_id).hands.may_publish(who):
            # The invitation may have been decided by another process a moment ago, and be
            # in the shared log before it is on this process's tail: read the log first
            # (a store that does not answer in time leaves memory's answer, a refusal).
            with contextlib.suppress(StoreUnavailable, OSError, TimeoutError):
                await asyncio.wait_for(service.commits.catch_up(session_id), CATCH_UP_S)
        if who == "moderator" or not service.state(session_id).hands.may_publish(who):
            raise DomainError(
                "Only a participant the moderator invited on stage may publish.", "not_on_stage"
            )
        # The room's speakers (and the stream's mix) are in the live stream's process.
        self.registry.check_publisher_here(session_id)
        return who

    def audible(self, key: str) -> bool:
        """Whether the voice of a stage resource may be heard now: still on stage, not muted."""
        res = self.resources.get(key)
        if res is None or res.ended:
            return False
        state = self.registry.service.states.get(res.session_id)
        hand = state.hands.of(res.who) if state is not None else None
        return (
            hand is not None
            and state is not None
            and state.hands.may_publish(res.who)
            and not hand.muted
        )

    # -- publishing -----------------------------------------------------------------
    async def publish(
        self, session_id: str, offer: str, token: str, who: str
    ) -> tuple[Resource, str]:
        """Accept an on-stage participant's offer (their microphone, and their camera if they
        chose to show it); a new one replaces their old one."""
        if sorted(offered_sections(offer)) not in (["audio"], ["audio", "video"]):
            raise BadOffer(
                "Send your microphone, and your camera if you like: one audio section and at most one video section."
            )
        connections = self.registry.connections
        pc = connections.new()
        resource_id = secrets.token_urlsafe(16)
        feed = ReturnFeed(
            resource_id, self.audible, lambda: self.registry.broadcasts.get(session_id)
        )
        try:
            answer = await connections.answer(pc, offer, reply=feed)
            received = [t.receiver.track for t in pc.getTransceivers() if t.receiver.track]
            tracks = [t for t in received if t.kind == "audio"]
            if not tracks:
                raise BadOffer("The offer sends no audio.")
            camera = next((t for t in received if t.kind == "video"), None)
        except BaseException:
            feed.stop()
            await connections.close(pc)
            raise
        # A sendrecv offer (the remote page's) gets the return feed; a sendonly one none.
        if not any(
            t.sender.track is feed and t.currentDirection == "sendrecv"
            for t in pc.getTransceivers()
        ):
            feed.stop()
        for old in [r for r in self.resources.values() if r.role == STAGE and r.who == who]:
            if old.session_id == session_id:
                await self.end(old.id, "replaced")
        res = Resource(resource_id, session_id, STAGE, pc, fingerprint(token), who)
        self.resources[res.id] = res
        if feed.readyState == "live":
            self.returns[res.id] = feed
        self._spawn(self._pump(res, tracks[0]))
        if camera is not None:
            self._spawn(self._pump_camera(res, camera))
        connections.on_gone(pc, lambda reason: self._spawn(self.end(res.id, reason)))
        log.info("%s: a voice on stage connected", session_id)
        return res, answer

    async def _pump(self, res: Resource, track: MediaStreamTrack) -> None:
        """Decoded audio of one voice, as mono 48 kHz, into every listener's mix."""
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        with contextlib.suppress(MediaStreamError):
            while not res.ended:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue  # a remote audio track gives decoded frames
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1).astype(np.int16)
                    for key, mix in list(self.mixes.items()):
                        listener = self.resources.get(key)
                        if listener is not None and listener.session_id == res.session_id:
                            mix.feed(res.id, samples)
                    # The other speaker's return feed (never the speaker's own).
                    for key, feed in list(self.returns.items()):
                        other = self.resources.get(key)
                        if other is not None and other.session_id == res.session_id:
                            feed.feed_voice(res.id, samples)  # skips the speaker's own
                    # The remote audience: into the session's stream, encoded once there.
                    broadcast = self.registry.broadcasts.get(res.session_id)
                    if broadcast is not None and self.audible(res.id):
                        broadcast.feed_voice(res.id, samples)
        await self.end(res.id, "ended")

    def on_stage(self, key: str) -> bool:
        """Whether a stage resource's speaker is on stage now (muted or not)."""
        res = self.resources.get(key)
        if res is None or res.ended:
            return False
        state = self.registry.service.states.get(res.session_id)
        return state is not None and state.hands.may_publish(res.who)

    async def _pump_camera(self, res: Resource, track: MediaStreamTrack) -> None:
        """Decoded frames of a speaker's camera into the stream's picture (while on stage).
        Read even with no stream, so the receiver's buffers do not fill up."""
        with contextlib.suppress(MediaStreamError):
            while not res.ended:
                frame = await track.recv()
                broadcast = self.registry.broadcasts.get(res.session_id)
                if (
                    isinstance(frame, av.VideoFrame)
                    and broadcast is not None
                    and self.on_stage(res.id)
                ):
                    broadcast.feed_camera(res.id, frame)

    # -- listening ------------------------------------------------------------------
    def check_listener(self, session_id: str, token: str | None) -> str:
        """Room audio is for the moderator key only."""
        self.registry.access.check_moderator(session_id, token)
        self.registry.check_publisher_here(session_id)  # where the voices are
        return "moderator"

    async def listen(
        self, session_id: str, offer: str, token: str, who: str
    ) -> tuple[Resource, str]:
        """A receive-only audio offer gets the session's on-stage voices, mixed."""
        if offered_kinds(offer) != {"audio"}:
            raise BadOffer("Offer to receive audio only: one audio section.")
        listening = [r for r in self.resources.values() if r.role == ROOM_AUDIO]
        if sum(1 for r in listening if r.session_id == session_id) >= MAX_LISTENERS:
            raise DomainError("Room audio is open in too many places already.", "overloaded")
        connections = self.registry.connections
        pc = connections.new()
        mix = StageMix(self.audible)
        try:
            transceiver = pc.addTransceiver(mix, direction="sendonly")
            transceiver.setCodecPreferences(viewer_codecs("audio"))
            answer = await connections.answer(pc, offer, viewer=True)
        except BaseException:
            mix.stop()
            await connections.close(pc)
            raise
        res = Resource(
            secrets.token_urlsafe(16), session_id, ROOM_AUDIO, pc, fingerprint(token), who
        )
        self.resources[res.id] = res
        self.mixes[res.id] = mix
        connections.on_gone(pc, lambda reason: self._spawn(self.end(res.id, reason)))
        return res, answer

    # -- both -----------------------------------------------------------------------
    async def end(self, resource_id: str, reason: str = "deleted") -> bool:
        """End a voice or a listener and close its connection (idempotent)."""
        res = self.resources.pop(resource_id, None)
        if res is None:
            return False
        res.ended = True
        mix = self.mixes.pop(resource_id, None)
        if mix is not None:
            mix.stop()
        feed = self.returns.pop(resource_id, None)
        if feed is not None:
            # The speaker's return ends with the turn (aiortc's sender stops its track as
            # it closes too, but only if it ever started sending).
            feed.stop()
        for other in self.mixes.values():
            other.drop(resource_id)
        for other_feed in self.returns.values():
            other_feed.drop_voice(resource_id)
        self._silence(res.session_id, resource_id)
        await self.registry.connections.close(res.pc)
        log.info("%s: %s ended (%s)", res.session_id, res.role, reason)
        return True

    def on_change(self, change: Change) -> None:
        """After a hand event: voices no longer on stage are disconnected."""
        if not change.public or change.public.get("type") != "hands":
            return
        state = self.registry.service.states.get(change.session_id)
        for res in list(self.resources.values()):
            if res.role != STAGE or res.session_id != change.session_id:
                continue
            if state is None or not state.hands.may_publish(res.who):
                self._spawn(self.end(res.id, "no longer on stage"))
            elif not self.audible(res.id):
                self._silence(res.session_id, res.id)  # muted: not one more buffered frame

    def _silence(self, session_id: str, resource_id: str) -> None:
        """Drop a voice from the session's stream mix at once."""
        broadcast = self.registry.broadcasts.get(session_id)
        if broadcast is not None:
            broadcast.drop_voice(resource_id)
            if resource_id not in self.resources:  # ended: the camera goes too (not muted)
                broadcast.drop_camera(resource_id)
        for key, feed in self.returns.items():
            if key != resource_id:
                feed.drop_voice(resource_id)

    def resource(self, session_id: str, resource_id: str, token: str | None) -> Resource:
        """An open resource of the session, for the token that created it."""
        res = self.resources.get(resource_id)
        if res is None or res.session_id != session_id:  # 404, as the stream's resources
            raise UnknownResource("No such resource; it may have ended.")
        if not token:
            raise MissingCredentials("Send the same Bearer token as when it was created.")
        if not same_secret(fingerprint(token), res.credential):
            raise NotCreator("That token did not create this resource.")
        return res

    def stats(self) -> dict[str, int]:
        return {
            "voices": sum(1 for r in self.resources.values() if r.role == STAGE),
            "listeners": len(self.mixes),
            "returns": len(self.returns),
        }

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _VoicesEndpoint(Endpoint):
    """WHIP/WHEP signalling whose resources live in StageVoices."""

    def __init__(self, registry: MediaRegistry, voices: StageVoices) -> None:
        super().__init__(registry)
        self.voices = voices

    async def resource(self, request: Request) -> Response:
        """`DELETE` ends it, `PATCH` trickles ICE, `OPTIONS` for CORS."""
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={**CORS, "accept-patch": TRICKLE})
        try:
            session_id = self.registry.access.resolve(request.path_params["session"])
            res = self.voices.resource(session_id, request.path_params["resource"], bearer(request))
            if request.method == "DELETE":
                await self.voices.end(res.id, "deleted")
                return Response(status_code=200, headers=CORS)
            return await self._patch(request, res)
        except DomainError as exc:
            return error_response(exc)
        except Exception:
            log.exception("%s: resource request failed", self.prefix)
            return problem(500, "internal", "The request could not be handled.")


class StageWhipEndpoint(_VoicesEndpoint):
    """`/whip-stage/{session}`: an invited participant's microphone."""

    prefix = "/whip-stage"

    async def authorize(self, session_id: str, token: str | None) -> str:
        return await self.voices.check_speaker(session_id, token)

    async def open(self, session_id: str, offer: str, token: str, who: str) -> tuple[Resource, str]:
        return await self.voices.publish(session_id, offer, token, who)


class RoomAudioEndpoint(_VoicesEndpoint):
    """`/whep-room-audio/{session}`: the on-stage voices for the room's speakers."""

    prefix = "/whep-room-audio"

    async def authorize(self, session_id: str, token: str | None) -> str:
        return self.voices.check_listener(session_id, token)

    async def open(self, session_id: str, offer: str, token: str, who: str) -> tuple[Resource, str]:
        return await self.voices.listen(session_id, offer, token, who)
