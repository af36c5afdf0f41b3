"""Raised hands in Chromium: on the remote page a participant taps "Jag vill prata" with a
topic, the console shows the queue (name or "Anonym", in the order raised, with the topic),
invites, mutes and ends; the participant leaves the stage. Both pages are measured
(nothing clipped or sideways, the raise button on the first screen) and checked by axe."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import LAPTOP, PHONE, TABLET, axe_violations, new_page, screenshot
from tests.e2e.conftest import Room, console_ready, open_console
from tests.serverproc import DEMO, ServerProcess
from tests.wsclient import Client

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
    await fits(console, "#panel-hands, #hands-list li, #hands-list button, .hand-topic")

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


# The console's boxes that matter with many hands: the bar and its badge, the hands panel
# and the first hand, what runs off the side, and whether the bar's tabs need scrolling.
CONSOLE_HANDS = """() => {
  const box = (s) => { const n = document.querySelector(s); if (!n || n.offsetParent === null) return null;
    const r = n.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height, right: r.right}; };
  const nav = document.getElementById('mod-nav');
  const wide = [...document.querySelectorAll('#console *')].filter((n) => n.offsetParent !== null
    && n.getBoundingClientRect().right > innerWidth + 0.5).map((n) => n.id || n.className || n.tagName);
  const clipped = [...document.querySelectorAll('#panel-hands *, #mod-nav button')].filter((n) =>
    n.offsetParent !== null && n.scrollWidth > n.clientWidth + 1).map((n) => n.id || n.className);
  return {nav: box('#mod-nav'), badge: box('#nav-hands'), tab: box('#mod-nav [data-view=hands]'),
    panel: box('#panel-hands'), first: box('#hands-list > li'), queue: box('#queue'),
    agenda: box('#now-card'), navScrolls: nav.scrollWidth > nav.clientWidth + 1,
    wide, clipped, sideways: document.scrollingElement.scrollWidth > innerWidth + 1};
}"""


async def test_the_console_counts_raised_hands_on_the_bar_of_a_portrait_tablet(
    room: Room, chrome: Browser
) -> None:
    """Twelve hands with long names and topics, one of them on stage, and twelve questions
    waiting for review: at 768x1024 the sticky bar's "Vill prata" tab shows 11 (the hands
    waiting) beside Frågor's 12 on the first screen, in Swedish and English with no tab
    scrolled away; one tap shows the queue alone, nothing
    clipped or sideways, axe 0; a new hand makes 12, a lowered one 11 again. At 1024x768
    there is no bar: the queue sits under the now card in the left column, all of it
    inside the column."""
    people = []
    for n in range(12):
        person = await room.participant("remote", name=f"Deltagare {n + 1} Långnamnsdotter-Ek")
        topic = f"{n + 1}: {TOPIC} och dess uppföljning i praktiken och vardagen"[:120]
        assert (await person.request({"type": "hand.raise", "topic": topic}))["type"] == "ack"
        people.append(person)
    moderator = await room.moderator()
    snapshot = await moderator.wait_for(lambda m: m["type"] == "snapshot")
    first = snapshot["hands"][0]["id"]
    # Questions wait for review too: both badges are on the bar at once, two digits each.
    assert (await moderator.request({"type": "session.premoderation", "on": True}))["type"] == "ack"
    for n, person in enumerate(people):
        reply = await person.request({"type": "ask", "text": f"Fråga {n + 1} om samverkan?"})
        assert reply["type"] == "ack", reply
    assert (await moderator.request({"type": "hand.invite", "hand": first}))["type"] == "ack"

    portrait = {"width": 768, "height": 1024}
    for locale, words, label in (("en-GB", catalogue("en"), "11 want to speak"),
                                 ("sv-SE", SV, "11 vill prata")):  # fmt: skip
        _, console = await new_page(chrome, portrait, locale=locale)
        await console.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
        await console_ready(console)
        badge = console.locator("#nav-hands")
        await expect(badge.locator(".nav-badge-n")).to_have_text("11")
        await expect(badge.locator(".visually-hidden")).to_have_text(label)
        await expect(console.locator("#nav-pending .nav-badge-n")).to_have_text("12")
        tab = console.get_by_role("button", name=f"{words['hands.title']} {label}")
        await expect(tab).to_be_visible()
        m = await console.evaluate(CONSOLE_HANDS)
        assert m["badge"] and m["badge"]["y"] + m["badge"]["h"] <= m["nav"]["y"] + m["nav"]["h"], m
        assert m["tab"]["right"] <= portrait["width"] and not m["navScrolls"], m  # all tabs seen
        assert m["panel"] is None and m["queue"] is not None, m  # the questions come first
        assert m["wide"] == [] and m["clipped"] == [] and not m["sideways"], m
        await screenshot(console, f"console-hands-badge-portrait-{locale[:2]}")

    await tab.click()
    await expect(tab).to_have_attribute("aria-pressed", "true")
    await expect(console.locator("#hands-list > li")).to_have_count(12)
    m = await console.evaluate(CONSOLE_HANDS)
    assert m["panel"] and m["first"] and m["first"]["y"] < portrait["height"], m
    assert m["queue"] is None and m["agenda"] is None, m  # one panel at a time
    assert m["wide"] == [] and m["clipped"] == [] and not m["sideways"], m
    await fits(console, "#panel-hands, #hands-list li, #hands-list button, .hand-topic")
    await screenshot(console, "console-hands-portrait")
    assert await axe_violations(console) == []

    latecomer = await room.participant("room", name="Sist In")
    assert (await latecomer.request({"type": "hand.raise"}))["type"] == "ack"
    await expect(badge.locator(".nav-badge-n")).to_have_text("12")
    assert (await people[5].request({"type": "hand.lower"}))["type"] == "ack"
    await expect(badge.locator(".nav-badge-n")).to_have_text("11")
    # Scrolled down the long queue, the bar with its badge is still at the top.
    await console.evaluate("scrollTo(0, document.body.scrollHeight)")
    m = await console.evaluate(CONSOLE_HANDS)
    assert m["nav"]["y"] == 0 and m["badge"] is not None, m

    landscape = {"width": 1024, "height": 768}
    await console.set_viewport_size(landscape)
    await console.evaluate("scrollTo(0, 0)")
    m = await console.evaluate(CONSOLE_HANDS)
    await screenshot(console, "console-hands-landscape")
    assert m["nav"] is None and m["panel"] and m["queue"] and m["agenda"], m
    assert m["panel"]["x"] == m["agenda"]["x"] and m["panel"]["y"] > m["agenda"]["y"], m
    assert m["panel"]["right"] <= m["queue"]["x"], m  # in the left column, beside the queue
    # The count beside the heading, on the first screen where the queue starts.
    await expect(console.locator("#hands-count")).to_have_text("11")
    count_box = await console.locator("#hands-count").bounding_box()
    assert count_box is not None and count_box["y"] + count_box["height"] <= landscape["height"]
    assert m["wide"] == [] and m["clipped"] == [] and not m["sideways"], m
    await fits(console, "#panel-hands, #hands-list li, #hands-list button, .hand-topic")
    assert await axe_violations(console) == []
    assert console.console_errors == []  # type: ignore[attr-defined]


LONG_TITLE = (
    "Samtal: En myndighets förändringsresa från stuprör till samverkan, om ledarskap, "
    "tillit och kompetensförsörjning när verksamheten digitaliseras i hela landet"
)
HEAD_HANDS = """() => {
  const r = (s) => { const n = document.querySelector(s); if (!n || n.offsetParent === null) return null;
    const b = n.getBoundingClientRect(); return {x: b.left, y: b.top, right: b.right, bottom: b.bottom}; };
  const head = document.getElementById('head-hands');
  return {head: r('#head-hands'), count: r('#hands-count'), title: r('#current-title'),
    clipped: head.scrollWidth > head.clientWidth + 1 || head.scrollHeight > head.clientHeight + 1,
    sideways: document.scrollingElement.scrollWidth > innerWidth + 1};
}"""


async def test_the_count_of_raised_hands_is_on_the_first_screen_of_a_wide_console_whatever_the_title(
    tmp_path: Path, clients: list[Client], chrome: Browser
) -> None:
    """A current item with a 150-character title makes the now card tall, and eleven hands
    wait: in two columns (1024x768, 1366x1024) the "Vill prata" heading starts below the
    first screen, so the head says "11 vill prata" on it, unclipped, in Swedish and
    English; a press brings the hands' heading into view; a new hand makes 12; axe 0."""
    programme = tmp_path / "programme.yaml"
    text = DEMO.read_text(encoding="utf-8")
    item = "                    title: En myndighets förändringsresa\n"
    assert text.count(item) == 1
    programme.write_text(
        text.replace(item, f"                    title: {json.dumps(LONG_TITLE)}\n")
    )
    server = ServerProcess(tmp_path / "server")
    assert server.import_programme(programme).returncode == 0
    server.start()
    try:
        room = Room(server, clients)
        moderator = await room.moderator()
        for _ in range(2):
            assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
        for n in range(11):
            person = await room.participant("remote", name=f"Deltagare {n + 1} Långnamnsdotter")
            assert (await person.request({"type": "hand.raise", "topic": TOPIC}))["type"] == "ack"
        _, console = await new_page(chrome, TABLET)
        await console.goto(f"{server.http}/moderate/{room.session}#key={room.moderator_token}")
        await console_ready(console)
        await expect(console.locator("#current-title")).to_have_text(LONG_TITLE)
        head = console.locator("#head-hands")
        for viewport in (TABLET, {"width": 1366, "height": 1024}):
            await console.set_viewport_size(viewport)
            label = f"{viewport['width']}x{viewport['height']}"
            await expect(head).to_have_text("11 vill prata")
            m = await console.evaluate(HEAD_HANDS)
            print(label, "head", m["head"], "heading's count", m["count"])
            assert m["head"] is not None, m
            assert m["head"]["x"] >= 0 and m["head"]["right"] <= viewport["width"], m
            assert m["head"]["bottom"] <= m["title"]["y"], m  # above the now card, first seen
            assert m["head"]["bottom"] - m["head"]["y"] >= 44, m  # a finger's tap
            assert not m["clipped"] and not m["sideways"], m
            await screenshot(console, f"console-hands-long-title-{label}")
            assert await axe_violations(console) == []
        await console.set_viewport_size(TABLET)
        # The heading's own count is below the first screen here: the head is what shows it.
        m = await console.evaluate(HEAD_HANDS)
        assert m["count"]["bottom"] > TABLET["height"], m
        await head.click()
        await expect(console.locator("#hands-heading")).to_be_focused()
        await expect(console.locator("#hands-heading")).to_be_in_viewport()
        latecomer = await room.participant("room", name="Sist In")
        assert (await latecomer.request({"type": "hand.raise"}))["type"] == "ack"
        await expect(head).to_have_text("12 vill prata")

        _, english = await new_page(chrome, TABLET, locale="en-GB")
        await english.goto(f"{server.http}/moderate/{room.session}#key={room.moderator_token}")
        await console_ready(english)
        await expect(english.locator("#head-hands")).to_have_text("12 want to speak")
        m = await english.evaluate(HEAD_HANDS)
        assert m["head"]["right"] <= TABLET["width"] and not m["clipped"], m
        assert console.console_errors == []  # type: ignore[attr-defined]
    finally:
        server.stop()
