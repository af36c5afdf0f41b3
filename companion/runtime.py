"""Wires one process together: store, bus, services, realtime and HTTP, then serves."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn
import uvloop

from companion.app import create_app
from companion.backends import open_store
from companion.backends.base import Store, Tail
from companion.backends.memory import MemoryBus
from companion.backends.sqlite import SQLiteStore, sqlite_url
from companion.collector import Collector, settle_heap
from companion.domain.word_filter import WordFilter
from companion.fd_budget import (
    AcceptErrorLog,
    AddressCap,
    connection_budget,
    per_address_cap,
    raise_open_file_limit,
)
from companion.proxy_trust import PROXY_TRUST
from companion.realtime.hub import Hub
from companion.realtime.presence_sync import PresenceSync
from companion.realtime.server import RealtimeServer
from companion.services.members import MemberService
from companion.services.programme import ProgrammeService
from companion.services.retention import Retention, RetentionSchedule
from companion.services.session_writers import SessionWriters
from companion.services.sessions import SessionService
from companion.settings import Settings
from companion.web.http_protocol import guarded_http_protocol

log = logging.getLogger(__name__)


def store_url(settings: Settings) -> str:
    """The configured store: Redis when REDIS_URL is set, else the embedded SQLite file."""
    return settings.redis_url or sqlite_url(settings.database, settings.sqlite_synchronous)


@dataclass
class Core:
    """Everything of one process except HTTP: store, service, fan-out and realtime server."""

    store: Store
    service: SessionService
    hub: Hub
    realtime: RealtimeServer
    tail: Tail | None = None
    programme: ProgrammeService | None = None
    presence: PresenceSync | None = None
    retention: RetentionSchedule | None = None
    members: MemberService | None = None
    writers: SessionWriters | None = None

    async def close(self) -> None:
        """Stop realtime, fan-out and the store, in that order."""
        if self.retention is not None:
            await self.retention.stop()
        if self.programme is not None:
            await self.programme.stop_watching()
        if self.presence is not None:
            await self.presence.stop()
        if self.writers is not None:
            await self.writers.stop()
        if self.tail is not None:
            await self.tail.stop()
        await self.realtime.close()
        await self.hub.stop()
        await self.store.close()


async def start_core(settings: Settings) -> Core:
    """Open the store, rebuild every session and start the realtime endpoint."""
    store = open_store(store_url(settings))
    await store.open()
    if isinstance(store, SQLiteStore):
        # Tells `companion retention run` that a server keeps this file's logs in memory.
        store.hold(exclusive=False)
    bus = MemoryBus()
    service = SessionService(store, bus, word_filter=WordFilter.from_setting(settings.word_filter))
    hub = Hub(settings.coalesce_ms / 1000, settings.send_buffer_limit, settings.replay_events)
    hub.keepalive_seconds = settings.keepalive_seconds
    hub.lanes_from = settings.lanes_from
    # Other processes serve the same sessions: presence is shared through the store.
    # Names this process to the others (presence parts, writer leases); the pid tells an
    # operator which process holds a session's writer lease.
    process = f"{os.getpid()}-{secrets.token_hex(6)}"
    board = store.presence_board(process)
    hub.shared_presence = board is not None
    bus.subscribe(hub.on_change)
    await service.load(prime=hub.on_change, recent=settings.replay_events)
    for session_id, state in service.states.items():
        hub.ensure_room(session_id, state.seq)
    hub.start()
    # Other processes may append to the same logs: follow them from where we are.
    tail = store.tail()
    if tail is not None:
        tail.start(
            {sid: st.seq for sid, st in service.states.items()},
            service.on_remote_event,
            hub.store_state,
            hub.together,
        )
        hub.before_flush = tail.fresh

    def on_session_added(session_id: str, seq: int) -> None:
        # A session made in the editor (here or in another process): open its room and,
        # on Redis, follow its log.
        hub.ensure_room(session_id, seq)
        if tail is not None:
            tail.follow(session_id, seq)

    service.on_session_added.append(on_session_added)
    service.on_members_only.append(hub.members_only)
    programme = ProgrammeService(service)
    programme.start_watching()
    members = MemberService(store, service)
    realtime = RealtimeServer(settings, service, hub, members)
    if tail is not None:
        realtime.caught_up = tail.caught_up
    presence = None
    if board is not None:
        realtime.admission.sharing = True
        presence = PresenceSync(hub, board, realtime.admission.take_unshared)
        presence.start()
    writer_board = store.writer_board(process)
    writers = None
    if writer_board is not None:
        writers = realtime.writers = SessionWriters(service, writer_board)
        if tail is not None:
            writers.caught_up = tail.caught_up
        writers.start()
    await realtime.start(settings.host, settings.ws_port)
    schedule = RetentionSchedule(Retention(service, settings.retention_days))
    schedule.start()
    return Core(
        store, service, hub, realtime, tail, programme, presence, schedule, members, writers
    )


def http_connection_cap(settings: Settings, open_files: int) -> AddressCap:
    """HTTP connections per client address (none behind a trusted proxy: it limits)."""
    if settings.trust_proxy:
        return AddressCap(None)
    budget = connection_budget(open_files)
    return AddressCap(
        per_address_cap(settings.max_http_connections_per_address, budget, settings.address_share)
    )


def run_server(
    settings: Settings, on_ready: Callable[[SessionService], None] | None = None
) -> None:
    """Serve on uvloop: its transports write a frame to a socket in about half the time of
    asyncio's, and writing frames to every socket is most of what a big session costs."""
    uvloop.run(serve(settings, on_ready))


async def serve(
    settings: Settings, on_ready: Callable[[SessionService], None] | None = None
) -> None:
    """Run HTTP and realtime until interrupted (SIGINT/SIGTERM)."""
    open_files = raise_open_file_limit()
    if connection_budget(open_files) < settings.max_connections_per_address:
        log.warning(
            "the open file limit (%d) is too low for %d realtime connections per address; "
            "raise the hard limit (systemd: LimitNOFILE=65536)",
            open_files,
            settings.max_connections_per_address,
        )
    AcceptErrorLog(asyncio.get_running_loop(), open_files).install()
    PROXY_TRUST.at_start(settings)
    core = await start_core(settings)
    from companion.media.registry import MediaRegistry  # aiortc is loaded only to serve

    media = MediaRegistry(settings, core.service, core.hub, core.members)
    core.service.bus.subscribe(media.on_change)  # a revoked member's streams end
    core.service.on_members_only.append(media.members_only)
    await media.start()
    config = uvicorn.Config(
        create_app(settings, core.service, media, core.programme, core.members),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="off",
        ws="none",
        http=guarded_http_protocol(
            http_connection_cap(settings, open_files), settings.request_timeout
        ),
    )
    server = uvicorn.Server(config)
    settle_heap()
    collector = Collector(lambda: core.hub.last_change)
    collector.start()
    try:
        serving = asyncio.get_running_loop().create_task(server.serve())
        # The links are printed once the pages answer: a link opened at once must work.
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started and on_ready is not None:
            on_ready(core.service)
        await serving
    finally:
        await collector.stop()
        await media.close()
        await core.close()
