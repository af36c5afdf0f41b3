"""HTTP routes of the live stream: WHIP, WHEP, the camera page, the moderator's stream
settings (stream key and WHIP URL for OBS) and process-wide media counts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from companion.domain.errors import DomainError
from companion.media.registry import MediaRegistry
from companion.media.signalling import bearer, error_response
from companion.media.stage_voices import RoomAudioEndpoint, StageVoices, StageWhipEndpoint
from companion.media.whep import WhepEndpoint
from companion.media.whip import WhipEndpoint
from companion.web.pages import Pages


class StreamPages:
    """The camera page and the JSON the console and camera page read."""

    def __init__(self, registry: MediaRegistry, pages: Pages) -> None:
        self.registry = registry
        self.pages = pages

    async def camera(self, request: Request) -> Response:
        """Pick camera and microphone, preview, go live; the key comes in the fragment."""
        session_id = request.path_params["session_id"]
        if session_id not in self.registry.service.states:
            return self.pages.render(request, "unknown_code.html", 404, code=session_id)
        return self.pages.render(request, "camera.html", **self.pages.session_context(session_id))

    async def room_audio(self, request: Request) -> Response:
        """The room's speakers play the voices on stage; the key comes in the fragment."""
        session_id = request.path_params["session_id"]
        if session_id not in self.registry.service.states:
            return self.pages.render(request, "unknown_code.html", 404, code=session_id)
        context = self.pages.session_context(session_id)
        return self.pages.render(request, "room_audio.html", **context)

    async def settings(self, request: Request) -> Response:
        """Stream key, WHIP URL and status, for the moderator (Bearer moderator token)."""
        try:
            session_id = self.registry.access.resolve(request.path_params["session_id"])
            self.registry.access.check_moderator(session_id, bearer(request))
        except DomainError as exc:
            return error_response(exc)
        state = self.registry.service.states[session_id]
        base = self.registry.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "session_id": session_id,
                "whip_url": f"{base}/whip/{session_id}",
                "whep_url": f"{base}/whep/{session_id}",
                "stream_key": self.registry.access.stream_key(session_id),
                "status": state.stream_status,
                "since": state.stream_since,
                "viewers": self.registry.session_viewers(session_id),
            },
            headers={"cache-control": "no-store"},
        )

    async def ice(self, request: Request) -> Response:
        """The STUN/TURN servers a page gives its RTCPeerConnection before it offers (the
        `Link` headers of a WHIP/WHEP answer come too late for a page that does not
        trickle). TURN credentials are this caller's own and expire (companion.media.ice_servers):
        a participant or moderator token to watch, the stream key or moderator token to publish."""
        try:
            session_id = self.registry.access.resolve(request.path_params["session_id"])
            token = bearer(request)
            try:
                who = await self.registry.access.check_member_viewer(session_id, token)
            except DomainError:
                who = self.registry.access.check_publisher(session_id, token)
        except DomainError as exc:
            return error_response(exc)
        servers = self.registry.connections.ice.as_json(who)
        return JSONResponse({"ice_servers": servers}, headers={"cache-control": "no-store"})

    async def stats(self, request: Request) -> Response:
        """Counts of open peer connections, publishers and viewers of this process."""
        return JSONResponse(self.registry.stats(), headers={"cache-control": "no-store"})


def media_routes(registry: MediaRegistry, pages: Pages) -> list[Route]:
    """Every route of the live stream, for `create_app`."""
    whip = WhipEndpoint(registry)
    whep = WhepEndpoint(registry)
    stream = StreamPages(registry, pages)
    voices = StageVoices(registry)  # on-stage voices and the room's speakers (issue 19)
    stage_whip = StageWhipEndpoint(registry, voices)
    room_audio = RoomAudioEndpoint(registry, voices)
    return [
        Route("/whip/{session}", whip.collection, methods=["POST", "OPTIONS"]),
        Route("/whip/{session}/{resource}", whip.resource, methods=["DELETE", "PATCH", "OPTIONS"]),
        Route("/whep/{session}", whep.collection, methods=["POST", "OPTIONS"]),
        Route("/whep/{session}/{resource}", whep.resource, methods=["DELETE", "PATCH", "OPTIONS"]),
        Route("/whip-stage/{session}", stage_whip.collection, methods=["POST", "OPTIONS"]),
        Route(
            "/whip-stage/{session}/{resource}",
            stage_whip.resource,
            methods=["DELETE", "PATCH", "OPTIONS"],
        ),
        Route("/whep-room-audio/{session}", room_audio.collection, methods=["POST", "OPTIONS"]),
        Route(
            "/whep-room-audio/{session}/{resource}",
            room_audio.resource,
            methods=["DELETE", "PATCH", "OPTIONS"],
        ),
        Route("/camera/{session_id}", stream.camera),
        Route("/room-audio/{session_id}", stream.room_audio),
        Route("/api/stream/{session_id}", stream.settings),
        Route("/api/ice/{session_id}", stream.ice),
        Route("/healthz/media", stream.stats),
    ]
