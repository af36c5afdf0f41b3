"""Hybrid fairness in the moderator console, in real Chromium against a real server: the
balanced order of the live questions and the nudge when an audience has waited too long.

Participants are WebSocket clients in the room and at home; the expected order comes from
the domain function (companion.domain.fairness) applied to what the server sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from companion.domain.fairness import balanced_order
from companion.domain.questions import Question, QuestionStatus
from companion.web.i18n import translator
from tests.e2e.browser import TABLET, axe_violations, new_page, screenshot
from tests.e2e.conftest import Room, console_ready, open_console, started
from tests.serverproc import ServerProcess
from tests.wsclient import Client

SV_T = translator("sv")  # new_page opens pages with a Swedish locale
expect.set_options(timeout=8_000)


async def ask(client: Client, text: str) -> int:
    ack = await client.request({"type": "ask", "text": text})
    assert ack["type"] == "ack", ack
    return ack["question"]


async def vote(client: Client, qid: int) -> None:
    ack = await client.request({"type": "vote", "question": qid})
    assert ack["type"] == "ack" and ack["voted"], ack


async def dom_order(page: Page) -> list[int]:
    return [
        int(i)
        for i in await page.locator("#queue li.question").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    ]


async def presence(page: Page, room: int, remote: int) -> None:
    await expect(page.locator("#count-room")).to_have_text(str(room))
    await expect(page.locator("#count-remote")).to_have_text(str(remote))


async def order_becomes(page: Page, want: list[int]) -> None:
    """Wait (up to 8 s, like the expect timeout) until the queue's rows are in this order."""
    deadline = time.monotonic() + 8
    while (got := await dom_order(page)) != want:
        assert time.monotonic() < deadline, (got, want)
        await asyncio.sleep(0.05)


def expected(views: dict[int, dict], votes: dict[int, int], room: int, remote: int) -> list[int]:
    """The balanced order the domain function gives for these questions and audiences."""
    questions = [
        Question(
            id=qid,
            text=v["text"],
            name=None,
            author="",
            where=v["where"],
            item_id=None,
            asked_at=v["asked_at"],
            status=QuestionStatus(v["status"]),
            voters={f"{qid}-{i}" for i in range(votes[qid])},
        )
        for qid, v in views.items()
    ]
    return [q.id for q in balanced_order(questions, {"room": room, "remote": remote})]


async def test_balanced_order_weighs_votes_by_audience_present(chrome: Browser, room: Room) -> None:
    """Two in the room and four at home: the room's question with 2 votes (1 per person)
    goes before the remote one with 3 (0.75), the audiences take turns, and each row shows
    its audience's size; when two more join the room, the remote question leads again."""
    page = await open_console(chrome, room)
    await console_ready(page)
    moderator = await room.moderator()
    r1, r2 = [await room.participant("room") for _ in range(2)]
    m1, m2, m3, m4 = [await room.participant("remote") for _ in range(4)]
    await presence(page, 2, 4)

    qa = await ask(m1, "Hur når ni dem som deltar på distans?")
    qb = await ask(r1, "Vilka chefer var med i arbetet?")
    qc = await ask(m2, "Finns materialet på webben?")
    qd = await ask(r2, "Hur lång tid tog förändringen?")
    backers = {qa: [m2, m3, m4], qb: [r2, m3], qc: [m1, r1], qd: []}
    for qid, clients in backers.items():
        for client in clients:
            await vote(client, qid)
    votes = {qid: len(clients) for qid, clients in backers.items()}
    seen = await moderator.wait_for(
        lambda m: (
            m["type"] == "counts"
            and all(m["counts"].get(str(q)) == n for q, n in votes.items() if n)
        )
    )
    assert seen
    views: dict[int, dict] = {}
    for m in moderator.messages:
        if m["type"] in ("questions", "snapshot"):
            for view in m["questions"]:
                views[view["id"]] = view
    views = {qid: views[qid] for qid in votes}

    # Most votes first (2 and 2: the older question first).
    await expect(page.locator("#queue li.question")).to_have_count(4)
    await expect(page.locator(f"#queue li.question[data-id='{qa}'] .q-votes")).to_have_text("3")
    assert await dom_order(page) == [qa, qb, qc, qd]
    await expect(page.locator("#queue-order [data-order=votes]")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.locator(".q-audience").first).to_be_hidden()

    await page.get_by_role("button", name=SV_T("moderator.order_balanced")).click()
    await expect(page.locator("#queue-order [data-order=balanced]")).to_have_attribute(
        "aria-pressed", "true"
    )
    want = expected(views, votes, room=2, remote=4)
    assert want == [qb, qa, qd, qc]  # the room's 2 of 2 outweigh the remote 3 of 4
    await order_becomes(page, want)
    room_size = SV_T.count("moderator.audience_present", 2)
    remote_size = SV_T.count("moderator.audience_present", 4)
    assert room_size == "2 närvarande"
    for qid, size in ((qb, room_size), (qd, room_size), (qa, remote_size), (qc, remote_size)):
        row = page.locator(f"#queue li.question[data-id='{qid}']")
        await expect(row.locator(".q-audience")).to_have_text(size)
    assert await axe_violations(page) == []
    await screenshot(page, "moderator-balanced")

    # Two more in the room: 2 of 4 (0.5) now weigh less than 3 of 4 at home.
    await room.participant("room")
    await room.participant("room")
    await presence(page, 4, 4)
    want = expected(views, votes, room=4, remote=4)
    assert want == [qa, qb, qc, qd]
    await order_becomes(page, want)
    await expect(page.locator(f"#queue li.question[data-id='{qb}'] .q-audience")).to_have_text(
        SV_T.count("moderator.audience_present", 4)
    )

    # Back to most votes.
    await page.get_by_role("button", name=SV_T("moderator.order_votes")).click()
    await order_becomes(page, [qa, qb, qc, qd])
    await expect(page.locator(".q-audience").first).to_be_hidden()
    assert page.console_errors == []  # type: ignore[attr-defined]


