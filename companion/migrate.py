"""Moving an installation from one store to another (SQLite -> Redis, or back)."""

from __future__ import annotations

from dataclasses import dataclass

from companion.backends.base import Store
from companion.backends.redis import RedisStore
from companion.backends.sqlite import SQLiteStore

CHUNK = 500


class MigrationError(Exception):
    """The migration cannot start (bad URL, target not empty)."""


def store_for_url(url: str) -> Store:
    """A store from a URL: `sqlite:///path/to/file.db` or `redis://host:port/db`."""
    if url.startswith("sqlite:///"):
        # sqlite:///relative.db and sqlite:////absolute/path.db, as SQLAlchemy spells them.
        return SQLiteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url)
    raise MigrationError(
        f"Unsupported store URL {url!r}: use sqlite:///FILE or redis://HOST:PORT/DB."
    )


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What was copied."""

    sessions: int
    events: int


async def migrate(source: Store, target: Store) -> MigrationReport:
    """Copy programme, session secrets and every event log; the target must be empty."""
    if await target.load_programme() is not None or await target.load_access():
        raise MigrationError("The target already holds a programme; refusing to overwrite it.")
    data = await source.load_programme()
    if data is None:
        raise MigrationError("The source holds no programme.")
    access = await source.load_access()
    events_copied = 0
    # Logs first, programme last: a half-done migration leaves a target that looks empty.
    for a in access:
        events = await source.load_events(a.session_id)
        for start in range(0, len(events), CHUNK):
            await target.append(events[start : start + CHUNK])
        events_copied += len(events)
    await target.save_programme(data, access)
    return MigrationReport(len(access), events_copied)
