"""The organiser's front door and a settings change against two processes on one Redis:
an account made through one process signs in on the other, attempts count on both, and
a change made through one process reaches the clients of the other at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import SESSION, redis_pair
from tests.e2e.organisers import Organiser, add_organiser
from tests.serverproc import ServerProcess
from tests.wsclient import Client

NETWORK = "ledarskap-och-innovation"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A redis-server and two server processes sharing it, with the demo programme."""
    with redis_pair(tmp_path) as (_, a, b):
        yield a, b
    for server in (a, b):
        assert "Traceback" not in server.log(), server.log()


async def test_signin_and_a_settings_change_across_two_processes(cluster) -> None:
    """Account and password made through A sign in on B; the cookie of one process works
    on the other and sign-out ends it on both; a settings change and a new moderator link
    made on B reach a phone and a console on A; the audit written on B is read on A."""
    a, b = cluster
    link = add_organiser(a, "anna@kommun.se", NETWORK)
    on_a = Organiser(a).use_link(link)
    on_b = Organiser(b)
    assert on_b.sign_in("anna@kommun.se").status_code == 303
    # The same cookie on the other process.
    crossed = Organiser(a)
    crossed.http.cookies.update(on_b.http.cookies)
    assert crossed.get("/organise").status_code == 200

    code, key = a.access()[SESSION]
    phone = await Client.open(a.ws)
    console = await Client.open(a.ws)
    try:
        assert (await phone.join(code=code, where="room"))["type"] == "welcome"
        assert (await console.join(role="moderator", session=SESSION, moderator_token=key))[
            "type"
        ] == "welcome"
        saved = on_b.post(
            f"/organise/sessions/{SESSION}/settings",
            {"word_filter": "on", "stream": "on", "extra_words": "skatt*"},
        )
        assert saved.status_code == 303, saved.text[:500]
        seen = await phone.wait_for(
            lambda m: m["type"] == "session" and m["session"]["anonymous"] is False, timeout=10
        )
        assert seen["session"]["stream_enabled"] is True
        refused = await phone.request({"type": "ask", "text": "Utan namn?"})
        assert refused["code"] == "name_required"
        held = await phone.request({"type": "ask", "text": "Och skatterna?", "name": "Bo"})
        assert held["type"] == "ack"
        question = await console.wait_for(
            lambda m: (
                m["type"] == "questions"
                and any(q["text"] == "Och skatterna?" for q in m["questions"])
            ),
            timeout=10,
        )
        assert [q["status"] for q in question["questions"] if q["text"] == "Och skatterna?"] == [
            "pending"
        ]
        # A new moderator link made on B closes the console on A.
        assert on_b.post(f"/organise/sessions/{SESSION}/moderator-link").status_code == 303
        for _ in range(100):
            if console.closed:
                break
            await asyncio.sleep(0.1)
        assert console.closed and console.ws.close_code == 4003
    finally:
        await phone.close()
        await console.close()
    audit = on_a.get(f"/organise/networks/{NETWORK}/audit").text
    assert 'data-what="session.moderator_link"' in audit
    assert 'data-what="session.settings"' in audit
    # Sign-out on B ends the sign-in on A as well.
    assert on_b.post("/organise/signout").status_code == 303
    assert crossed.get("/organise").status_code == 303


def test_signin_attempts_count_on_every_process(cluster) -> None:
    """Failed attempts through A and B add up: the sixth is refused on either."""
    a, b = cluster
    Organiser(a).use_link(add_organiser(a, "anna@kommun.se", NETWORK))
    for server in (a, b, a, b, a):
        assert Organiser(server).sign_in("anna@kommun.se", "fel lösenord").status_code == 401
    assert Organiser(b).sign_in("anna@kommun.se").status_code == 429
    assert Organiser(a).sign_in("anna@kommun.se").status_code == 429
