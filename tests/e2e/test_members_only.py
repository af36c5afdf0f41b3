"""Members-only sessions against real server processes, real WebSocket clients and a real
aiortc viewer: from afar only members who came through their personal link see the
remote page, watch the stream and ask, vote and answer; the room's code admits phones in
the room; a revoked link stops at once, on every process of a Redis pair."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Room, redis_pair, started
from tests.e2e.members import (
    NETWORK,
    SESSION,
    MemberBrowser,
    add_member,
    new_link,
    revoke,
    set_members_only,
)
from tests.e2e.organisers import signed_in
from tests.media.peers import Viewer, http, wait_until
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(120)
REFUSED_SV = "Den här sessionen är bara för nätverkets medlemmar."
REFUSED_EN = "This session is for the network's members only."


async def join(server: ServerProcess, opened: list[Client], **fields: object) -> dict:
    """A join's reply (welcome or error) on a new connection."""
    client = await Client.open(server.ws)
    opened.append(client)
    reply = await client.join(**fields)
    reply["_client"] = client
    return reply


async def closed_within(client: Client, seconds: float) -> bool:
    return await wait_until(lambda: client.closed, seconds)


def test_the_remote_page_admits_only_a_member_through_their_link(server: ServerProcess) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    code = server.access()[SESSION][0]
    stranger = requests.get(
        f"{server.http}/remote/{code}", headers={"accept-language": "sv"}, timeout=10
    )
    assert stranger.status_code == 200  # an open session: anyone with the code
    assert 'id="members-only-note"' not in requests.get(f"{server.http}/j/{code}", timeout=10).text
    set_members_only(anna)
    for lang, text in (("sv", REFUSED_SV), ("en", REFUSED_EN)):
        refused = requests.get(
            f"{server.http}/remote/{code}", headers={"accept-language": lang}, timeout=10
        )
        assert refused.status_code == 403
        assert text in refused.text and "data-member-token" not in refused.text
    # The room page still opens by the code: the room is the check.
    assert requests.get(f"{server.http}/room/{code}", timeout=10).status_code == 200
    # The join page (what the QR code opens) says who gets in from afar.
    join_page = requests.get(
        f"{server.http}/j/{code}", headers={"accept-language": "sv"}, timeout=10
    )
    assert 'id="members-only-note"' in join_page.text
    member_id = add_member(anna, "Åsa Öberg-Ländström", "asa@region.se")
    link = new_link(anna, member_id)
    assert link.startswith(f"{server.http}/m/")
    browser = MemberBrowser(server)
    opened = browser.open_link(link)
    assert opened.status_code == 303 and opened.headers["location"] == f"/networks/{NETWORK}"
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert browser.remote_page(code).status_code == 200
    # A made-up or mangled link opens nothing and says so.
    fake = MemberBrowser(server)
    assert fake.open_link(link[:-3] + "AAA").status_code == 404
    assert fake.remote_page(code).status_code == 403


async def test_realtime_and_the_stream_admit_only_members(
    server: ServerProcess, clients: list[Client]
) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    room = Room(server, clients)
    joined = await join(server, clients, code=room.code, where="remote")  # while still open
    before, before_token = joined["_client"], joined["participant"]["token"]
    watching = Viewer(server.http, SESSION, before_token)
    assert (await watching.start()).status == 201
    assert await wait_until(lambda: watching.pc.connectionState == "connected", 10)
    set_members_only(anna)
    # Made members-only: who follows from afar without a member's link is cut off, page and
    # stream alike, and cannot come back with the code.
    assert await closed_within(before, 3)
    assert await wait_until(lambda: watching.pc.connectionState in ("closed", "failed"), 15)
    await watching.stop(delete=False)
    member_id = add_member(anna, "Bo Ek", "bo@kommun.se")
    browser = MemberBrowser(server)
    browser.open_link(new_link(anna, member_id))
    token = browser.member_token(room.code)

    # Code only, from afar: the join is refused with a protocol error.
    refused = await join(server, clients, code=room.code, where="remote")
    assert refused["type"] == "error" and refused["code"] == "members_only", refused
    again = await join(server, clients, code=room.code, where="remote", token=before_token)
    assert again["type"] == "error" and again["code"] == "members_only", again
    # In the room the code admits, as in any session.
    phone = await room.participant(where="room")
    asked = await phone.request({"type": "ask", "text": "En fråga från rummet"})
    assert asked["type"] == "ack", asked

    # The member, with the token of their remote page.
    welcome = await join(server, clients, code=room.code, where="remote", token=token)
    assert welcome["type"] == "welcome", welcome
    assert welcome["participant"]["id"].startswith(f"m-{member_id}-")
    member = welcome["_client"]
    assert (await member.request({"type": "vote", "question": asked["question"]}))["type"] == "ack"
    mine = await member.request({"type": "ask", "text": "Medlemmens fråga"})
    assert mine["type"] == "ack", mine

    # WHEP: the member's token watches, the room phone's token is refused (403).
    phone_welcome = await join(server, clients, code=room.code, where="room")
    phone_token = phone_welcome["participant"]["token"]
    viewer = Viewer(server.http, SESSION, phone_token)
    answer = await viewer.start()
    assert answer.status == 403 and json.loads(answer.body)["code"] == "members_only", answer.text
    viewer = Viewer(server.http, SESSION, token)
    answer = await viewer.start()
    assert answer.status == 201, answer.text
    await viewer.stop()

    # The report lists the member who took part (members-only sessions only).
    report = await http(
        "GET",
        f"{server.http}/moderate/{SESSION}/report.json",
        token=room.moderator_token,
        content_type=None,
    )
    members = json.loads(report.body)["members"]
    assert [m["name"] for m in members] == ["Bo Ek"], members
    _, other_key = server.access()["tema-1-session-2"]
    other = await http(
        "GET",
        f"{server.http}/moderate/tema-1-session-2/report.json",
        token=other_key,
        content_type=None,
    )
    assert json.loads(other.body)["members"] is None


