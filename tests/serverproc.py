"""Start real Companion server processes on free loopback ports, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "companion" / "demo" / "programme.yaml"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """One `companion serve` process with its own data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    ws_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """Environment of the server process."""
        env = dict(os.environ)
        env.update(
            COMPANION_DATA_DIR=str(self.data_dir),
            COMPANION_PORT=str(self.port),
            COMPANION_WS_PORT=str(self.ws_port),
            COMPANION_SECRET_KEY="test-secret-key-not-for-production",
            # The demo's meetings are in 2020, long past any retention period: a server
            # would delete their personal data at start. Tests of retention set a period.
            COMPANION_RETENTION_DAYS="0",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    @property
    def http(self) -> str:
        """Base URL of the pages."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        """URL of the realtime endpoint."""
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    def import_programme(self, path: Path = DEMO) -> subprocess.CompletedProcess[str]:
        """Run `companion import` against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "companion.cli", "import", str(path)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def command(self) -> list[str]:
        """The command line that serves (subclasses may run the server differently)."""
        return [sys.executable, "-m", "companion.cli", "serve"]

    def start(self, timeout: float = 20.0) -> None:
        """Start serving and wait until HTTP answers."""
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(self.command(), env=self.env, stdout=log, stderr=log, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{self.http}/healthz", timeout=1).read()
                return
            time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log()}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, like a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        """What the server printed."""
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def log_once(self, text: str, timeout: float = 20.0) -> str:
        """What the server printed, once it has printed `text` (or after `timeout`).

        /healthz answers as soon as the server listens; what it prints after that (the links)
        may come a moment later on a busy machine.
        """
        deadline = time.monotonic() + timeout
        while text not in self.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.log()

    def access(self) -> dict[str, tuple[str, str]]:
        """session id -> (join code, moderator token), read from the database."""
        redis_url = self.extra_env.get("REDIS_URL")
        if redis_url:
            import json

            import redis

            with redis.Redis.from_url(redis_url, decode_responses=True) as client:
                rows = client.hgetall("companion:access")
            return {
                sid: (d["join_code"], d["moderator_token"])
                for sid, d in ((sid, json.loads(raw)) for sid, raw in rows.items())
            }
        with contextlib.closing(sqlite3.connect(self.data_dir / "companion.db")) as db:
            rows = db.execute("SELECT session_id, join_code, moderator_token FROM session_access")
            return {r[0]: (r[1], r[2]) for r in rows}
