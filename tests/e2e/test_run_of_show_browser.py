"""The run of show in Chromium: the scene editor in the console, one tap on "Nästa" moving
the phone, the remote page, the big screen and the stage monitor together within a second,
a reconnect in the middle resuming into the same scene, and the big screen's scenes and
the console measured and screenshot at their devices' sizes, with no axe violations."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import LAPTOP, PHONE, SCREEN, axe_violations, new_page, screenshot
from tests.e2e.conftest import SESSION, Room, console_ready, started
from tests.e2e.organisers import signed_in
from tests.netproxy import SilentProxy
from tests.serverproc import ServerProcess
from tests.wsclient import Client

SV = catalogue("sv")
HD = {"width": 1280, "height": 720}
LANDSCAPE = {"width": 1180, "height": 820}
PORTRAIT = {"width": 820, "height": 1180}
AGENDA = (
    "/organise/networks/ledarskap-och-innovation/seasons/varen-2020/events/forandringsresa"
    f"/sessions/{SESSION}"
)

# Each shown box of the big screen: inside the viewport, and nothing cut off inside it.
MEASURE = """(selectors) => {
  const out = {};
  for (const s of selectors) {
    const node = document.querySelector(s);
    if (!node || node.closest("[hidden]")) { out[s] = null; continue; }
    const r = node.getBoundingClientRect();
    out[s] = {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
              font: parseFloat(getComputedStyle(node).fontSize),
              clipped: node.scrollHeight > node.clientHeight + 1 || node.scrollWidth > node.clientWidth + 1};
  }
  out.scrolls = document.scrollingElement.scrollHeight > innerHeight + 1;
  return out;
}"""


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, SilentProxy]]:
    """A server whose pages open their WebSocket through a proxy that can go silent."""
    server = ServerProcess(tmp_path)
    proxy = SilentProxy(server.ws_port)
    server.extra_env["COMPANION_PUBLIC_WS_URL"] = f"ws://127.0.0.1:{proxy.port}/ws"
    await proxy.start()
    with started(server):
        yield server, proxy
    await proxy.stop()


async def measured(page: Page, selectors: list[str]) -> dict[str, object]:
    """The boxes, checked: each shown one inside the viewport and not clipped, no scroll."""
    size = page.viewport_size
    assert size is not None
    boxes = await page.evaluate(MEASURE, selectors)
    assert boxes["scrolls"] is False, boxes
    for name in selectors:
        box = boxes[name]
        assert box is not None, (name, boxes)
        assert box["top"] >= 0 and box["bottom"] <= size["height"] + 0.5, (name, box)
        assert box["left"] >= 0 and box["right"] <= size["width"] + 0.5, (name, box)
        assert not box["clipped"], (name, box)
    return boxes


async def tap_and_time(button: Locator, *checks: Awaitable[None]) -> float:
    """Tap, then run the checks together: the time from the tap until all of them held
    (each fails after its own timeout)."""
    start = time.monotonic()
    await button.click()
    await asyncio.gather(*checks)
    return time.monotonic() - start


async def resized(page: Page, size: dict[str, int]) -> None:
    """Wait until the page has the new size and has drawn a frame (its fit runs on resize)."""
    await page.wait_for_function(f"() => innerWidth === {size['width']}")
    await page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


async def live(page: Page, timeout: float = 20_000) -> None:
    await expect(page.locator("body")).to_have_attribute("data-connection", "live", timeout=timeout)


async def test_one_tap_moves_every_page_and_a_reconnect_resumes_into_the_scene(
    proxied: tuple[ServerProcess, SilentProxy], chrome: Browser
) -> None:
    server, proxy = proxied
    room = Room(server, [])
    anna = signed_in(server, "anna@kommun.se", "ledarskap-och-innovation")
    # Many items, the organiser's scene on one of them (the programme editor's fields).
    for n, (title, start) in enumerate(
        [("Nätverkets nästa säsong", "11.20"), ("Frågor från distans", "11.35")]
    ):
        added = anna.post(
            AGENDA + "/add",
            {
                "what": "item",
                "kind": "talk",
                "title": title,
                "start": start,
                "minutes": "10",
                **({"screen": "agenda", "stream": ""} if n == 0 else {}),
            },
        )
        assert added.status_code == 303, added.text[:300]

    moderator = await Client.open(server.ws)  # straight to the server, never silenced
    room.opened.append(moderator)
    await moderator.join(role="moderator", session=SESSION, moderator_token=room.moderator_token)
    made = await moderator.request(
        {
            "type": "poll.create",
            "kind": "single",
            "text": "Hur långt har er myndighet kommit i förändringsresan?",
            "options": ["Vi har precis börjat", "Vi är mitt i den", "Vi ser resultat"],
            "item": "samtal-olsson",
        }
    )
    poll = made["poll"]
    await moderator.request({"type": "session.premoderation", "on": False})
    asker = await room.participant("remote")
    for text in ("Hur fick ni med medarbetarna?", "Vad hade ni gjort annorlunda?"):
        await asker.request({"type": "ask", "text": text})

    try:
        await _run(chrome, room, proxy, moderator, asker, poll)
    finally:
        await moderator.close()
        await asker.close()


async def _run(
    chrome: Browser, room: Room, proxy: SilentProxy, moderator: Client, asker: Client, poll: int
) -> None:
    http = room.server.http
    _, console = await new_page(chrome, LANDSCAPE)
    await console.goto(f"{http}/moderate/{SESSION}#key={room.moderator_token}")
    await console_ready(console)

    # The scene editor: the dialogue runs its poll on the big screen.
    dialogue = console.locator("li.mod-item[data-item='samtal-olsson']")
    await dialogue.locator("button[data-action='scene']").click()
    dialog = console.locator("#scene-dialog")
    await expect(dialog).to_be_visible()
    await console.select_option("#scene-screen", "poll")
    await console.select_option("#scene-poll", str(poll))
    await screenshot(console, "run-of-show-console-scene-landscape")
    assert await axe_violations(console) == []
    await dialog.locator("button[type=submit]").click()
    await expect(dialog).to_be_hidden()
    await expect(dialogue.locator(".item-scene")).to_contain_text(SV["scene.screen_poll"])
    await expect(console.locator("li.mod-item[data-item='fika'] .item-scene")).to_contain_text(
        SV["scene.screen_break"]
    )
    organisers = console.locator("li.mod-item[data-item='natverkets-nasta-sasong'] .item-scene")
    await expect(organisers).to_contain_text(SV["scene.screen_agenda"])

    _, phone = await new_page(chrome, PHONE)
    await phone.goto(f"{http}/room/{room.code}")
    _, remote = await new_page(chrome, LAPTOP)
    await remote.goto(f"{http}/remote/{room.code}")
    _, screen = await new_page(chrome, SCREEN)
    await screen.goto(f"{http}/screen/{room.code}")
    _, stage = await new_page(chrome, LAPTOP)
    await stage.goto(f"{http}/stage/{SESSION}#key={room.moderator_token}")
    for page in (phone, remote, screen, stage):
        await live(page)

    nxt = console.locator("#btn-next")
    await nxt.click()  # Välkommen
    await expect(console.locator("#current-title")).to_have_text("Välkommen")
    await nxt.click()  # the dialogue: its poll opens and goes on the screen
    await expect(screen.locator("#screen")).to_have_attribute("data-scene", "poll")
    await expect(screen.locator("#screen-poll")).to_be_visible()
    await expect(phone.locator(f"#poll-list .poll-card[data-id='{poll}']")).to_be_visible()

    # Questions belong to the item current when asked: the phone shows this part's first,
    # the console the current item's first and one item's alone when filtered.
    asked = await asker.request({"type": "ask", "text": "Hur mäter ni att kulturen förändras?"})
    assert asked["type"] == "ack", asked
    this_part = phone.locator("#questions-current li.question")
    await expect(this_part).to_have_count(1)
    await expect(this_part).to_contain_text("Hur mäter ni att kulturen förändras?")
    await expect(phone.locator("#questions-current-heading")).to_have_text(
        SV["questions.this_part"]
    )
    await expect(phone.locator("#questions-other li.question")).to_have_count(2)
    await expect(phone.locator("#questions-other-heading")).to_have_text(
        SV["questions.other_parts"]
    )
    await phone.locator("#questions").scroll_into_view_if_needed()
    await screenshot(phone, "run-of-show-phone-this-part")
    assert await axe_violations(phone) == []
    await console.locator("#tab-live").click()
    queue = console.locator("#queue li.question")
    await expect(queue).to_have_count(3)
    await expect(queue.first).to_contain_text("Hur mäter ni att kulturen förändras?")
    await console.select_option("#queue-item", "samtal-olsson")
    await expect(queue).to_have_count(1)
    await expect(console.locator("#count-live")).to_have_text("1")
    await console.select_option("#queue-item", "none")
    await expect(queue).to_have_count(2)
    await console.select_option("#queue-item", "")
    await expect(queue).to_have_count(3)

    # The speaker card, by hand (the moderator's override).
    await console.select_option("#show-screen", "speaker")
    await expect(screen.locator("#screen")).to_have_attribute("data-scene", "speaker")
    await expect(screen.locator(".speaker-name").first).to_have_text("Clas Olsson")
    for size, name in ((SCREEN, "screen-speaker-1080"), (HD, "screen-speaker-720")):
        await screen.set_viewport_size(size)
        await resized(screen, size)
        boxes = await measured(
            screen, [".speaker-name", ".speaker-title", ".speaker-org", "#screen-qr"]
        )
        print(name, {k: v for k, v in boxes.items() if k != "scrolls"})
        await screenshot(screen, name)
    assert await axe_violations(screen) == []
    await screen.set_viewport_size(SCREEN)

    # One tap into the break: every page follows within a second.
    took = await tap_and_time(
        nxt,
        expect(screen.locator("#screen")).to_have_attribute("data-scene", "break", timeout=1000),
        expect(screen.locator("#screen-countdown .countdown-digits")).to_have_text(
            re.compile(r"^(20|19):\d\d$"), timeout=1000
        ),
        expect(phone.locator(f"#poll-results-list .poll-card[data-id='{poll}']")).to_have_attribute(
            "data-status", "closed", timeout=1000
        ),
        expect(phone.locator("#break-banner")).to_be_visible(timeout=1000),
        expect(remote.locator("#stream-slate")).to_be_visible(timeout=1000),
        expect(stage.locator("#stage-break")).to_be_visible(timeout=1000),
        expect(console.locator("#show-screen")).to_have_value("break", timeout=1000),
    )
    print(f"into the break: every page within {took:.3f} s")
    assert took < 1.0
    for size, name in ((SCREEN, "screen-break-1080"), (HD, "screen-break-720")):
        await screen.set_viewport_size(size)
        await resized(screen, size)
        boxes = await measured(
            screen, [".countdown-digits", ".countdown-until", ".countdown-next", "#screen-qr"]
        )
        print(name, {k: v for k, v in boxes.items() if k != "scrolls"})
        await screenshot(screen, name)
    assert await axe_violations(screen) == []
    assert await axe_violations(remote) == []
    await screen.set_viewport_size(SCREEN)
    # The console in the break: Nästa and what is shown now on the first screen.
    room_sound = console.locator("#show-slate-audio button[data-audio='room']")
    for control in (
        "#btn-next",
        "#show-screen",
        "#show-stream button[data-stream='slate']",
        "#show-slate-audio button[data-audio='room']",
    ):
        box = await console.locator(control).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= LANDSCAPE["height"], (
            control,
            box,
        )
    await expect(console.locator("#show-stream button[data-stream='slate']")).to_have_attribute(
        "aria-pressed", "true"
    )
    # The room's sound under the slate: muted by the break's scene, kept by one tap.
    await expect(console.locator("#show-slate-audio button[data-audio='muted']")).to_have_attribute(
        "aria-pressed", "true"
    )
    await screenshot(console, "run-of-show-console-break-landscape")
    assert await axe_violations(console) == []
    await room_sound.click()
    await expect(room_sound).to_have_attribute("aria-pressed", "true", timeout=1000)
    await moderator.wait_for(
        lambda m: m["type"] == "show" and m["show"]["slate_audio"] == "room", timeout=2
    )

    # One tap out of it: the camera scene again.
    took = await tap_and_time(
        nxt,
        expect(screen.locator("#screen")).to_have_attribute("data-scene", "qr", timeout=1000),
        expect(screen.locator("#screen-countdown")).to_be_hidden(timeout=1000),
        expect(remote.locator("#stream-slate")).to_be_hidden(timeout=1000),
        expect(stage.locator("#stage-break")).to_be_hidden(timeout=1000),
        expect(phone.locator("#break-banner")).to_be_hidden(timeout=1000),
        expect(console.locator("#show-screen")).to_have_value("qr", timeout=1000),
    )
    print(f"out of the break: every page within {took:.3f} s")
    assert took < 1.0

    # The network goes silent; meanwhile the agenda goes back into the break. Back
    # online, every page resumes (by seq) into that scene.
    proxy.silent = True
    for page in (phone, remote, screen, stage):
        await expect(page.locator("body")).to_have_attribute(
            "data-connection", "reconnecting", timeout=10_000
        )
    reply = await moderator.request({"type": "agenda.goto", "item": "fika"})
    assert reply["type"] == "ack", reply
    proxy.silent = False
    for page in (phone, remote, screen, stage):
        await live(page)
    await expect(screen.locator("#screen")).to_have_attribute("data-scene", "break")
    await expect(screen.locator("#screen-countdown")).to_be_visible()
    await expect(remote.locator("#stream-slate")).to_be_visible()
    await expect(stage.locator("#stage-break")).to_be_visible()
    await expect(phone.locator("#break-banner")).to_be_visible()

    # The organiser's scene: the agenda with what is next, fitted to the screen.
    reply = await moderator.request({"type": "agenda.goto", "item": "natverkets-nasta-sasong"})
    assert reply["type"] == "ack", reply
    await expect(screen.locator("#screen")).to_have_attribute("data-scene", "agenda")
    await expect(screen.locator(".screen-agenda-list li[data-state='now']")).to_contain_text(
        "Nätverkets nästa säsong"
    )
    await expect(screen.locator(".screen-agenda-list li[data-state='next']")).to_contain_text(
        "Frågor från distans"
    )
    await expect(screen.locator(".screen-agenda-list li")).to_have_count(7)
    boxes = await measured(screen, ["#screen-agenda", "#screen-qr"])
    print("screen-agenda-1080", boxes["#screen-agenda"])
    await screenshot(screen, "screen-agenda-1080")
    assert await axe_violations(screen) == []

    # The console in portrait, the scene editor open over many items.
    await console.set_viewport_size(PORTRAIT)
    await console.locator("#mod-nav button[data-view='agenda']").click()
    await console.locator("li.mod-item[data-item='fika'] button[data-action='scene']").click()
    await expect(dialog).to_be_visible()
    await expect(console.locator("#scene-slate-audio")).to_have_value("muted")
    box = await dialog.locator("button[type=submit]").bounding_box()
    assert box and box["y"] + box["height"] <= PORTRAIT["height"], box
    await screenshot(console, "run-of-show-console-scene-portrait")
    assert await axe_violations(console) == []
    await console.locator("#scene-cancel").click()
    for page in (console, phone, remote, screen, stage):
        assert page.console_errors == []  # type: ignore[attr-defined]
