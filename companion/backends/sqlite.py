"""The embedded store: SQLite in WAL mode, written by one thread with group commit.

SQLite calls block, so they run on a dedicated thread. Appends that arrive while a
commit is in progress are written together in the next transaction: a burst of votes
costs a few commits, not one each, and every caller still waits for its own commit.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from companion.backends.base import (
    SeqConflict,
    StoreUnavailable,
    StoreURLError,
    TooLate,
    VersionConflict,
)
from companion.domain.access import SessionAccess
from companion.domain.events import Event
from companion.domain.members import NetworkMember
from companion.domain.organisers import AuditEntry, OneTimeLink, Organiser, Signin

SCHEMA = """
CREATE TABLE IF NOT EXISTS programme (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS programme_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS session_access (
    session_id TEXT PRIMARY KEY,
    join_code TEXT NOT NULL UNIQUE,
    moderator_token TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS organisers (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    network_id TEXT NOT NULL,
    organiser_id TEXT NOT NULL,
    PRIMARY KEY (network_id, organiser_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS one_time_links (
    token_hash TEXT PRIMARY KEY,
    expires REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signins (
    id_hash TEXT PRIMARY KEY,
    expires REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    start REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    network_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_network ON audit (network_id, id);
CREATE TABLE IF NOT EXISTS network_members (
    network_id TEXT NOT NULL,
    id TEXT NOT NULL,
    token_hash TEXT UNIQUE,
    data TEXT NOT NULL,
    PRIMARY KEY (network_id, id)
) WITHOUT ROWID;
"""

MAX_BATCH = 2000
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


_STOP = object()


def sqlite_url(path: str | Path, synchronous: str = "NORMAL") -> str:
    """The store URL of a database file (the inverse of `SQLiteStore.from_url`)."""
    return f"sqlite:///{quote(str(path))}?synchronous={quote(synchronous)}"


class _Job:
    __slots__ = ("args", "deadline", "future", "kind", "loop")

    def __init__(
        self,
        kind: str,
        args: Any,
        loop: asyncio.AbstractEventLoop,
        deadline: float | None = None,
    ) -> None:
        self.kind = kind
        self.args = args
        self.loop = loop
        self.deadline = deadline
        self.future: asyncio.Future[Any] = loop.create_future()


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class SQLiteStore:
    """Store backed by one SQLite file (or `:memory:` for throwaway use)."""

    shared = False  # only this process writes the file

    def __init__(self, path: str | Path, synchronous: str = "NORMAL") -> None:
        if synchronous.upper() not in SYNCHRONOUS:
            # It goes into a PRAGMA, which takes no parameters.
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.path = str(path)
        self.synchronous = synchronous.upper()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._last_seq: dict[str, int] = {}  # owned by the writer thread
        # Leases in memory: only this process uses the file (not `shared`), so they only
        # need to outlive nothing but this process.
        self._leases: dict[str, tuple[str, float]] = {}
        self._holder: int | None = None  # the open lock file of `hold`

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """`sqlite:///relative.db` or `sqlite:////absolute.db`, as SQLAlchemy spells them,
        with an optional `?synchronous=NORMAL|FULL|...`; the path is percent-decoded."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "sqlite" or parts.netloc or not parts.path.startswith("/"):
            raise StoreURLError("A SQLite store URL is sqlite:///FILE (three slashes).")
        path = unquote(parts.path[1:])
        if not path:
            raise StoreURLError("The SQLite store URL names no file: sqlite:///FILE.")
        synchronous = parse_qs(parts.query).get("synchronous", ["NORMAL"])[-1]
        try:
            return cls(path, synchronous)
        except ValueError as exc:
            raise StoreURLError(f"SQLite store URL: {exc}.") from None

    def hold(self, exclusive: bool) -> bool:
        """Hold the file beside the database (`FILE.serving`): shared by each serving
        process, exclusive for a command that rewrites logs under them (`companion
        retention run`), which must not run while a server keeps the logs in memory.
        False when another process holds it the other way; released by `close`."""
        if self.path == ":memory:":
            return True
        fd = os.open(self.path + ".serving", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._holder = fd
        return True

    def tail(self) -> None:
        """Nobody else appends to this file: nothing to follow."""
        return None

    def writer_board(self, process: str) -> None:
        """No other process writes: every command runs here."""
        return None

    def presence_board(self, process: str) -> None:
        """One process: its presence is the session's."""
        return None

    async def open(self) -> None:
        """Start the writer thread and create the schema."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="sqlite-store", daemon=True)
        self._thread.start()
        await self._submit("init", None)

    async def close(self) -> None:
        """Finish queued work and stop the writer thread."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(thread.join)
        if self._holder is not None:
            os.close(self._holder)  # releases the lock
            self._holder = None

    async def save_programme(self, data: dict[str, Any], access: list[SessionAccess]) -> None:
        """Replace the programme and add secrets for sessions that have none, in one commit."""
        await self._submit("programme", (data, access, None))

    async def load_programme(self) -> dict[str, Any] | None:
        """The stored programme, or None."""
        row = await self._submit("query", ("SELECT data FROM programme WHERE id = 1", ()))
        return json.loads(row[0][0]) if row else None

    async def load_programme_versioned(self) -> tuple[dict[str, Any] | None, int]:
        """The stored programme and its version, read together."""
        read: tuple[dict[str, Any] | None, int] = await self._submit("programme_read", None)
        return read

    async def programme_version(self) -> int:
        """The version of the stored programme."""
        rows = await self._submit(
            "query", ("SELECT version FROM programme_version WHERE id = 1", ())
        )
        return int(rows[0][0]) if rows else 0

    async def replace_programme(
        self, data: dict[str, Any], access: list[SessionAccess], expected_version: int
    ) -> int:
        """Save the programme only if it is still at `expected_version` (VersionConflict)."""
        version: int = await self._submit("programme", (data, access, expected_version))
        return version

    async def load_access(self) -> list[SessionAccess]:
        """The secrets of every session."""
        rows = await self._submit(
            "query",
            ("SELECT session_id, join_code, moderator_token FROM session_access", ()),
        )
        return [SessionAccess(r[0], r[1], r[2]) for r in rows]

    async def update_access(self, access: SessionAccess) -> None:
        """Replace one session's join code and moderator token."""
        await self._submit(
            "query",
            (
                "UPDATE session_access SET join_code = ?, moderator_token = ? WHERE session_id = ?",
                (access.join_code, access.moderator_token, access.session_id),
            ),
        )

    async def append(
        self, events: list[Event], deadline: float | None = None, fence: int | None = None
    ) -> None:
        """Store events; returns after their transaction committed. A job the writer
        reaches after its `deadline` (a `time.monotonic()` instant) is refused: TooLate.
        (`fence` is for shared stores: nothing is forwarded to an embedded one.)"""
        await self._submit("append", events, deadline)

    async def replace_log(self, events: list[Event], expected_last: int) -> None:
        """Replace a session's whole log by `events` (same seqs, a new one at the end) if
        the stored log still ends at `expected_last`, in one transaction; the old rows are
        overwritten on disk (secure_delete) and the WAL is emptied into the file."""
        await self._submit("replace_log", (events, expected_last))

    async def compact(self) -> None:
        """Nothing to do: `replace_log` leaves no replaced row on disk."""

    async def load_events(self, session_id: str, after_seq: int = 0) -> list[Event]:
        """A session's events after `after_seq`, in order."""
        rows = await self._submit(
            "query",
            (
                "SELECT seq, type, data, at FROM events WHERE session_id = ? AND seq > ? "
                "ORDER BY seq",
                (session_id, after_seq),
            ),
        )
        return [Event(session_id, r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    # -- organisers ----------------------------------------------------------------------
    async def _q(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        rows: list[Any] = await self._submit("query", (sql, params))
        return rows

    async def add_organiser(self, organiser: Organiser) -> bool:
        """Create an account; False when the email is taken."""
        rows = await self._q(
            "INSERT INTO organisers (id, email, data) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING id",
            (organiser.id, organiser.email, _dump(organiser.to_data())),
        )
        return bool(rows)

    async def save_organiser(self, organiser: Organiser) -> None:
        """Replace an existing account."""
        await self._q(
            "UPDATE organisers SET data = ? WHERE id = ?",
            (_dump(organiser.to_data()), organiser.id),
        )

    async def get_organiser(self, organiser_id: str) -> Organiser | None:
        """An account by id."""
        rows = await self._q("SELECT data FROM organisers WHERE id = ?", (organiser_id,))
        return Organiser.from_data(json.loads(rows[0][0])) if rows else None

    async def find_organiser(self, email: str) -> Organiser | None:
        """An account by email."""
        rows = await self._q("SELECT data FROM organisers WHERE email = ?", (email,))
        return Organiser.from_data(json.loads(rows[0][0])) if rows else None

    async def list_organisers(self) -> list[Organiser]:
        """Every account, by email."""
        rows = await self._q("SELECT data FROM organisers ORDER BY email")
        return [Organiser.from_data(json.loads(r[0])) for r in rows]

    async def add_membership(self, network_id: str, organiser_id: str) -> None:
        """Make an organiser a member of a network."""
        await self._q(
            "INSERT OR IGNORE INTO memberships (network_id, organiser_id) VALUES (?, ?)",
            (network_id, organiser_id),
        )

    async def remove_membership(self, network_id: str, organiser_id: str) -> None:
        """End a membership."""
        await self._q(
            "DELETE FROM memberships WHERE network_id = ? AND organiser_id = ?",
            (network_id, organiser_id),
        )

    async def memberships(self, organiser_id: str) -> set[str]:
        """The networks an organiser belongs to."""
        rows = await self._q(
            "SELECT network_id FROM memberships WHERE organiser_id = ?", (organiser_id,)
        )
        return {r[0] for r in rows}

    async def network_members(self, network_id: str) -> set[str]:
        """The organisers of a network."""
        rows = await self._q(
            "SELECT organiser_id FROM memberships WHERE network_id = ?", (network_id,)
        )
        return {r[0] for r in rows}

    async def put_link(self, link: OneTimeLink) -> None:
        """Keep a one-time link."""
        await self._q(
            "INSERT OR REPLACE INTO one_time_links (token_hash, expires, data) VALUES (?, ?, ?)",
            (link.token_hash, link.expires, _dump(link.to_data())),
        )

    async def take_link(self, token_hash: str, now: float) -> OneTimeLink | None:
        """Remove and return a link that has not expired (one statement: atomic)."""
        rows = await self._q(
            "DELETE FROM one_time_links WHERE token_hash = ? RETURNING expires, data",
            (token_hash,),
        )
        if not rows or rows[0][0] <= now:
            return None
        return OneTimeLink.from_data(json.loads(rows[0][1]))

    async def put_signin(self, signin: Signin) -> None:
        """Keep a sign-in session."""
        await self._q(
            "INSERT OR REPLACE INTO signins (id_hash, expires, data) VALUES (?, ?, ?)",
            (signin.id_hash, signin.expires, _dump(signin.to_data())),
        )

    async def get_signin(self, id_hash: str, now: float) -> Signin | None:
        """A sign-in session that has not expired."""
        rows = await self._q(
            "SELECT data FROM signins WHERE id_hash = ? AND expires > ?", (id_hash, now)
        )
        return Signin.from_data(json.loads(rows[0][0])) if rows else None

    async def delete_signin(self, id_hash: str) -> None:
        """End a sign-in session."""
        await self._q("DELETE FROM signins WHERE id_hash = ?", (id_hash,))

    async def count_failure(self, key: str, window: float, now: float) -> int:
        """Count a failure in a fixed window that starts at the first failure."""
        rows = await self._q(
            "INSERT INTO failures (key, count, start) VALUES (?, 1, ?) "
            "ON CONFLICT(key) DO UPDATE SET "
            "count = CASE WHEN failures.start <= ? THEN 1 ELSE failures.count + 1 END, "
            "start = CASE WHEN failures.start <= ? THEN excluded.start ELSE failures.start END "
            "RETURNING count",
            (key, now, now - window, now - window),
        )
        return int(rows[0][0])

    async def clear_failures(self, key: str) -> None:
        """Forget the failures of `key`."""
        await self._q("DELETE FROM failures WHERE key = ?", (key,))

    async def renew_lease(self, name: str, owner: str, ttl: float) -> None:
        """Hold the lease for `ttl` more seconds (in this process's memory)."""
        self._leases[name] = (owner, time.monotonic() + ttl)

    async def claim(self, name: str, owner: str, ttl: float) -> bool:
        """Take the claim if it is free (in this process's memory, like leases)."""
        if await self.lease_owner(name) is not None:
            return False
        self._leases[name] = (owner, time.monotonic() + ttl)
        return True

    async def lease_owner(self, name: str) -> str | None:
        """The owner until its lease runs out."""
        owner, until = self._leases.get(name, ("", 0.0))
        return owner if until > time.monotonic() else None

    async def append_audit(self, entry: AuditEntry) -> None:
        """Record an audit entry."""
        await self._q(
            "INSERT INTO audit (network_id, data) VALUES (?, ?)",
            (entry.network_id, _dump(entry.to_data())),
        )

    async def load_audit(self, network_id: str, limit: int = 500) -> list[AuditEntry]:
        """Newest first."""
        rows = await self._q(
            "SELECT data FROM audit WHERE network_id = ? ORDER BY id DESC LIMIT ?",
            (network_id, limit),
        )
        return [AuditEntry.from_data(json.loads(r[0])) for r in rows]

    # -- a network's member list ----------------------------------------------------------
    async def load_members(self, network_id: str) -> list[NetworkMember]:
        """Every member of a network."""
        rows = await self._q("SELECT data FROM network_members WHERE network_id = ?", (network_id,))
        return [NetworkMember.from_data(json.loads(r[0])) for r in rows]

    async def get_member(self, network_id: str, member_id: str) -> NetworkMember | None:
        """One member of a network."""
        rows = await self._q(
            "SELECT data FROM network_members WHERE network_id = ? AND id = ?",
            (network_id, member_id),
        )
        return NetworkMember.from_data(json.loads(rows[0][0])) if rows else None

    async def save_members(self, members: list[NetworkMember]) -> None:
        """Add or replace members in one transaction (the token column is the index)."""
        await self._submit("members", members)

    async def delete_member(self, network_id: str, member_id: str) -> bool:
        """Remove a member (and so their link)."""
        rows = await self._q(
            "DELETE FROM network_members WHERE network_id = ? AND id = ? RETURNING id",
            (network_id, member_id),
        )
        return bool(rows)

    async def member_by_token(self, token_hash: str) -> NetworkMember | None:
        """The member whose current link has this digest."""
        if not token_hash:
            return None
        rows = await self._q("SELECT data FROM network_members WHERE token_hash = ?", (token_hash,))
        return NetworkMember.from_data(json.loads(rows[0][0])) if rows else None

    @staticmethod
    def _save_members(db: sqlite3.Connection, members: list[NetworkMember]) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO network_members (network_id, id, token_hash, data) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(network_id, id) DO UPDATE SET "
                "token_hash = excluded.token_hash, data = excluded.data",
                [(m.network_id, m.id, m.token_hash or None, _dump(m.to_data())) for m in members],
            )
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise

    # -- writer thread -------------------------------------------------------------------
    def _submit(self, kind: str, args: Any, deadline: float | None = None) -> asyncio.Future[Any]:
        if self._thread is None or not self._thread.is_alive():
            raise StoreUnavailable("The store is not open.")
        job = _Job(kind, args, asyncio.get_running_loop(), deadline)
        self._jobs.put(job)
        return job.future

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except Exception as exc:  # e.g. a directory or an unwritable path
            self._fail_queued(StoreUnavailable(f"SQLite cannot open {self.path}: {exc}"))
            return
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    break
                if job.kind == "append":
                    self._append_batch(db, job)
                else:
                    self._one(db, job)
        finally:
            db.close()
            self._fail_queued(StoreUnavailable("The store is closed."))

    def _fail_queued(self, error: BaseException) -> None:
        """Answer every job still queued (and any that races in) with an error."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not _STOP:
                job.loop.call_soon_threadsafe(_resolve, job.future, None, error)

    def _one(self, db: sqlite3.Connection, job: _Job) -> None:
        handlers: dict[str, Callable[[sqlite3.Connection, Any], Any]] = {
            "init": self._init,
            "programme": self._save_programme,
            "programme_read": self._read_programme,
            "members": self._save_members,
            "query": lambda d, a: d.execute(a[0], a[1]).fetchall(),
            "replace_log": self._replace_log,
        }
        error: BaseException | None
        try:
            result, error = handlers[job.kind](db, job.args), None
        except (VersionConflict, SeqConflict) as exc:
            result, error = None, exc
        except Exception as exc:  # the writer thread must survive anything one job does
            result, error = None, StoreUnavailable(f"SQLite: {exc}")
        job.loop.call_soon_threadsafe(_resolve, job.future, result, error)

    def _append_batch(self, db: sqlite3.Connection, first: _Job) -> None:
        batch = [first]
        stop = False
        while len(batch) < MAX_BATCH:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is _STOP or job.kind != "append":
                # Keep order: write this batch first, then handle the other job.
                self._write_events(db, batch)
                if job is _STOP:
                    stop = True
                else:
                    self._one(db, job)
                batch = []
                break
            batch.append(job)
        if batch:
            self._write_events(db, batch)
        if stop:
            self._jobs.put(_STOP)

    def _write_events(self, db: sqlite3.Connection, batch: list[_Job]) -> None:
        try:
            errors = self._write_accepted(db, batch)
        except Exception as exc:  # e.g. the database file vanished under us
            errors = {id(job): StoreUnavailable(f"SQLite: {exc}") for job in batch}
        for job in batch:
            job.loop.call_soon_threadsafe(_resolve, job.future, None, errors.get(id(job)))

    def _write_accepted(
        self, db: sqlite3.Connection, batch: list[_Job]
    ) -> dict[int, BaseException]:
        # Each session's log must stay gap-free: an append whose seq does not follow the
        # last stored one (because an earlier append failed) is refused, not stored.
        last = self._last_seq
        tentative: dict[str, int] = {}
        accepted: list[_Job] = []
        errors: dict[int, BaseException] = {}
        now = time.monotonic()
        for job in batch:
            if job.deadline is not None and now > job.deadline:
                errors[id(job)] = TooLate("The append's deadline passed; nothing was stored.")
                continue
            ok = True
            staged = dict(tentative)
            for e in job.args:
                if e.session_id not in staged:
                    staged[e.session_id] = last.get(e.session_id) or self._max_seq(db, e.session_id)
                if e.seq != staged[e.session_id] + 1:
                    ok = False
                    break
                staged[e.session_id] = e.seq
            if ok:
                tentative = staged
                accepted.append(job)
            else:
                errors[id(job)] = SeqConflict(staged[job.args[0].session_id])
        try:
            rows = [
                (e.session_id, e.seq, e.type, json.dumps(e.data, ensure_ascii=False), e.at)
                for job in accepted
                for e in job.args
            ]
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO events (session_id, seq, type, data, at) VALUES (?, ?, ?, ?, ?)", rows
            )
            db.execute("COMMIT")
            last.update(tentative)
        except Exception as exc:  # the writer thread must survive anything one batch does
            if db.in_transaction:
                db.execute("ROLLBACK")
            for job in accepted:
                errors[id(job)] = StoreUnavailable(f"SQLite: {exc}")
        return errors

    def _replace_log(self, db: sqlite3.Connection, args: tuple[list[Event], int]) -> None:
        events, expected_last = args
        session_id = events[0].session_id
        db.execute("BEGIN IMMEDIATE")
        try:
            last = self._max_seq(db, session_id)
            if last != expected_last:
                raise SeqConflict(last)
            db.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
            db.executemany(
                "INSERT INTO events (session_id, seq, type, data, at) VALUES (?, ?, ?, ?, ?)",
                [
                    (e.session_id, e.seq, e.type, json.dumps(e.data, ensure_ascii=False), e.at)
                    for e in events
                ],
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._last_seq[session_id] = events[-1].seq
        # The replaced rows were zeroed in the pages (secure_delete); the WAL still holds
        # them until it is written back, so write it back and empty it now.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def _max_seq(db: sqlite3.Connection, session_id: str) -> int:
        row = db.execute(
            "SELECT MAX(seq) FROM events WHERE session_id = ?", (session_id,)
        ).fetchone()
        return row[0] or 0

    def _init(self, db: sqlite3.Connection, _: Any) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        # Deleted rows are overwritten, not left in free pages: retention deletes for real.
        db.execute("PRAGMA secure_delete=ON")
        db.executescript(SCHEMA)

    @staticmethod
    def _version(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT version FROM programme_version WHERE id = 1").fetchone()
        return row[0] if row else 0

    def _read_programme(self, db: sqlite3.Connection, _: Any) -> tuple[dict[str, Any] | None, int]:
        # One read transaction: two statements in autocommit could see another process's
        # save between them (old data with the new version), and an edit of that old data
        # would then pass the version check and drop the other save.
        db.execute("BEGIN")
        try:
            row = db.execute("SELECT data FROM programme WHERE id = 1").fetchone()
            return (json.loads(row[0]) if row else None), self._version(db)
        finally:
            db.execute("COMMIT")

    def _save_programme(
        self,
        db: sqlite3.Connection,
        args: tuple[dict[str, Any], list[SessionAccess], int | None],
    ) -> int:
        data, access, expected = args
        db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version(db)
            if expected is not None and version != expected:
                raise VersionConflict(version)
            db.execute(
                "INSERT INTO programme (id, data) VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                (json.dumps(data, ensure_ascii=False),),
            )
            db.executemany(
                "INSERT OR IGNORE INTO session_access (session_id, join_code, moderator_token) "
                "VALUES (?, ?, ?)",
                [(a.session_id, a.join_code, a.moderator_token) for a in access],
            )
            db.execute(
                "INSERT INTO programme_version (id, version) VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET version = excluded.version",
                (version + 1,),
            )
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
        return version + 1
