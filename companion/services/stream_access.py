"""Who may publish and who may watch a session's live stream.

Publishing takes the session's stream key (OBS and other WHIP encoders) or its moderator
token (the camera page); watching takes a participant token of that very session, the
moderator token or the stream key. The stream key is derived from the server secret, so
nothing is stored. Refusals are DomainErrors with stable codes; the HTTP endpoints in
`companion.media` turn them into statuses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from companion.domain.errors import DomainError, NotFound
from companion.services.members import MemberService
from companion.services.sessions import SessionService
from companion.services.tokens import TokenError, TokenSigner


class MissingCredentials(DomainError):
    """No token was given at all (HTTP 401, unlike a wrong one)."""

    code = "unauthorized"


def stream_key(secret: str, session_id: str) -> str:
    """A stream key derived from the server secret (HMAC-SHA256 of the subject).

    Changing COMPANION_SECRET_KEY changes every stream key (and every participant token).
    """
    digest = hmac.new(secret.encode(), f"stream-key\0{session_id}".encode(), hashlib.sha256)
    return "sk_" + base64.urlsafe_b64encode(digest.digest()[:24]).decode().rstrip("=")


def session_stream_key(secret: str, session_id: str, key_version: int) -> str:
    """The stream key of a session now: a new moderator key (a new version) gives a new one."""
    return stream_key(secret, session_id if not key_version else f"{session_id}\0{key_version}")


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


class StreamAccess:
    """The checks behind WHIP, WHEP and the console's stream settings."""

    def __init__(
        self,
        service: SessionService,
        secret_key: str,
        signer: TokenSigner,
        members: MemberService | None = None,
    ) -> None:
        self.service = service
        self.secret_key = secret_key
        self.signer = signer
        self.members = members or MemberService(service.store, service)

    def resolve(self, ref: str) -> str:
        """The session named by a session id or a join code (NotFound `unknown_session`)."""
        if ref in self.service.states:
            return ref
        try:
            return self.service.session_by_code(ref)
        except NotFound:
            raise NotFound("No such session.", code="unknown_session") from None

    def stream_key(self, session_id: str) -> str:
        """The secret an encoder such as OBS publishes with; it rotates with the moderator key."""
        version = getattr(self.service.states.get(session_id), "key_version", 0)
        return session_stream_key(self.secret_key, session_id, version)

    def check_moderator(self, session_id: str, token: str | None) -> None:
        """The console's own checks: the session's moderator token (SessionService's check)."""
        if not token:
            raise MissingCredentials("Send the moderator token as a Bearer token.")
        self.service.check_moderator(session_id, token)

    def check_publisher(self, session_id: str, token: str | None) -> str:
        """Who publishes with this bearer token: "whip" (stream key) or "browser"."""
        if not token:
            raise MissingCredentials("Publishing needs the stream key as a Bearer token.")
        state = self.service.state(session_id)
        if getattr(state, "closed", False):
            raise DomainError("The session is closed.", "session_closed")
        if not state.settings.stream:
            raise DomainError("The organiser turned the live stream off.", "stream_disabled")
        if same_secret(token, self.stream_key(session_id)):
            return "whip"
        if self.service.is_moderator(session_id, token):
            return "browser"
        raise DomainError("That stream key is not valid for this session.", "forbidden")

    def check_viewer(self, session_id: str, token: str | None) -> str:
        """Who watches with this bearer token: a participant id, or "moderator"."""
        if not token:
            raise MissingCredentials("Watching needs your participant token as a Bearer token.")
        if self.service.is_moderator(session_id, token) or same_secret(
            token, self.stream_key(session_id)
        ):
            return "moderator"
        try:
            return self.signer.verify(token, session_id)
        except TokenError as exc:
            raise DomainError(exc.message, exc.code) from None

    async def check_member_viewer(self, session_id: str, token: str | None) -> str:
        """`check_viewer`, and in a members-only session only a member whose personal
        link still stands (asked of the store), or the moderator: DomainError
        `members_only` (403) for anyone else, a token from the room's code included."""
        who = self.check_viewer(session_id, token)
        if who != "moderator" and self.members.members_only(session_id):
            await self.members.require(session_id, who)
        return who
