"""The stage monitor in Chromium (/stage/SESSION, templates/stage.html, static/js/stage.js):
the console sends and dismisses messages, the monitor shows them within a second, the
timer's colours at its thresholds (driven by real timer.extend actions), its sizes from
five metres at 1920×1080 and 1280×720 with nothing clipped, and no axe violations."""

from __future__ import annotations

import re
import time

from playwright.async_api import Browser, Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import SCREEN, TABLET, axe_violations, new_page, screenshot
from tests.e2e.conftest import Room
from tests.wsclient import Client

SV = catalogue("sv")
WHITE, AMBER, RED = "rgb(255, 255, 255)", "rgb(255, 191, 0)", "rgb(255, 92, 92)"
HD = {"width": 1280, "height": 720}

# Every text box of the monitor that is shown: its box, font size and whether it overflows.
MEASURE = """() => {
  const boxes = {};
  for (const node of document.querySelectorAll(
      ".stage-message, .stage-current, #stage-timer, #stage-timer-label, #stage-q-text, .stage-next-title")) {
    if (node.closest("[hidden]")) continue;
    const r = node.getBoundingClientRect();
    let key = node.id || node.className.split(" ")[0];
    if (key in boxes) key += "-" + Object.keys(boxes).length;
    boxes[key] = {
      top: r.top, bottom: r.bottom, left: r.left, right: r.right,
      font: parseFloat(getComputedStyle(node).fontSize),
      clipped: node.scrollHeight > node.clientHeight + 1 || node.scrollWidth > node.clientWidth + 1,
    };
  }
  return {boxes, scrolls: document.scrollingElement.scrollHeight > innerHeight + 1,
          width: innerWidth, height: innerHeight};
}"""


async def open_stage(chrome: Browser, room: Room, viewport: dict[str, int]) -> Page:
    _, page = await new_page(chrome, viewport)
    await page.goto(f"{room.server.http}/stage/{room.session}#key={room.moderator_token}")
    await expect(page.locator("#stage")).to_have_attribute("aria-busy", "false")
    return page


async def timer_color(page: Page) -> str:
    return await page.locator("#stage-timer").evaluate("(n) => getComputedStyle(n).color")


