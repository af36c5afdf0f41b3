"""Debian's coturn with the repository's own deploy/turnserver.conf, for tests: the file
with its ports substituted and the shared secret appended (as docker-compose.yml appends
it at start). Every peer of a test is on this machine, so the command line lets coturn
relay to loopback peers, which the file (rightly) forbids in production."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.serverproc import ROOT, free_port

CONF = ROOT / "deploy" / "turnserver.conf"


def free_udp_range(size: int) -> int:
    """The first of `size` consecutive ports, picked at random in the ephemeral range."""
    import random
    import socket

    for _ in range(50):
        first = random.randrange(20000, 30000 - size)
        try:
            socks = []
            for port in (first, first + size - 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


@dataclass
class TurnProcess:
    """turnserver in the foreground with the rendered deploy/turnserver.conf."""

    directory: Path
    secret: str = "test-turn-secret-not-for-production"
    realm: str = "companion.test"
    port: int = field(default_factory=free_port)
    relay_ports: int = 100
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The TURN URL the replicas announce (COMPANION_ICE_SERVERS)."""
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def render(self) -> str:
        """deploy/turnserver.conf with the ports replaced and the secret appended."""
        text = CONF.read_text()
        first = free_udp_range(self.relay_ports)
        replaced = [
            (r"(?m)^listening-port=\d+$", f"listening-port={self.port}"),
            (r"(?m)^min-port=\d+$", f"min-port={first}"),
            (r"(?m)^max-port=\d+$", f"max-port={first + self.relay_ports - 1}"),
        ]
        for pattern, new in replaced:
            text, count = re.subn(pattern, new, text)
            assert count == 1, f"deploy/turnserver.conf no longer matches {pattern}"
        return f"{text}static-auth-secret={self.secret}\n"

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until it logs that it listens."""
        binary = shutil.which("turnserver") or "/usr/bin/turnserver"
        if not Path(binary).exists():
            raise RuntimeError("coturn is not installed (scripts/test.sh installs it)")
        self.directory.mkdir(parents=True, exist_ok=True)
        conf = self.directory / "turnserver.conf"
        conf.write_text(self.render())
        log = self.directory / "turn.log"
        self.proc = subprocess.Popen(
            [
                binary, "-c", str(conf), f"--realm={self.realm}",
                f"--pidfile={self.directory}/turn.pid", f"--log-file={log}", "--simple-log",
                "--no-tls", "--no-dtls", "--listening-ip=127.0.0.1",
                # Test peers are on loopback; deploy/turnserver.conf denies such peers.
                "--allow-loopback-peers", "--allowed-peer-ip=127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.directory / "stderr.log", "ab"),  # noqa: SIM115 - lives with it
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited: {self.log()}")
            if "listener opened on" in self.log() or "Total General servers" in self.log():
                return
            time.sleep(0.1)
        raise RuntimeError(f"turnserver did not start: {self.log()}")

    def log(self) -> str:
        """What coturn logged."""
        path = self.directory / "turn.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
