"""One frozen settings object, read from the environment once at start-up.

Every setting has a default that works with no configuration: a database and a secret
key in the user's data directory, HTTP on 127.0.0.1:8000 and realtime on port 8001.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

from platformdirs import user_data_dir


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None
    if not value > 0 or value == float("inf"):
        raise SystemExit(f"{name} must be a positive number of seconds, got {raw!r}")
    return value


def _choice(env: dict[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = (env.get(name) or default).strip().lower()
    if raw not in allowed:
        raise SystemExit(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration of one Companion process."""

    host: str = "127.0.0.1"
    port: int = 8000
    ws_port: int = 8001
    data_dir: Path = Path(user_data_dir("companion", appauthor=False))
    database: str = ""
    secret_key: str = ""
    public_url: str = ""
    public_ws_url: str = ""
    sqlite_synchronous: str = "NORMAL"
    max_message_bytes: int = 8192
    send_buffer_limit: int = 1 << 20
    question_burst: int = 3
    questions_per_minute: int = 6
    vote_burst: int = 20
    votes_per_second: int = 5
    coalesce_ms: int = 100
    # Connections in a session from which its participants are flushed a lane at a time
    # (companion.realtime.delivery); tests lower it to exercise big sessions.
    lanes_from: int = 1000
    keepalive_seconds: float = 20.0  # ping interval; silent for two of them: closed
    # Minutes an audience may wait with no question answered before the console nudges
    # (issue 19); 0 switches the nudge off.
    fairness_nudge_minutes: int = 20
    # Days after a meeting its sessions' personal data is deleted (0: never by itself);
    # a network may set its own (companion.services.retention).
    retention_days: int = 90
    replay_events: int = 5000
    token_days: int = 30
    redis_url: str = ""
    allowed_origins: str = ""
    word_filter: str = "default"
    messages_per_second: int = 20
    message_burst: int = 40
    trust_proxy: bool = False
    max_connections_per_address: int = 4000
    max_http_connections_per_address: int = 1000
    address_share: int = 25  # percent of the connection budget one address may hold per port
    request_timeout: int = 5  # seconds for a request (or a WebSocket handshake) to arrive
    connect_burst: int = 2000
    connects_per_second: int = 100
    # A venue's Wi-Fi puts a whole room behind one address: 2,000 may join at once.
    new_participant_burst: int = 2000
    new_participants_per_minute: int = 600
    session_new_participant_burst: int = 5000
    session_new_participants_per_minute: int = 1000
    # Live stream (companion/media): STUN/TURN URLs, space-separated ("" = host candidates
    # only, enough on a LAN or a server with a public address), TURN credentials, viewers
    # per session, and the video bitrate (0: from the picture size). With a TURN secret
    # (coturn's static-auth-secret), every participant gets its own TURN credential that
    # expires after turn_ttl seconds (the TURN REST scheme) instead of one static password.
    ice_servers: str = ""
    turn_username: str = ""
    turn_credential: str = ""
    turn_secret: str = ""
    turn_ttl: int = 12 * 3600
    stream_max_viewers: int = 200
    stream_kbps: int = 0
    # Who answers for the personal data and the accessibility of this installation, as
    # the privacy notice and the accessibility statement name them. Empty: the pages say
    # "the organisation that runs the meeting" and "contact whoever organises the meeting".
    controller_name: str = ""
    controller_contact: str = ""  # an e-mail address, a https:// address or plain text
    accessibility_contact: str = ""  # empty: controller_contact
    accessibility_updated: str = ""  # the statement's "last updated" date; empty: not shown
    # Mail for members' personal links (companion.member_mail); no host: links are only
    # copied from the members page. "starttls" upgrades a plain connection, "tls" starts
    # with TLS (port 465), "none" neither (a relay on the same machine).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""

    @property
    def base_url(self) -> str:
        """Where people reach the pages."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Where pages open the realtime WebSocket."""
        return self.public_ws_url or f"ws://{self.host}:{self.ws_port}/ws"

    def with_secret(self) -> Settings:
        """These settings with a secret key: configured, or kept in the data directory."""
        if self.secret_key:
            return self
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write-then-rename so two processes starting together agree on one key.
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            if not path.exists():
                tmp.replace(path)
            else:
                tmp.unlink()
        return replace(self, secret_key=path.read_text().strip())


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings from COMPANION_* environment variables, with defaults for the rest."""
    env = dict(os.environ if env is None else env)
    defaults = Settings()
    data_dir = Path(env.get("COMPANION_DATA_DIR") or defaults.data_dir)
    database = env.get("COMPANION_DATABASE") or str(data_dir / "companion.db")
    settings = Settings(
        host=env.get("COMPANION_HOST") or defaults.host,
        port=_int(env, "COMPANION_PORT", defaults.port),
        ws_port=_int(env, "COMPANION_WS_PORT", defaults.ws_port),
        data_dir=data_dir,
        database=database,
        secret_key=env.get("COMPANION_SECRET_KEY", ""),
        public_url=env.get("COMPANION_PUBLIC_URL", ""),
        public_ws_url=env.get("COMPANION_PUBLIC_WS_URL", ""),
        sqlite_synchronous=env.get("COMPANION_SQLITE_SYNCHRONOUS") or "NORMAL",
        max_message_bytes=_int(env, "COMPANION_MAX_MESSAGE_BYTES", defaults.max_message_bytes),
        question_burst=_int(env, "COMPANION_QUESTION_BURST", defaults.question_burst),
        questions_per_minute=_int(
            env, "COMPANION_QUESTIONS_PER_MINUTE", defaults.questions_per_minute
        ),
        vote_burst=_int(env, "COMPANION_VOTE_BURST", defaults.vote_burst),
        votes_per_second=_int(env, "COMPANION_VOTES_PER_SECOND", defaults.votes_per_second),
        coalesce_ms=_int(env, "COMPANION_COALESCE_MS", defaults.coalesce_ms),
        lanes_from=_int(env, "COMPANION_LANES_FROM", defaults.lanes_from),
        keepalive_seconds=_float(env, "COMPANION_KEEPALIVE_SECONDS", defaults.keepalive_seconds),
        retention_days=_int(env, "COMPANION_RETENTION_DAYS", defaults.retention_days),
        fairness_nudge_minutes=_int(
            env, "COMPANION_FAIRNESS_NUDGE_MINUTES", defaults.fairness_nudge_minutes
        ),
        replay_events=_int(env, "COMPANION_REPLAY_EVENTS", defaults.replay_events),
        redis_url=env.get("REDIS_URL") or env.get("COMPANION_REDIS_URL", ""),
        allowed_origins=env.get("COMPANION_ALLOWED_ORIGINS", ""),
        word_filter=env.get("COMPANION_WORD_FILTER", "default"),
        messages_per_second=_int(
            env, "COMPANION_MESSAGES_PER_SECOND", defaults.messages_per_second
        ),
        message_burst=_int(env, "COMPANION_MESSAGE_BURST", defaults.message_burst),
        trust_proxy=env.get("COMPANION_TRUST_PROXY", "").lower() in ("1", "true", "yes"),
        max_connections_per_address=_int(
            env, "COMPANION_MAX_CONNECTIONS_PER_ADDRESS", defaults.max_connections_per_address
        ),
        max_http_connections_per_address=_int(
            env,
            "COMPANION_MAX_HTTP_CONNECTIONS_PER_ADDRESS",
            defaults.max_http_connections_per_address,
        ),
        request_timeout=_int(env, "COMPANION_REQUEST_TIMEOUT", defaults.request_timeout),
        address_share=_int(env, "COMPANION_ADDRESS_SHARE", defaults.address_share),
        connect_burst=_int(env, "COMPANION_CONNECT_BURST", defaults.connect_burst),
        connects_per_second=_int(
            env, "COMPANION_CONNECTS_PER_SECOND", defaults.connects_per_second
        ),
        new_participant_burst=_int(
            env, "COMPANION_NEW_PARTICIPANT_BURST", defaults.new_participant_burst
        ),
        new_participants_per_minute=_int(
            env, "COMPANION_NEW_PARTICIPANTS_PER_MINUTE", defaults.new_participants_per_minute
        ),
        session_new_participant_burst=_int(
            env, "COMPANION_SESSION_NEW_PARTICIPANT_BURST", defaults.session_new_participant_burst
        ),
        session_new_participants_per_minute=_int(
            env,
            "COMPANION_SESSION_NEW_PARTICIPANTS_PER_MINUTE",
            defaults.session_new_participants_per_minute,
        ),
        send_buffer_limit=_int(env, "COMPANION_SEND_BUFFER_LIMIT", defaults.send_buffer_limit),
        ice_servers=env.get("COMPANION_ICE_SERVERS", ""),
        turn_username=env.get("COMPANION_TURN_USERNAME", ""),
        turn_credential=env.get("COMPANION_TURN_CREDENTIAL", ""),
        turn_secret=env.get("COMPANION_TURN_SECRET", ""),
        turn_ttl=_int(env, "COMPANION_TURN_TTL", defaults.turn_ttl),
        stream_max_viewers=_int(env, "COMPANION_STREAM_MAX_VIEWERS", defaults.stream_max_viewers),
        stream_kbps=_int(env, "COMPANION_STREAM_KBPS", defaults.stream_kbps),
        controller_name=env.get("COMPANION_CONTROLLER_NAME", "").strip(),
        controller_contact=env.get("COMPANION_CONTROLLER_CONTACT", "").strip(),
        accessibility_contact=env.get("COMPANION_ACCESSIBILITY_CONTACT", "").strip(),
        accessibility_updated=env.get("COMPANION_ACCESSIBILITY_UPDATED", "").strip(),
        smtp_host=env.get("COMPANION_SMTP_HOST", "").strip(),
        smtp_port=_int(env, "COMPANION_SMTP_PORT", defaults.smtp_port),
        smtp_security=_choice(
            env, "COMPANION_SMTP_SECURITY", ("starttls", "tls", "none"), defaults.smtp_security
        ),
        smtp_user=env.get("COMPANION_SMTP_USER", ""),
        smtp_password=env.get("COMPANION_SMTP_PASSWORD", ""),
        smtp_from=env.get("COMPANION_SMTP_FROM", "").strip(),
    )
    return settings
