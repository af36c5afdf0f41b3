"""The deployment files hang together (no Docker engine here, so this checks their content)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.nginxproc import NginxProcess
from tests.serverproc import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_describes_redis_replicas_proxy_and_turn() -> None:
    """docker-compose.yml parses, and wires Redis (append-only, volume), 2+ replicas, nginx and coturn."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    replicas = [name for name in services if name.startswith("companion-")]
    assert len(replicas) >= 2
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--appendfsync always" in redis_command
    assert "redis-data:/data" in services["redis"]["volumes"] and "redis-data" in compose["volumes"]
    ports = set()
    for name in replicas:
        env = services[name]["environment"]
        assert env["REDIS_URL"].startswith("redis://")
        assert "COMPANION_SECRET_KEY" in env and "${" in env["COMPANION_SECRET_KEY"]  # from .env
        ports |= {env["COMPANION_PORT"], env["COMPANION_WS_PORT"]}
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert len(ports) == 2 * len(replicas)  # every replica listens on its own ports
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    for name in replicas:
        env = services[name]["environment"]
        assert f"127.0.0.1:{env['COMPANION_PORT']}" in nginx
        assert f"127.0.0.1:{env['COMPANION_WS_PORT']}" in nginx
    assert "hash $media_session consistent" in nginx and "Upgrade $http_upgrade" in nginx
    assert "./deploy/nginx.conf" in " ".join(services["proxy"]["volumes"])
    turn_conf = (ROOT / "deploy" / "turnserver.conf").read_text()
    assert "use-auth-secret" in turn_conf and "lt-cred-mech" not in turn_conf
    for name in replicas:
        env = services[name]["environment"]
        assert env["COMPANION_ICE_SERVERS"].startswith("turn:")
        assert env["COMPANION_TURN_SECRET"] == "${TURN_SECRET:?set TURN_SECRET in .env}"
        assert env["COMPANION_TRUST_PROXY"] == "1"
        assert "COMPANION_TURN_CREDENTIAL" not in env  # no static password for everyone
    turn = services["turn"]
    assert turn["environment"]["TURN_SECRET"] == "${TURN_SECRET:?set TURN_SECRET in .env}"
    assert "static-auth-secret=$${TURN_SECRET}" in turn["command"][0]
    assert "TURN_SECRET" not in turn["command"][0].split("exec ", 1)[1]  # not in ps
    assert "turn" in services


def test_no_secret_is_committed_in_deployment_files() -> None:
    """Secrets are only referenced (${...} from .env), never written into the files."""
    for path in (ROOT / "docker-compose.yml", ROOT / "Dockerfile", *(ROOT / "deploy").glob("*")):
        text = path.read_text()
        for line in text.splitlines():
            if re.search(r"(SECRET|PASSWORD|secret)\w*\s*[:=]", line) and "${" not in line:
                assert line.strip().startswith("#"), (path, line)


def test_media_route_hash_extracts_the_session_id() -> None:
    """The nginx map sends /whip/<session>/... and /whep/<session>/... of one session to one replica."""
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    pattern = re.search(r"map \$uri \$media_session \{ ~(\S+) \$sid;", nginx).group(1)
    regex = re.compile(pattern.replace("(?<sid>", "(?P<sid>"))
    for uri in (
        "/whip/tema-1-session-2",
        "/whep/tema-1-session-2/abc123",
        "/whip/tema-1-session-2/r/1",
    ):
        assert regex.match(uri).group("sid") == "tema-1-session-2"


def test_nginx_conf_passes_nginx_t_on_this_machines_nginx(tmp_path: Path) -> None:
    """deploy/nginx.conf, with only its paths and ports substituted, passes `nginx -t` on the
    nginx installed here (Debian stable's 1.22: no `http2 on;`)."""
    nginx = NginxProcess(tmp_path, [(free_port(), free_port()), (free_port(), free_port())])
    nginx.prepare()
    result = nginx.test_config()
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_every_upstream_server_comes_back_at_once() -> None:
    """No replica is held back after a restart: max_fails=0 on every upstream server."""
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = re.findall(r"server (127\.0\.0\.1:\d+)([^;]*);", nginx)
    assert len(servers) == 6
    assert all("max_fails=0" in options for _, options in servers), servers
