"""Fuzzing the HTTP routes of a real server with hypothesis: random paths under every route
prefix, random methods, random, huge and non-ASCII headers (Authorization among them) and
random bodies and content types for the POST and PATCH routes (report, WHIP, WHEP, trickle),
sent as raw bytes on a socket. Never a 5xx, never a traceback, and the server stays healthy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import SESSION, started
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(170)


def raw_request(
    port: int, method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int | None, bytes]:
    """Send one request exactly as given; the status (None if the server sent nothing) and body."""
    head = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    head += [name + b": " + value for name, value in headers]
    if body or method in (b"POST", b"PATCH", b"PUT"):
        head.append(b"Content-Length: %d" % len(body))
    data = b"\r\n".join(head) + b"\r\n\r\n" + body
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        # The server may answer (413, 400) and close before reading everything.
        with contextlib.suppress(OSError):
            sock.sendall(data)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received += chunk
    if not received.startswith(b"HTTP/1.1 "):
        return None, received
    status = int(received[9:12])
    _, _, payload = received.partition(b"\r\n\r\n")
    return status, payload


def sdp_offer() -> str:
    """A real SDP offer (aiortc), to publish with."""

    async def make() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


class Target:
    """The fuzzed server and the real secrets and resources that let requests get deep."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.code, self.moderator_token = server.access()[SESSION]
        self.stream_key = json.loads(
            self.get("/api/stream/" + SESSION, {"Authorization": f"Bearer {self.moderator_token}"})
        )["stream_key"]
        self.participant_token = asyncio.run(self._participant())
        self.offer = sdp_offer()
        self._resource: tuple[str, float] = ("none", 0.0)

    async def _participant(self) -> str:
        client = await Client.open(self.server.ws)
        welcome = await client.join(code=self.code)
        await client.close()
        return welcome["participant"]["token"]

    def get(self, path: str, headers: dict[str, str] | None = None) -> bytes:
        """A plain GET."""
        request = urllib.request.Request(self.server.http + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def forget_resource(self) -> None:
        """The resource may have been deleted: make a new one next time."""
        self._resource = (self._resource[0], 0.0)

    def resource(self) -> str:
        """The id of a live WHIP resource (publishers that never send are dropped after 20 s)."""
        rid, created = self._resource
        if time.monotonic() - created > 12:
            for path in (f"/whip/{SESSION}/{rid}",):
                raw_request(
                    self.server.port,
                    b"DELETE",
                    path.encode(),
                    [(b"Authorization", b"Bearer " + self.stream_key.encode())],
                    b"",
                )
            request = urllib.request.Request(
                f"{self.server.http}/whip/{SESSION}",
                data=self.offer.encode(),
                method="POST",
                headers={
                    "Authorization": f"Bearer {self.stream_key}",
                    "Content-Type": "application/sdp",
                },
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 201
                rid = response.headers["location"].rsplit("/", 1)[1]
            self._resource = (rid, time.monotonic())
        return rid


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One server for every example."""
    env = {"COMPANION_CONNECT_BURST": "100000", "COMPANION_NEW_PARTICIPANT_BURST": "1000"}
    with started(ServerProcess(tmp_path_factory.mktemp("fuzz-http"), extra_env=env)) as server:
        yield Target(server)
    log = server.log()
    assert "Traceback" not in log, log


SEGMENTS = st.one_of(
    st.sampled_from(
        [
            SESSION,
            "ledarskap-2020-05-15",
            "",
            ".",
            "..",
            "%2e%2e",
            "..%2f..%2fcompanion%2fsettings.py",
            "%00",
            "%ff%fe",
            "%",
            "html",
            "json",
            "zip",
            "sv",
            "en",
            "A" * 5000,
            "\u00e5\u00e4\u00f6",
            "<script>",
        ]
    ),
    st.text(max_size=30).map(lambda t: urllib.parse.quote(t, safe="")),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#"),
        max_size=20,
    ),
)
TEMPLATES = [
    "/moderate/{s}/report.{f}",
    "/moderate/{s}",
    "/whip/{s}",
    "/whip/{s}/{r}",
    "/whep/{s}",
    "/whep/{s}/{r}",
    "/whip-stage/{s}",
    "/whip-stage/{s}/{r}",
    "/whep-room-audio/{s}",
    "/whep-room-audio/{s}/{r}",
    "/api/stream/{s}",
    "/api/sessions/{c}",
    "/qr/{c}.svg",
    "/i18n/{f}.json",
    "/j/{c}",
    "/room/{c}",
    "/remote/{c}",
    "/screen/{c}",
    "/camera/{s}",
    "/static/{s}/{f}",
    "/static/js/{f}",
    "/healthz",
    "/healthz/media",
    "/",
    "/{s}/{c}",
]
METHODS = st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"HEAD"])
CONTENT_TYPES = st.sampled_from(
    [
        b"application/sdp",
        b"application/x-www-form-urlencoded",
        b"application/trickle-ice-sdpfrag",
        b"application/json",
        b"multipart/form-data; boundary=xyz",
        b"text/plain; charset=utf-16",
        b"APPLICATION/SDP; charset=latin-1",
        b"",
    ]
)
# Header values as browsers and scripts send them: printable text, UTF-8 beyond ASCII.
HEADER_VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=200).map(
    lambda v: v.encode("utf-8")
)
HEADER_NAME = st.text(
    alphabet=st.characters(
        min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=':()<>@,;\\"/[]?={}'
    ),
    min_size=1,
    max_size=20,
).map(str.encode)
# Now and then, bytes that are not HTTP at all (the parser refuses those with 400).
RAW = st.binary(min_size=1, max_size=30)
SDP_LINES = st.sampled_from(
    [
        "v=0",
        "o=- 0 0 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        "a=rtpmap:96 VP8/90000",
        "a=rtpmap:96 H264/90000",
        "a=fmtp:96 profile-level-id=ffffff",
        "a=sendonly",
        "a=recvonly",
        "a=mid:0",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:0123456789012345678901",
        "a=fingerprint:sha-256 00:11",
        "a=setup:actpass",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host",
        "a=candidate:x",
        "a=candidate:1 1 tcp 1 ::1 99999 typ relay raddr x rport y",
        "a=end-of-candidates",
        "a=group:BUNDLE 0 1",
        "a=ssrc:1 cname:x",
    ]
) | st.text(max_size=60).map(lambda t: t.replace("\r", "").replace("\n", ""))


# Requests that reach the handlers' real work: the right method, session and content type.
DEEP = [
    (b"POST", "/whip/{session}", b"application/sdp", "stream_key"),
    (b"POST", "/whep/{session}", b"application/sdp", "participant"),
    (b"POST", "/whep/{code}", b"application/sdp", "participant"),
    (b"PATCH", "/whip/{session}/{resource}", b"application/trickle-ice-sdpfrag", "stream_key"),
    (b"DELETE", "/whip/{session}/{resource}", None, "stream_key"),
    (b"POST", "/moderate/{session}/report.json", b"application/x-www-form-urlencoded", "none"),
    (b"POST", "/moderate/{session}/report.html", b"application/x-www-form-urlencoded", "none"),
    (b"GET", "/moderate/{session}/report.zip", None, "moderator"),
    (b"GET", "/api/stream/{session}", None, "moderator"),
    (b"GET", "/api/sessions/{code}", None, "none"),
    (b"GET", "/qr/{code}.svg", None, "none"),
    (b"GET", "/room/{code}", None, "none"),
    (b"GET", "/?code={segment}", None, "none"),
]


@st.composite
def requests(draw: st.DrawFn, secrets: dict[str, Callable[[], str]]) -> dict:
    """One request: method, target, headers and body; half of them aimed at a handler's work."""
    deep = draw(st.booleans())
    if deep:
        method, path, content_type, preferred = draw(st.sampled_from(DEEP))
        path = path.replace("{session}", SESSION).replace(
            "{segment}", urllib.parse.quote(draw(st.text(max_size=20)), safe="")
        )
    else:
        method, content_type, preferred = draw(METHODS), None, "none"
        path = draw(st.sampled_from(TEMPLATES)).format(
            s=draw(SEGMENTS),
            c=draw(st.sampled_from(["{code}", "{code_lower}"]) | SEGMENTS),
            f=draw(SEGMENTS),
            r=draw(st.sampled_from(["{resource}"]) | SEGMENTS),
        )
        if draw(st.booleans()):
            query = draw(
                st.dictionaries(st.sampled_from(["code", "key", "x"]), st.text(max_size=20))
            )
            path += "?" + urllib.parse.urlencode(query)

    headers: list[tuple[bytes, bytes]] = []
    auth = draw(
        st.sampled_from([preferred] * 4 + ["moderator", "stream_key", "participant", "none"])
        | HEADER_VALUE.map(lambda v: v.decode("utf-8"))
    )
    if auth in secrets:
        scheme = draw(st.sampled_from([b"Bearer "] * 4 + [b"bearer  ", b"Basic "]))
        headers.append((b"Authorization", scheme + secrets[auth]().encode()))
    elif auth != "none":
        headers.append((b"Authorization", auth.encode("utf-8")))
    if content_type is not None and draw(st.integers(0, 4)):
        headers.append((b"Content-Type", content_type))
    elif draw(st.booleans()):
        headers.append((b"Content-Type", draw(CONTENT_TYPES | HEADER_VALUE)))
    if method == b"PATCH" and draw(st.integers(0, 3)):
        headers.append((b"If-Match", b"*"))
    headers += draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    [b"Accept-Language", b"Cookie", b"If-Match", b"Origin", b"X-Forwarded-For"]
                )
                | HEADER_NAME,
                HEADER_VALUE
                | st.sampled_from([b"sv;q=nan, en;q=inf", b"*", b"lang=xx", b"\xff\xfe"]),
            ),
            max_size=4,
        )
    )
    if draw(st.integers(0, 20)) == 0:
        headers.append((b"X-Huge", b"h" * draw(st.integers(8_000, 200_000))))
    if draw(st.integers(0, 9)) == 0:  # malformed on purpose: method, header name or value
        where = draw(st.sampled_from(["method", "name", "value"]))
        if where == "method":
            method = draw(RAW.filter(lambda m: not set(m) & set(b" \r\n")))
        else:
            raw = draw(RAW.map(lambda v: v.replace(b"\r", b"").replace(b"\n", b"")))
            headers.append((raw or b"x", b"x") if where == "name" else (b"X-Raw", raw))

    kinds = ["none", "bytes", "sdp", "form", "huge"]
    if deep and content_type is not None:  # mostly the kind of body the route reads
        kinds += ["sdp", "sdp", "sdp"] if b"sdp" in content_type else ["form", "form", "form"]
    body_kind = draw(st.sampled_from(kinds))
    body = b""
    if body_kind == "bytes":
        body = draw(st.binary(max_size=2000))
    elif body_kind == "sdp":
        body = "\r\n".join(draw(st.lists(SDP_LINES, max_size=30))).encode()
    elif body_kind == "form":
        key = draw(st.sampled_from(["moderator", "stream_key"]) | st.text(max_size=50))
        key = secrets[key]() if key in secrets else key
        body = urllib.parse.urlencode({"key": key, draw(st.text(max_size=5)): "x"}).encode()
    elif body_kind == "huge":
        body = b"k" * draw(st.integers(60_000, 300_000))
    return {"method": method, "path": path, "headers": headers, "body": body}


