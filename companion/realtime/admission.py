"""Who may open a realtime connection: origin checks and per-address limits.

A conference venue puts hundreds of phones behind one NAT address, so the per-address
limits are generous and configurable; they stop floods and vote stuffing (many fresh
participant identities from one address), not rooms.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Callable
from typing import cast

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from companion.fd_budget import AddressCap, connection_budget, open_file_limit, per_address_cap
from companion.proxy_trust import PROXY_TRUST
from companion.realtime.limits import TokenBucket
from companion.settings import Settings
from companion.web.security import OriginPolicy

MAX_TRACKED = 20_000
HANDSHAKES = 100  # sockets of an address that may be handshaking beyond its open limit
OTHER_ADDRESSES = ""  # where identities are counted past MAX_TRACKED addresses


def guarded_connection(
    cap: AddressCap, on_pause: Callable[[ServerConnection], None] | None = None
) -> type[ServerConnection]:
    """The connection class for `websockets.serve(create_connection=...)`: past `cap`
    sockets from one address (handshaking or open), a new one is reset at once, before
    it can cost a handshake. Handshakes that never finish are closed by `open_timeout`.

    `on_pause` hears of a connection whose transport passed its high-water mark
    (`write_limit`): the fan-out learns of slow clients without looking at every socket.
    `heard` is when the client last sent anything (a pong included): the hub's keepalive
    closes connections that stay silent.
    """

    class GuardedConnection(ServerConnection):
        _address: str | None = None
        heard = 0.0

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.heard = time.monotonic()
            super().connection_made(transport)
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if peer else "unknown"
            if cap.admit(address):
                self._address = address
            else:
                cast(asyncio.Transport, transport).abort()

        def data_received(self, data: bytes) -> None:
            self.heard = time.monotonic()
            super().data_received(data)

        def pause_writing(self) -> None:
            super().pause_writing()
            if on_pause is not None:
                on_pause(self)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._address is not None:
                cap.release(self._address)
                self._address = None
            super().connection_lost(exc)

    return GuardedConnection


class Admission:
    """Decides on WebSocket upgrades and new participant identities, per client address."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.origins = OriginPolicy(settings)
        self.open: Counter[str] = Counter()
        # Sockets per address, handshaking or open, as the process's open files allow;
        # behind a trusted proxy every socket comes from the proxy, which limits instead.
        cap = per_address_cap(
            settings.max_connections_per_address + HANDSHAKES,
            connection_budget(open_file_limit()),
            settings.address_share,
        )
        self.sockets = AddressCap(None if settings.trust_proxy else cap)
        self._attempts: dict[str, TokenBucket] = {}
        self._identities: dict[str, TokenBucket] = {}
        self._session_identities: dict[str, TokenBucket] = {}
        self._issued: dict[str, Counter[str]] = {}  # session -> address -> fresh identities
        # Shared presence: fresh identities not yet counted in the store, per session and
        # address digest (the store keeps no address, only a keyed hash of it).
        self.sharing = False
        self._unshared: dict[str, Counter[str]] = {}

    def address(self, connection: ServerConnection, request: Request) -> str:
        """The client's address; the proxy's X-Forwarded-For only when configured to trust it."""
        if self.settings.trust_proxy:
            forwarded = request.headers.get("X-Forwarded-For", "")
            if forwarded:
                return forwarded.split(",")[-1].strip()
        remote = connection.remote_address
        peer = str(remote[0]) if remote else None
        PROXY_TRUST.request(self.settings.trust_proxy, peer, request.headers.get("X-Forwarded-For"))
        return peer or "unknown"

    def origin_allowed(self, request: Request) -> bool:
        """Browsers must come from our own pages (companion.web.security.OriginPolicy)."""
        headers = request.headers
        return self.origins.allows(headers.get_all("Origin"), headers.get_all("Host"))

    def check_upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        """None to accept the upgrade, or the HTTP response that refuses it."""
        if not self.origin_allowed(request):
            return connection.respond(403, "Forbidden: this page's origin may not connect.\n")
        address = self.address(connection, request)
        bucket = self._bucket(
            self._attempts,
            address,
            self.settings.connects_per_second,
            self.settings.connect_burst,
        )
        if not bucket.take():
            response = connection.respond(429, "Too many connection attempts; slow down.\n")
            response.headers["Retry-After"] = str(max(1, round(bucket.retry_after())))
            return response
        if self.open[address] >= self.settings.max_connections_per_address:
            return connection.respond(429, "Too many connections from this address.\n")
        return None

    def opened(self, address: str) -> None:
        """Count an accepted connection."""
        self.open[address] += 1

    def closed(self, address: str) -> None:
        """Forget a closed connection."""
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]

    def new_identity(self, address: str, session_id: str) -> bool:
        """Whether this address may get one more fresh participant identity in this session
        now; counts it for the moderator when it may."""
        s = self.settings
        per_address = self._bucket(
            self._identities, address, s.new_participants_per_minute / 60, s.new_participant_burst
        )
        if not per_address.take():
            return False
        per_session = self._bucket(
            self._session_identities,
            session_id,
            s.session_new_participants_per_minute / 60,
            s.session_new_participant_burst,
        )
        if not per_session.take():
            per_address.refund()
            return False
        issued = self._issued.setdefault(session_id, Counter())
        if address in issued or len(issued) < MAX_TRACKED:
            issued[address] += 1
        else:
            issued[OTHER_ADDRESSES] += 1
        if self.sharing:
            self._unshared.setdefault(session_id, Counter())[self._digest(address)] += 1
        return True

    def take_unshared(self, session_id: str) -> dict[str, int] | None:
        """Fresh identities given out since the last call, per address digest, for the
        store's session-wide count (companion.realtime.presence_sync)."""
        fresh = self._unshared.pop(session_id, None)
        return dict(fresh) if fresh else None

    def _digest(self, address: str) -> str:
        key = self.settings.secret_key.encode()
        return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()[:20]

    def identity_retry_after(self, address: str, session_id: str) -> float:
        """Seconds until a fresh identity may be had again, after `new_identity` refused."""
        waits = [
            bucket.retry_after()
            for bucket in (self._identities.get(address), self._session_identities.get(session_id))
            if bucket is not None and bucket.tokens < 1
        ]
        return max(waits, default=0.0)

    def identity_counts(self, session_id: str) -> dict[str, int]:
        """For the moderator: fresh identities this process gave out in the session, and
        the most that went to one address. In a venue most come from its Wi-Fi; many more
        than the people in the room, from one address, is what vote stuffing looks like."""
        issued = self._issued.get(session_id)
        if not issued:
            return {"new": 0, "most_from_one_address": 0}
        most = max((n for a, n in issued.items() if a != OTHER_ADDRESSES), default=0)
        return {"new": sum(issued.values()), "most_from_one_address": most}

    @staticmethod
    def _bucket(
        buckets: dict[str, TokenBucket], key: str, rate: float, burst: float
    ) -> TokenBucket:
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) > MAX_TRACKED:
                # Addresses that have been quiet long enough to be back at full are forgotten.
                for stale in [k for k, b in buckets.items() if b.is_full()]:
                    del buckets[stale]
            bucket = buckets[key] = TokenBucket(rate, burst)
        return bucket