async def test_nudge_when_the_remote_audience_waits_twenty_minutes(
    chrome: Browser, room: Room
) -> None:
    """The room's question is answered, the remote one waits: after 20 minutes on the
    console's clock the nudge names the remote audience; answering it clears the nudge."""
    _, page = await new_page(chrome, TABLET)
    await page.clock.install()  # the console's clock, moved on by the test
    await page.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
    await console_ready(page)
    moderator = await room.moderator()
    here = await room.participant("room")
    away = await room.participant("remote")
    q_room = await ask(here, "Hur följer ni upp arbetet?")
    q_remote = await ask(away, "Kan vi som deltar på distans få bilderna?")
    ack = await moderator.request({"type": "question.answer", "question": q_room})
    assert ack["type"] == "ack", ack
    await expect(page.locator(f"#queue li.question[data-id='{q_remote}']")).to_be_visible()
    nudge = page.locator("#fairness-nudge")
    await expect(nudge).to_be_hidden()

    await page.clock.fast_forward("19:00")
    await expect(page.locator(f"#queue li.question[data-id='{q_remote}']")).to_be_visible()
    await expect(nudge).to_be_hidden()
    await page.clock.fast_forward("01:30")
    message = SV_T.count("moderator.nudge_remote", 20)
    assert message == "Ingen fråga från distans har besvarats på 20 minuter"
    await expect(nudge).to_have_text(message)
    await expect(nudge).to_have_attribute("role", "status")
    assert await axe_violations(page) == []
    await screenshot(page, "moderator-nudge")

    row = page.locator(f"#queue li.question[data-id='{q_remote}']")
    await row.locator("button[data-action=answer]").click()
    await expect(nudge).to_be_hidden()
    assert page.console_errors == []  # type: ignore[attr-defined]


@pytest.fixture
def one_minute_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose console nudges after one minute."""
    env = {"COMPANION_FAIRNESS_NUDGE_MINUTES": "1"}
    with started(ServerProcess(tmp_path, extra_env=env)) as proc:
        yield proc


async def test_nudge_time_is_a_setting_and_names_the_room_too(
    chrome: Browser, one_minute_server: ServerProcess, clients: list[Client]
) -> None:
    """COMPANION_FAIRNESS_NUDGE_MINUTES=1: the room's waiting question nudges after a minute,
    in the singular, while the remote audience (answered, nothing waiting) does not."""
    room = Room(one_minute_server, clients)
    _, page = await new_page(chrome, TABLET)
    await page.clock.install()
    await page.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
    await console_ready(page)
    moderator = await room.moderator()
    here = await room.participant("room")
    away = await room.participant("remote")
    q_room = await ask(here, "Vem äger frågan om kompetensförsörjning?")
    q_remote = await ask(away, "Hur mäter ni effekten?")
    ack = await moderator.request({"type": "question.answer", "question": q_remote})
    assert ack["type"] == "ack", ack
    await expect(page.locator(f"#queue li.question[data-id='{q_room}']")).to_be_visible()
    nudge = page.locator("#fairness-nudge")
    await page.clock.fast_forward("00:45")
    await expect(page.locator(f"#queue li.question[data-id='{q_room}']")).to_be_visible()
    await expect(nudge).to_be_hidden()
    await page.clock.fast_forward("00:30")
    message = SV_T.count("moderator.nudge_room", 1)
    assert message == "Ingen fråga från dem på plats har besvarats på 1 minut"
    await expect(nudge).to_have_text(message)
    assert page.console_errors == []  # type: ignore[attr-defined]