def resolve(text: str, target: Target) -> str:
    """Fill in the real secrets and ids a request names."""
    for name, value in (
        ("{code}", lambda: target.code),
        ("{code_lower}", lambda: target.code.lower()),
        ("{resource}", target.resource),
    ):
        if name in text:
            text = text.replace(name, value())
    return text


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_request_gets_a_5xx_or_a_traceback(target: Target, data: st.DataObject) -> None:
    """Any method, path, headers and body: a 1xx-4xx answer (or none for malformed HTTP), never a
    5xx or a stack trace, and /healthz answers afterwards."""
    secrets = {
        "moderator": lambda: target.moderator_token,
        "stream_key": lambda: target.stream_key,
        "participant": lambda: target.participant_token,
    }
    request = data.draw(requests(secrets))
    path = resolve(request["path"], target).encode("utf-8", "surrogateescape")
    status, payload = raw_request(
        target.server.port, request["method"], path, request["headers"], request["body"]
    )
    if request["method"] == b"DELETE" and "{resource}" in request["path"]:
        target.forget_resource()
    event(f"{request['method'].decode('latin-1')} {request['path'].split('/')[1]} -> {status}")
    assert status is None or status < 500, (status, payload[:300])
    assert b"Traceback" not in payload and b'File "' not in payload, payload[:500]
    assert json.loads(target.get("/healthz"))["ok"] is True


def test_static_files_stay_inside_static(target: Target) -> None:
    """Path traversal in any spelling never serves a file from outside static/."""
    for path in (
        b"/static/../companion/settings.py",
        b"/static/%2e%2e/companion/settings.py",
        b"/static/..%2fcompanion%2fsettings.py",
        b"/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
        b"/static/js/../../companion/app.py",
        b"/static//etc/passwd",
        b"/static/..\\companion\\settings.py",
        b"/i18n/..%2f..%2fcompanion%2fsettings.json",
    ):
        status, payload = raw_request(target.server.port, b"GET", path, [], b"")
        assert status in (400, 404), (path, status)
        assert b"secret" not in payload and b"root:" not in payload, path
