"""The Origin policy of the realtime WebSocket and of form posts, and the
Content-Security-Policy's `connect-src` (companion/web/security.py), for the local default
and a public URL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from companion.settings import load_settings
from companion.web.security import OriginPolicy, SecurityHeaders, connect_sources, origin_of

LOCAL = replace(load_settings({}), port=8000, ws_port=8001)
PUBLIC = replace(
    LOCAL,
    public_url="https://companion.example.se/",
    public_ws_url="wss://companion.example.se/ws",
    allowed_origins="https://Program.Example.se:443, http://intranet.example.se:8080",
)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Companion.Example.se/", "https://companion.example.se"),
        ("https://companion.example.se:443/x", "https://companion.example.se"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("wss://companion.example.se/ws", "wss://companion.example.se"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("null", None),
        ("file:///etc/passwd", None),
        ("http://x:99999", None),
        ("", None),
    ],
)
def test_origin_of_serialises_like_a_browser(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    ("origins", "host", "allowed"),
    [
        ([], ["127.0.0.1:8001"], True),  # not a browser
        (["http://127.0.0.1:8000"], ["127.0.0.1:8001"], True),
        (["http://localhost:8000"], ["localhost:8001"], True),
        (["http://[::1]:8000"], ["[::1]:8001"], True),
        (["http://192.168.1.10:8000"], ["192.168.1.10:8001"], True),  # a LAN, by address
        (["https://127.0.0.1:8000"], ["127.0.0.1:8001"], True),
        # DNS rebinding: the attacker's name now points at this machine.
        (["http://rebind.example:8000"], ["rebind.example:8001"], False),
        (["http://localhost.rebind.example:8000"], ["localhost.rebind.example:8001"], False),
        (["http://127.0.0.1:3000"], ["127.0.0.1:8001"], False),  # another local server
        (["http://127.0.0.1:8000"], ["localhost:8001"], False),  # not the host it opened
        (["http://evil.example"], ["127.0.0.1:8001"], False),
        (["null"], ["127.0.0.1:8001"], False),
        (["http://127.0.0.1:8000", "http://127.0.0.1:8000"], ["127.0.0.1:8001"], False),
        (["http://127.0.0.1:8000"], [], False),
        (["http://127.0.0.1:8000"], ["127.0.0.1:8001", "127.0.0.1:8001"], False),
        (["http://127.0.0.1:8000"], ["127.0.0.1:notaport"], False),
    ],
)
def test_without_a_public_url_only_our_own_pages_by_address_may_connect(
    origins: list[str], host: list[str], allowed: bool
) -> None:
    assert OriginPolicy(LOCAL).allows(origins, host) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://companion.example.se", True),
        ("https://COMPANION.example.se:443", True),
        ("https://program.example.se", True),
        ("http://intranet.example.se:8080", True),
        ("http://companion.example.se", False),  # not the scheme of the public URL
        ("https://companion.example.se:8443", False),
        ("https://evil.companion.example.se", False),
        ("http://127.0.0.1:8000", False),  # the local default no longer applies
        ("null", False),
    ],
)
def test_with_a_public_url_exactly_its_origin_and_the_listed_ones_may_connect(
    origin: str, allowed: bool
) -> None:
    assert OriginPolicy(PUBLIC).allows([origin], ["companion.example.se"]) is allowed


@pytest.mark.parametrize(
    ("origin", "page", "allowed"),
    [
        (None, "http://127.0.0.1:8000/organise", True),  # not a browser
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/organise", True),
        ("http://Moten.Example.org", "http://moten.example.org/organise", True),  # any name
        ("http://moten.example.org:80", "http://moten.example.org/organise", True),
        ("http://moten.example.org", "http://moten.example.org:80/organise", True),
        ("https://moten.example.org", "http://moten.example.org/organise", False),
        ("http://127.0.0.1:3000", "http://127.0.0.1:8000/organise", False),
        ("https://evil.example", "http://127.0.0.1:8000/organise", False),
        ("null", "http://127.0.0.1:8000/organise", False),  # sandboxes, redirects
    ],
)
def test_a_form_without_a_public_url_comes_from_the_page_it_was_posted_to(
    origin: str | None, page: str, allowed: bool
) -> None:
    assert OriginPolicy(LOCAL).allows_form(origin, page) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://companion.example.se", True),
        ("https://program.example.se", True),  # listed as https://Program.Example.se:443
        ("http://intranet.example.se:8080", True),
        ("http://127.0.0.1:8000", False),  # the page it was posted to no longer counts
        ("null", False),
    ],
)
def test_a_form_with_a_public_url_comes_from_exactly_the_configured_origins(
    origin: str, allowed: bool
) -> None:
    assert OriginPolicy(PUBLIC).allows_form(origin, "http://127.0.0.1:8000/organise") is allowed


def test_connect_src_names_the_realtime_host_exactly() -> None:
    """No wildcard: the public WebSocket origin, or the page's own host on the realtime port."""
    assert connect_sources(PUBLIC, "companion.example.se") == "wss://companion.example.se"
    assert connect_sources(LOCAL, "127.0.0.1:8000") == "ws://127.0.0.1:8001 wss://127.0.0.1:8001"
    assert connect_sources(LOCAL, "[::1]:8000") == "ws://[::1]:8001 wss://[::1]:8001"
    assert connect_sources(LOCAL, "Companion.Local:8000") == (
        "ws://companion.local:8001 wss://companion.local:8001"
    )
    for junk in (None, "", "a b", "x;script-src *", "*:8000", "[zz]:1"):
        assert connect_sources(LOCAL, junk) == "", junk
    policy = SecurityHeaders(lambda *a: None, LOCAL).policy("x;script-src *")  # type: ignore[arg-type]
    assert "connect-src 'self';" in policy and "*" not in policy