async def set_left(moderator: Client, minutes_left: int) -> None:
    """Make the current item's timer show about `minutes_left` (minus the seconds run)."""
    await moderator.wait_for(lambda m: m["type"] == "snapshot")
    agenda = [m["agenda"] for m in moderator.messages if m["type"] in ("snapshot", "agenda")][-1]
    planned = int(agenda["timer"]["planned_seconds"] // 60)
    reply = await moderator.request({"type": "timer.extend", "minutes": minutes_left - planned})
    assert reply["type"] == "ack", reply
    await moderator.wait_for(
        lambda m: (
            m["type"] == "agenda" and m["agenda"]["timer"]["planned_seconds"] == minutes_left * 60
        )
    )


async def test_console_message_reaches_the_stage_and_is_dismissed(
    room: Room, chrome: Browser
) -> None:
    moderator = await room.moderator()
    participant = await room.participant("room")
    assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
    _, console = await new_page(chrome, TABLET)
    await console.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
    await expect(console.locator("#console")).not_to_have_attribute("aria-busy", "true")
    # The console links the monitor with its key in the fragment.
    href = await console.locator("#link-stage").get_attribute("href")
    assert href == f"/stage/{room.session}#key={room.moderator_token}"
    stage = await open_stage(chrome, room, SCREEN)

    wrap_up = SV["stage.preset_wrap_up"]
    assert wrap_up == "Dags att runda av"
    start = time.monotonic()
    await console.get_by_role("button", name=wrap_up, exact=True).click()
    shown = stage.locator(".stage-message")
    await expect(shown).to_have_text(wrap_up, timeout=1000)
    took = time.monotonic() - start
    assert took < 1.0, took
    await screenshot(stage, "stage-monitor")
    # Free text is shown as text, never as markup.
    await console.fill("#stage-text", "<img src=x onerror=alert(1)> Ta den sista frågan")
    await console.click("#stage-form button[type=submit]")
    await expect(shown).to_have_count(2, timeout=1000)
    await expect(shown.nth(1)).to_have_text("<img src=x onerror=alert(1)> Ta den sista frågan")
    assert await stage.locator(".stage-message img").count() == 0

    assert await axe_violations(stage) == []

    start = time.monotonic()
    await console.get_by_role("button", name=f"Ta bort ”{wrap_up}”").click()
    await expect(shown).to_have_count(1, timeout=1000)
    assert time.monotonic() - start < 1.0
    await expect(stage.get_by_text(wrap_up)).to_have_count(0)

    # A reload (the key now kept on the device, not in the address) shows what is still shown.
    await stage.reload()
    await expect(shown).to_have_count(1)
    await expect(shown).to_contain_text("Ta den sista frågan")

    # The participant was told nothing of it.
    await moderator.request({"type": "agenda.next"})
    await participant.wait_for(lambda m: m["type"] == "agenda" and m["seq"] == moderator.seq)
    assert [m for m in participant.messages if m["type"] == "stage"] == []
    assert stage.console_errors == [] and console.console_errors == []  # type: ignore[attr-defined]


async def test_timer_colours_at_the_thresholds(room: Room, chrome: Browser) -> None:
    moderator = await room.moderator()
    await moderator.wait_for(lambda m: m["type"] == "snapshot")
    stage = await open_stage(chrome, room, SCREEN)
    timer = stage.locator("#stage-timer")
    assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"

    # The digits count whole seconds up (2:59.4 left shows 3:00), as a countdown does.
    await set_left(moderator, 3)  # just under 3:00 left: above two minutes
    # "normal" was already the state at 10:00: wait for the digits, not the colour.
    await expect(timer).to_have_text(re.compile(r"^(3:00|2:5\d)$"))
    await expect(timer).to_have_attribute("data-state", "normal")
    assert await timer_color(stage) == WHITE

    await set_left(moderator, 2)  # just under 2:00: the last two minutes
    await expect(timer).to_have_text(re.compile(r"^(2:00|1:5\d)$"))
    await expect(timer).to_have_attribute("data-state", "warning")
    assert await timer_color(stage) == AMBER
    await expect(stage.locator("#stage-timer-label")).to_have_text(SV["stage.time_left"])

    await set_left(moderator, 0)  # over: red, counting up
    await expect(timer).to_have_attribute("data-state", "over")
    assert await timer_color(stage) == RED
    await expect(stage.locator("#stage-timer-label")).to_have_text(SV["stage.over_time"])
    first = await timer.text_content()
    assert first and first.startswith("+0:0"), first
    await expect(timer).not_to_have_text(first, timeout=2500)
    later = await timer.text_content()
    assert later and later.startswith("+0:0") and later > first, (first, later)

    assert await axe_violations(stage) == []  # the red and amber digits keep their contrast

    # A break: the monitor says until when, in Swedish time of day.
    assert (await moderator.request({"type": "break.start", "minutes": 15}))["type"] == "ack"
    await expect(stage.locator("#stage-break")).to_be_visible(timeout=1000)
    await expect(stage.locator("#stage-break .break-until")).to_have_text(
        re.compile(r"^Paus till \d{2}\.\d{2}$")
    )


async def test_readable_from_five_metres_and_nothing_clipped(room: Room, chrome: Browser) -> None:
    moderator = await room.moderator()
    participant = await room.participant("room")
    assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
    asked = await participant.request({"type": "ask", "text": "Hur " + "mycket längre " * 30 + "?"})
    await moderator.request({"type": "question.highlight", "question": asked["question"]})
    for text in ("2 minuter kvar", "Ta en fråga från distans", "x" * 40 + " " + "lång " * 15):
        assert (await moderator.request({"type": "stage.send", "text": text}))["type"] == "ack"

    for viewport in (SCREEN, HD):
        stage = await open_stage(chrome, room, viewport)
        await expect(stage.locator("#stage-q-text")).to_contain_text("Hur mycket")
        # The worst case: three messages, one of the longest; then the usual one or two.
        for shown, timer_share in ((3, 0.12), (2, 0.2)):
            await expect(stage.locator(".stage-message")).to_have_count(shown)
            await measure(stage, viewport, timer_share)
            if shown == 3:
                await moderator.wait_for(
                    lambda m: m["type"] == "stage" and len(m["stage"]["messages"]) == 3
                )
                latest = [m for m in moderator.messages if m["type"] == "stage"][-1]
                longest = latest["stage"]["messages"][-1]["id"]
                reply = await moderator.request({"type": "stage.dismiss", "message": longest})
                assert reply["type"] == "ack", reply
        await moderator.request({"type": "stage.send", "text": "x" * 40 + " " + "lång " * 15})
        await stage.context.close()


async def measure(stage: Page, viewport: dict[str, int], timer_share: float) -> None:
    """Nothing clipped or off screen; the timer at least `timer_share` of the height."""
    m = await stage.evaluate(MEASURE)
    boxes = m["boxes"]
    assert not m["scrolls"], m
    for name, box in boxes.items():
        assert not box["clipped"], (viewport, name, box)
        assert box["top"] >= 0 and box["bottom"] <= viewport["height"] + 0.5, (name, box)
        assert box["left"] >= 0 and box["right"] <= viewport["width"] + 0.5, (name, box)
    height = viewport["height"]
    assert boxes["stage-timer"]["font"] >= timer_share * height, (viewport, boxes["stage-timer"])
    fonts = [b["font"] for k, b in boxes.items() if k.startswith("stage-message")]
    assert fonts and min(fonts) >= 0.04 * height, boxes
    assert boxes["stage-q-text"]["font"] >= 0.02 * height, boxes
    print(
        viewport, {k: (round(b["font"]), round(b["bottom"] - b["top"])) for k, b in boxes.items()}
    )
