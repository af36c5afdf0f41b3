"""The realtime WebSocket endpoint: join, then requests answered with `ack` or `error`.

It runs on the `websockets` server rather than through ASGI because fan-out writes one
payload to thousands of sockets; see ../shared/notes/realtime.md and bench/ws_fanout.py.
Transport only: every rule lives in the services and the domain.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from companion.backends.base import StoreUnavailable
from companion.domain.errors import DomainError
from companion.domain.hands import MAX_TOPIC_CHARS
from companion.domain.polls import MAX_WORD_CHARS
from companion.domain.questions import MAX_NAME_CHARS, MAX_QUESTION_CHARS, clean_name
from companion.realtime.admission import Admission, guarded_connection
from companion.realtime.hub import Hub, Member
from companion.realtime.limits import TokenBucket
from companion.realtime.protocol import ProtocolError, encode, error, parse
from companion.services.commands import COMMANDS, MODERATOR, PARTICIPANT, Bucket
from companion.services.members import MemberService, members_only_refusal
from companion.services.projection import snapshot
from companion.services.session_writers import SessionWriters
from companion.services.sessions import SessionService
from companion.services.tokens import TokenError, TokenSigner
from companion.settings import Settings

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 30.0
LISTEN_BACKLOG = 2048  # as uvicorn's for the pages
MAX_BUCKETS = 50_000
WHERE = ("room", "remote")
# Any frame above this is refused by the library (close 1009); between the application
# limit and this one, the client gets an error and keeps its connection.
FRAME_LIMIT_FACTOR = 8
MAX_RETRY_AFTER = 3600.0
REFUSALS = {
    PARTICIPANT: "Only participants can ask, vote and answer polls.",
    MODERATOR: "Only the moderator can do that.",
}


class RealtimeServer:
    """Serves /ws for one SessionService and Hub."""

    def __init__(
        self,
        settings: Settings,
        service: SessionService,
        hub: Hub,
        members: MemberService | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.hub = hub
        self.members = members or MemberService(service.store, service)
        self._member_tasks: set[asyncio.Task[None]] = set()
        self.signer = TokenSigner(settings.secret_key, settings.token_days * 86400)
        self.buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._server: Server | None = None
        self._peak_tasks: set[asyncio.Task[None]] = set()
        self.admission = Admission(settings)
        # On a shared store, each session's commands run on its writer (here or forwarded).
        self.writers: SessionWriters | None = None
        # On a shared store: returns once the session's events stored before the call are
        # applied here (`Tail.caught_up`), so a joining client's snapshot or replay has
        # every change acked before it asked, through whichever process.
        self.caught_up: Callable[[str], Awaitable[None]] | None = None
        hub.on_peak = self._record_peak
        hub.identities = self.admission.identity_counts

    async def start(self, host: str, port: int) -> Server:
        """Listen on host:port."""
        self._server = await serve(
            self.handle,
            host,
            port,
            compression=None,  # one payload goes to many sockets; see the realtime notes
            max_size=self.settings.max_message_bytes * FRAME_LIMIT_FACTOR,
            max_queue=32,
            ping_interval=None,  # the hub pings every joined connection with one frame
            process_request=self._check_request,
            open_timeout=self.settings.request_timeout,  # a handshake that never finishes
            create_connection=guarded_connection(self.admission.sockets, self.hub.paused),
            # Past this many unsent bytes a connection is too slow: the hub cuts it.
            write_limit=self.settings.send_buffer_limit,
            backlog=LISTEN_BACKLOG,  # a room joining at once; asyncio's default is 100
        )
        return self._server

    async def close(self) -> None:
        """Stop accepting and close every connection."""
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.split("?", 1)[0] != "/ws":
            return connection.respond(404, "Not found: the realtime endpoint is /ws\n")
        return self.admission.check_upgrade(connection, request)

    # -- one connection ----------------------------------------------------------------
    async def handle(self, ws: ServerConnection) -> None:
        """Run one connection: wait for a valid join, then serve its requests."""
        member: Member | None = None
        conn_bucket = TokenBucket(
            rate=self.settings.messages_per_second, burst=self.settings.message_burst
        )
        address = self.admission.address(ws, ws.request) if ws.request else "unknown"
        self.admission.opened(address)
        try:
            member = await asyncio.wait_for(self._join(ws, conn_bucket), JOIN_TIMEOUT)
            async for raw in ws:
                await self._request(member, raw, conn_bucket)
        except TimeoutError:
            await ws.close(4000, "join within 30 seconds")
        except ConnectionClosed:
            pass
        finally:
            if member is not None:
                self.hub.leave(member)
            self.admission.closed(address)

    async def _join(self, ws: ServerConnection, bucket: TokenBucket) -> Member:
        async for raw in ws:
            request_id = None
            try:
                message = self._receive(raw, bucket)
                request_id = message.get("id")
                if message["type"] == "ping":
                    await ws.send(encode({"type": "pong", "re": request_id}))
                    continue
                if message["type"] != "join":
                    raise ProtocolError("not_joined", "Send a `join` message first.")
                member, extra = await self._admit(ws, message)
            except (ProtocolError, DomainError, TokenError) as exc:
                await ws.send(_error_reply(exc, request_id))
                continue
            if self.caught_up is not None:
                await self.caught_up(member.session_id)
            state = self.service.state(member.session_id)
            self.hub.ensure_room(member.session_id, state.seq)
            await ws.send(
                encode(
                    {
                        "type": "welcome",
                        "re": request_id,
                        "role": member.role,
                        "session_id": member.session_id,
                        "join_code": self.service.access[member.session_id].join_code,
                        "server_time": time.time(),
                        "limits": {
                            "question_chars": MAX_QUESTION_CHARS,
                            "name_chars": MAX_NAME_CHARS,
                            "answer_chars": MAX_WORD_CHARS,
                            "topic_chars": MAX_TOPIC_CHARS,
                            "message_bytes": self.settings.max_message_bytes,
                        },
                        **extra,
                    }
                )
            )
            since = message.get("since")
            if not isinstance(since, int) or isinstance(since, bool):
                since = None
            replayed = self.hub.join(member, since, self._snapshot_for(member))
            if not self.hub.store_available:
                await ws.send(encode({"type": "status", "store": "unavailable"}))
            if replayed >= 0:
                await ws.send(
                    # A client ahead of its lane is as far as it says (only counts lie between).
                    encode(
                        {"type": "resumed", "replayed": replayed},
                        seq=max(self.hub.sent_seq(member), since or 0),
                    )
                )
            if member.member_id is not None:
                self._record_member(member)
            return member
        raise ConnectionClosed(None, None)

    def _snapshot_for(self, member: Member) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            state = self.service.state(member.session_id)
            return snapshot(state, member.is_moderator, member.participant)

        return build

    async def _admit(
        self, ws: ServerConnection, message: dict[str, Any]
    ) -> tuple[Member, dict[str, Any]]:
        role = message.get("role", "participant")
        if role == "moderator":
            session_id = self.service.check_moderator(
                message.get("session"), message.get("moderator_token")
            )
            return Member(ws, session_id, "moderator"), {}
        session_id = self.service.session_by_code(message.get("code"))
        if role == "screen":
            return Member(ws, session_id, "screen"), {}
        if role != "participant":
            raise ProtocolError("bad_message", "`role` must be participant, moderator or screen.")
        where = message.get("where", "remote")
        if where not in WHERE:
            raise ProtocolError("bad_message", "`where` must be `room` or `remote`.")
        name = clean_name(message.get("name"))
        token = message.get("token")
        members_only = self.members.members_only(session_id)
        if token is not None:
            participant = self.signer.verify(token, session_id)
        elif members_only and where == "remote":
            # Refused before a fresh identity is counted: strangers from afar must not use
            # up the session's allowance that phones in the room join with.
            raise members_only_refusal()
        else:
            address = self.admission.address(ws, ws.request) if ws.request else "unknown"
            if not self.admission.new_identity(address, session_id):
                # Many fresh identities from one address is how votes get stuffed.
                raise _rate_limited(
                    "new participants from this network",
                    self.admission.identity_retry_after(address, session_id),
                )
            participant, token = self.signer.issue(session_id)
        member_id = None
        # From afar only a member through their personal link (the remote page gives its
        # token); in the room the room is the check (docs/security.md).
        as_member = where == "remote" or participant.startswith("m-")
        if as_member and members_only:
            member_id = (await self.members.require(session_id, participant)).id
        extra = {"participant": {"id": participant, "token": token, "where": where, "name": name}}
        joined = Member(ws, session_id, "participant", participant, where, name, member_id)
        return joined, extra

    # -- requests after join -----------------------------------------------------------
    async def _request(self, member: Member, raw: str | bytes, bucket: TokenBucket) -> None:
        request_id = None
        try:
            message = self._receive(raw, bucket)
            request_id = message.get("id")
            reply = await self._dispatch(member, message)
        except (ProtocolError, DomainError) as exc:
            reply = _error_reply(exc, request_id)
        await member.ws.send(reply)

    def _receive(self, raw: str | bytes, bucket: TokenBucket) -> dict[str, Any]:
        """One client message; every frame, valid or not, counts against the connection."""
        try:
            message = parse(raw, self.settings.max_message_bytes)
        except ProtocolError as exc:
            _throttle(bucket, exc.request_id)
            raise
        _throttle(bucket, message.get("id"))
        return message

    async def _dispatch(self, member: Member, message: dict[str, Any]) -> str:
        command = COMMANDS[message["type"]]  # parse() let only declared types through
        request_id = message.get("id")
        if command.type == "ping":
            return encode({"type": "pong", "re": request_id})
        if command.decide is None:  # join
            raise ProtocolError("already_joined", "This connection has already joined.")
        if member.role not in command.senders:
            raise DomainError(REFUSALS.get(command.senders, "You may not do that."), "forbidden")
        if member.ws in self.hub.revoked:
            if member.is_moderator:
                raise DomainError("The moderator key was changed; open the new link.", "forbidden")
            raise DomainError("Your personal link was revoked.", "members_only")
        if command.bucket is not None and (
            member.member_id is not None
            or (member.where == "remote" and self.members.members_only(member.session_id))
        ):
            # Asking, voting and answering from afar in a members-only session: the store
            # says whether this member's link still stands, now, whichever process
            # revoked it.
            await self.members.require(member.session_id, member.participant)
        bucket = self._limit(member, command.bucket) if command.bucket else None
        try:
            if self.writers is not None:
                fields = await self.writers.run(command, member, message)
            else:
                fields = await command.decide(self.service, member, message)
        except DomainError:
            if bucket is not None:
                bucket.refund()  # a refused question or vote should not use up the allowance
            raise
        return encode({"type": "ack", "re": request_id, **fields})

    def _limit(self, member: Member, kind: Bucket) -> TokenBucket:
        s = self.settings
        key = (member.session_id, member.participant or "", kind)
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) > MAX_BUCKETS:
                # Forget participants who have been quiet long enough to be back at full.
                self.buckets = {k: b for k, b in self.buckets.items() if not b.is_full()}
            if kind in (Bucket.QUESTIONS, Bucket.OWN_DATA):
                bucket = TokenBucket(s.questions_per_minute / 60, s.question_burst)
            else:  # votes, and poll answers in a bucket of their own with the same limits
                bucket = TokenBucket(s.votes_per_second, s.vote_burst)
            self.buckets[key] = bucket
        if not bucket.take():
            raise _rate_limited(kind.value, bucket.retry_after())
        return bucket

    def _record_member(self, member: Member) -> None:
        # Which members took part, for the report; the join does not wait for it.
        async def record() -> None:
            try:
                found = await self.members.admitted(member.session_id, member.participant)
            except StoreUnavailable as exc:
                log.warning("member attendance not recorded: %s", exc)
                return
            if found is not None:
                await self.members.record_presence(member.session_id, found)

        task = asyncio.get_running_loop().create_task(record())
        self._member_tasks.add(task)
        task.add_done_callback(self._member_tasks.discard)

    # -- attendance ----------------------------------------------------------------------
    def _record_peak(self, session_id: str, room: int, remote: int) -> None:
        # Called from the hub's flush, which must not wait for the store.
        task = asyncio.get_running_loop().create_task(self._store_peak(session_id, room, remote))
        self._peak_tasks.add(task)
        task.add_done_callback(self._peak_tasks.discard)

    async def _store_peak(self, session_id: str, room: int, remote: int) -> None:
        try:
            await self.service.record_attendance(session_id, room, remote)
        except DomainError as exc:
            if exc.code != "no_change":  # not higher than the stored peak: nothing to do
                log.warning("attendance peak of %s not recorded: %s", session_id, exc.message)


def _throttle(bucket: TokenBucket, request_id: Any) -> None:
    if not bucket.take():
        raise _rate_limited("messages", bucket.retry_after(), request_id)


def _rate_limited(what: str, wait: float, request_id: Any = None) -> ProtocolError:
    # A rate of 0 would wait forever and JSON has no Infinity; a refusal always names a
    # wait above zero (rounded up), or a client would retry at once into the same refusal.
    wait = max(math.ceil(min(wait, MAX_RETRY_AFTER) * 100) / 100, 0.01)
    return ProtocolError(
        "rate_limited",
        f"Too many {what}; try again in {math.ceil(wait)} s.",
        request_id,
        retry_after=wait,
    )


def _error_reply(exc: ProtocolError | DomainError | TokenError, request_id: Any) -> str:
    if isinstance(exc, ProtocolError):
        echoed = exc.request_id if exc.request_id is not None else request_id
        return error(exc.code, exc.message, echoed, retry_after=exc.retry_after)
    return error(exc.code, exc.message, request_id)