async def test_a_revoked_link_stops_at_once(server: ServerProcess, clients: list[Client]) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    code = server.access()[SESSION][0]
    set_members_only(anna)
    member_id = add_member(anna, "Ce Ek", "ce@kommun.se")
    browser = MemberBrowser(server)
    browser.open_link(new_link(anna, member_id))
    token = browser.member_token(code)
    welcome = await join(server, clients, code=code, where="remote", token=token)
    member = welcome["_client"]
    viewer = Viewer(server.http, SESSION, token)
    assert (await viewer.start()).status == 201
    assert await wait_until(lambda: viewer.pc.connectionState == "connected", 10)

    revoke(anna, member_id)
    asked = await member.request({"type": "ask", "text": "Efter återkallandet"})
    assert asked.get("code") == "members_only" or member.closed, asked
    assert await closed_within(member, 3)
    assert await wait_until(lambda: viewer.pc.connectionState in ("closed", "failed"), 15)
    await viewer.stop(delete=False)
    again = await join(server, clients, code=code, where="remote", token=token)
    assert again["type"] == "error" and again["code"] == "members_only", again
    assert browser.remote_page(code).status_code == 403
    refused = await Viewer(server.http, SESSION, token).start()
    assert refused.status == 403


async def test_a_revoked_link_stops_on_every_process_on_redis(tmp_path: Path) -> None:
    """Two processes on one redis-server: the member is connected to both; the organiser
    revokes on the first; both connections are refused and closed within moments, and
    neither process lets them back in."""
    opened: list[Client] = []
    with redis_pair(tmp_path) as (_, a, b):
        anna = signed_in(a, "anna@kommun.se", NETWORK)
        code = a.access()[SESSION][0]
        set_members_only(anna)
        member_id = add_member(anna, "Di Ek", "di@kommun.se")
        browser = MemberBrowser(a)
        browser.open_link(new_link(anna, member_id))
        # B takes the edit within half a second (it follows the programme's version): a
        # stranger is refused there too, and the member's page carries their token.
        assert await wait_until(
            lambda: requests.get(f"{b.http}/remote/{code}", timeout=10).status_code == 403, 5
        ), "process B never took the members-only setting"
        token_a = browser.member_token(code, a)
        token_b = browser.member_token(code, b)
        on_a = (await join(a, opened, code=code, where="remote", token=token_a))["_client"]
        on_b = (await join(b, opened, code=code, where="remote", token=token_b))["_client"]
        try:
            started = time.monotonic()
            revoke(anna, member_id)
            # At once: the next action on B (the process that did not revoke) is refused.
            asked = await on_b.request({"type": "ask", "text": "Hinner jag?"})
            assert asked.get("code") == "members_only" or on_b.closed, asked
            assert await closed_within(on_a, 3) and await closed_within(on_b, 3)
            cut_off = time.monotonic() - started
            assert cut_off < 3, cut_off
            for server, token in ((a, token_a), (b, token_b)):
                again = await join(server, opened, code=code, where="remote", token=token)
                assert again["type"] == "error" and again["code"] == "members_only", again
                assert browser.remote_page(code, server).status_code == 403
                whep = await Viewer(server.http, SESSION, token).start()
                assert whep.status == 403
        finally:
            for client in opened:
                await client.close()
        assert "Traceback" not in a.log() + b.log()


async def test_strangers_from_afar_do_not_use_up_the_rooms_new_participants(
    tmp_path: Path,
) -> None:
    """The session's allowance of fresh identities is what phones in the room join with:
    refused remote joins of a members-only session do not spend it."""
    opened: list[Client] = []
    limits = {
        "COMPANION_SESSION_NEW_PARTICIPANT_BURST": "3",
        "COMPANION_SESSION_NEW_PARTICIPANTS_PER_MINUTE": "1",
    }
    with started(ServerProcess(tmp_path, extra_env=limits)) as server:
        anna = signed_in(server, "anna@kommun.se", NETWORK)
        set_members_only(anna)
        code = server.access()[SESSION][0]
        try:
            for _ in range(6):
                refused = await join(server, opened, code=code, where="remote")
                assert refused["code"] == "members_only", refused
            for _ in range(3):
                phone = await join(server, opened, code=code, where="room")
                assert phone["type"] == "welcome", phone
        finally:
            for client in opened:
                await client.close()
