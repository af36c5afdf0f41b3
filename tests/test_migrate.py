"""`companion migrate` moves an embedded installation to Redis with nothing lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from companion.backends.redis import RedisStore
from companion.backends.sqlite import SQLiteStore
from companion.domain.events import Event
from companion.domain.members import NetworkMember
from companion.domain.organisers import AuditEntry, Organiser
from tests.redisproc import RedisProcess
from tests.serverproc import ServerProcess


async def test_migrate_sqlite_to_redis_copies_programme_secrets_and_events(tmp_path: Path) -> None:
    """Every session's secrets and event log arrive in Redis unchanged; a second run is refused."""
    server = ServerProcess(tmp_path)
    assert server.import_programme().returncode == 0
    db = tmp_path / "companion.db"
    sqlite = SQLiteStore(db)
    await sqlite.open()
    sid = "tema-2-session-2"
    events = [
        Event(sid, i, "question.asked", {"id": i, "text": f"Fråga {i} – styrning?"}, 1.0 + i)
        for i in range(1, 1201)
    ]
    await sqlite.append(events)
    anna = Organiser("o1", "anna@kommun.se", "Anna", "$argon2id$v=19$hash", 5.0, epoch=2)
    assert await sqlite.add_organiser(anna)
    await sqlite.add_membership("temasessioner", "o1")
    for i in range(3):
        await sqlite.append_audit(
            AuditEntry("temasessioner", 10.0 + i, anna.email, "x", f"ändring {i}")
        )
    member = NetworkMember(
        "0123456789abcdef", "temasessioner", "Åsa", "a@k.se", token_hash="e" * 64
    )
    await sqlite.save_members([member])
    expected_access = sorted(await sqlite.load_access(), key=lambda a: a.session_id)
    expected_programme = await sqlite.load_programme()
    await sqlite.close()

    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    try:
        command = [
            sys.executable,
            "-m",
            "companion.cli",
            "migrate",
            "--from",
            f"sqlite:///{db}",
            "--to",
            redis.url,
        ]
        done = subprocess.run(command, env=server.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "copied 8 sessions and 1200 events" in done.stdout
        assert "copied 1 organiser accounts" in done.stdout
        target = RedisStore(redis.url)
        await target.open()
        try:
            assert await target.load_events(sid) == events
            assert sorted(await target.load_access(), key=lambda a: a.session_id) == expected_access
            assert await target.load_programme() == expected_programme
            assert await target.list_organisers() == [anna]
            assert await target.memberships("o1") == {"temasessioner"}
            assert await target.member_by_token("e" * 64) == member  # links keep working
            assert [e.detail for e in await target.load_audit("temasessioner")] == [
                "ändring 2",
                "ändring 1",
                "ändring 0",
            ]
        finally:
            await target.close()
        again = subprocess.run(command, env=server.env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 2 and "refusing to overwrite" in again.stderr
        bad = subprocess.run(
            [
                sys.executable,
                "-m",
                "companion.cli",
                "migrate",
                "--from",
                "mysql://x",
                "--to",
                redis.url,
            ],
            env=server.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 2 and "Unsupported store URL" in bad.stderr
    finally:
        redis.stop()
