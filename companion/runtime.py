"""Wires one process together: store, bus, services, realtime and HTTP, then serves."""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn

from companion.app import create_app
from companion.backends.memory import MemoryBus
from companion.backends.sqlite import SQLiteStore
from companion.realtime.hub import Hub
from companion.realtime.server import RealtimeServer
from companion.services.sessions import SessionService
from companion.settings import Settings

log = logging.getLogger(__name__)


def open_store(settings: Settings) -> SQLiteStore:
    """The configured store (the embedded SQLite file for now)."""
    return SQLiteStore(settings.database, settings.sqlite_synchronous)


async def serve(
    settings: Settings, on_ready: Callable[[SessionService], None] | None = None
) -> None:
    """Run HTTP and realtime until interrupted (SIGINT/SIGTERM)."""
    store = open_store(settings)
    await store.open()
    bus = MemoryBus()
    service = SessionService(store, bus)
    hub = Hub(settings.coalesce_ms / 1000, settings.send_buffer_limit, settings.replay_events)
    bus.subscribe(hub.on_change)
    await service.load(prime=hub.on_change, recent=settings.replay_events)
    for session_id, state in service.states.items():
        hub.ensure_room(session_id, state.seq)
    hub.start()
    realtime = RealtimeServer(settings, service, hub)
    await realtime.start(settings.host, settings.ws_port)
    config = uvicorn.Config(
        create_app(settings, service),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(service)
    try:
        await server.serve()
    finally:
        await realtime.close()
        await hub.stop()
        await store.close()
