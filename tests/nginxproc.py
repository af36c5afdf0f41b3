"""Debian's nginx with the repository's own deploy/nginx.conf, for tests: the file with its
paths and ports substituted and nothing else, and a self-signed certificate made with
openssl."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.serverproc import ROOT, free_port

CONF = ROOT / "deploy" / "nginx.conf"
# The replicas' ports as docker-compose.yml sets them: (HTTP, WebSocket) per replica.
COMPOSE_PORTS = [(8101, 8102), (8201, 8202)]


def nginx_binary() -> str:
    """Path of nginx, or a clear failure (scripts/test.sh installs Debian's)."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        raise RuntimeError("nginx is not installed (scripts/test.sh installs it)")
    return binary


def self_signed(directory: Path, host: str = "localhost") -> tuple[Path, Path]:
    """A certificate and key for `host` (and 127.0.0.1), made by openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host},IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def render(certs: Path, http_port: int, https_port: int, replicas: list[tuple[int, int]]) -> str:
    """deploy/nginx.conf with the certificate directory and the ports replaced."""
    text = CONF.read_text()
    replaced = [
        ("/etc/nginx/certs/", f"{certs}/"),
        ("listen 80;", f"listen {http_port};"),
        ("listen 443 ", f"listen {https_port} "),
    ]
    for (http_from, ws_from), (http_to, ws_to) in zip(COMPOSE_PORTS, replicas, strict=True):
        replaced += [(f"127.0.0.1:{http_from}", f"127.0.0.1:{http_to}")]
        replaced += [(f"127.0.0.1:{ws_from}", f"127.0.0.1:{ws_to}")]
    for old, new in replaced:
        assert old in text, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


@dataclass
class NginxProcess:
    """nginx in the foreground with the rendered deploy/nginx.conf in its own directory."""

    directory: Path
    replicas: list[tuple[int, int]]
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def conf(self) -> Path:
        return self.directory / "nginx.conf"

    @property
    def certificate(self) -> Path:
        """The self-signed certificate nginx serves (for clients to trust)."""
        return self.directory / "certs" / "fullchain.pem"

    @property
    def https(self) -> str:
        """Base URL through the proxy (TLS)."""
        return f"https://localhost:{self.https_port}"

    def prepare(self) -> None:
        """Certificate and configuration on disk."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self_signed(self.directory / "certs")
        self.conf.write_text(
            render(self.directory / "certs", self.http_port, self.https_port, self.replicas)
        )

    def command(self, *extra: str, foreground: bool = False) -> list[str]:
        """The nginx command line; pid and error log are given here, so the file is left as
        it is."""
        globals_ = f"pid {self.directory}/nginx.pid; error_log {self.directory}/error.log;"
        if foreground:
            globals_ += " daemon off;"
        return [
            nginx_binary(),
            "-p",
            f"{self.directory}/",
            "-c",
            str(self.conf),
            "-g",
            globals_,
            *extra,
        ]

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t` on the rendered file."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self, timeout: float = 10.0) -> None:
        """Run in the foreground and wait until the TLS port accepts connections."""
        self.prepare()
        log = open(self.directory / "stderr.log", "ab")  # noqa: SIM115 - lives with nginx
        self.proc = subprocess.Popen(
            self.command(foreground=True), stdout=subprocess.DEVNULL, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.directory / 'stderr.log').read_text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1),
            ):
                return
            time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def stop(self) -> None:
        """SIGQUIT (graceful) and wait."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
