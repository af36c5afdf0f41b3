"""Raised hands in Chromium: on the remote page a participant taps "Jag vill prata" with a
topic, the console shows the queue (name or "Anonym", in the order raised, with the topic),
invites, mutes and ends; the participant leaves the stage. Both pages are measured
(nothing clipped or sideways, the raise button on the first screen) and checked by axe."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import LAPTOP, PHONE, axe_violations, new_page, screenshot
from tests.e2e.conftest import Room, console_ready, open_console

SV = catalogue("sv")
TOPIC = "Arbetsmiljöuppföljningsansvarsfördelningen i kommunens förvaltningsorganisation"

# Boxes of the speak panel's parts that are shown: inside the window, nothing cut off.
MEASURE = """(selector) => {
  const out = [];
  for (const node of document.querySelectorAll(selector)) {
    if (node.closest("[hidden]")) continue;
    const r = node.getBoundingClientRect();
    out.push({id: node.id || node.className, left: r.left, right: r.right, bottom: r.bottom,
              clipped: node.scrollWidth > node.clientWidth + 1});
  }
  return {boxes: out, width: innerWidth, height: innerHeight,
          sideways: document.scrollingElement.scrollWidth > innerWidth + 1};
}"""


async def fits(page: Page, selector: str) -> dict[str, object]:
    found = await page.evaluate(MEASURE, selector)
    assert not found["sideways"], found
    for box in found["boxes"]:
        assert box["left"] >= 0 and box["right"] <= found["width"] + 0.5, box
        assert not box["clipped"], box
    return found


async def test_raise_invite_mute_and_leave(room: Room, chrome: Browser) -> None:
    _, remote = await new_page(chrome, PHONE)
    await remote.goto(f"{room.server.http}/remote/{room.code}")
    await expect(remote.locator("body")).to_have_attribute("data-connection", "live")
    raise_button = remote.get_by_role("button", name=SV["speak.raise"])
    await expect(raise_button).to_be_visible()
    measured = await fits(remote, "#speak-panel, #speak-panel input, #speak-panel button")
    await raise_button.scroll_into_view_if_needed()

    # Someone in the room raised a hand first, with their name: the queue keeps that order.
    eva = await room.participant("room", name="Eva Lind")
    assert (await eva.request({"type": "hand.raise"}))["type"] == "ack"

    await remote.locator("#speak-topic").fill(TOPIC)
    await raise_button.click()
    await expect(remote.locator("#speak-status")).to_have_text(SV["speak.waiting"])
    await expect(remote.get_by_role("button", name=SV["speak.lower"])).to_be_visible()
    await fits(remote, "#speak-panel, #speak-panel p, #speak-panel button")
    # "Mina uppgifter" lists the raised hand with its topic.
    await remote.locator("#my-data-fold > summary").click()
    await expect(remote.locator("#my-data-hand")).to_have_text(
        SV["mydata.hand_topic"].format(topic=TOPIC)
    )
    await fits(remote, "#my-data-hand")
    await remote.locator("#my-data-fold > summary").click()
    assert await axe_violations(remote) == []
    await screenshot(remote, "remote-hand-raised-phone")

    console = await open_console(chrome, room)
    await console_ready(console)
    hands = console.locator("#hands-list > li")
    await expect(hands).to_have_count(2)
    await expect(hands.nth(0).locator(".hand-who")).to_contain_text("Eva Lind")
    await expect(hands.nth(0).locator(".hand-who")).to_contain_text(SV["hands.room"])
    await expect(hands.nth(1).locator(".hand-who")).to_contain_text(SV["hands.anonymous"])
    await expect(hands.nth(1).locator(".hand-who")).to_contain_text(SV["hands.remote"])
    await expect(hands.nth(1).locator(".hand-topic")).to_have_text(TOPIC)
    await fits(console, "#hands-panel, #hands-list li, #hands-list button, .hand-topic")

    # Invite the remote participant: their page says so, and offers to leave the stage.
    anonymous = SV["hands.anonymous"]
    await console.get_by_role(
        "button", name=SV["hands.invite_named"].format(name=anonymous)
    ).click()
    await expect(hands.nth(1)).to_have_attribute("data-status", "on_stage")
    await expect(remote.locator("#speak-status")).to_have_text(SV["speak.invited"])
    leave = remote.get_by_role("button", name=SV["speak.leave"])
    await expect(leave).to_be_visible()
    assert await axe_violations(console) == []
    await screenshot(console, "console-hands")

    await console.get_by_role("button", name=SV["hands.mute_named"].format(name=anonymous)).click()
    await expect(remote.locator("#speak-status")).to_have_text(SV["speak.muted"])
    await expect(hands.nth(1).locator(".hand-badge.muted")).to_be_visible()

    # The participant leaves: the console's queue has only Eva, the page can raise again.
    await leave.click()
    await expect(hands).to_have_count(1)
    await expect(remote.locator("#speak-form")).to_be_visible()
    await expect(remote.locator("#announce")).to_have_text(SV["speak.lowered"])

    # The moderator ends (declines) Eva's hand: the queue is empty.
    await console.get_by_role(
        "button", name=SV["hands.decline_named"].format(name="Eva Lind")
    ).click()
    await expect(console.locator("#hands-none")).to_be_visible()
    assert measured["height"] == PHONE["height"]


async def test_the_raise_button_is_on_the_first_screen_of_a_laptop(
    room: Room, chrome: Browser
) -> None:
    _, remote = await new_page(chrome, LAPTOP)
    await remote.goto(f"{room.server.http}/remote/{room.code}")
    await expect(remote.locator("body")).to_have_attribute("data-connection", "live")
    box = await remote.get_by_role("button", name=SV["speak.raise"]).bounding_box()
    assert box is not None and box["y"] + box["height"] <= LAPTOP["height"], box
    await screenshot(remote, "remote-speak-laptop")
