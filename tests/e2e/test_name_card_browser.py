"""On stage from end to end in Chromium with a fake microphone: a remote participant joins
with their name and raises a hand, the moderator invites them in the console (clicking as
a moderator would), the participant's page goes on stage with the microphone, the big
screen shows their name card (its box measured), and the moderator ends the turn in the
console: the card is gone and the microphone let go."""

from __future__ import annotations

import time

from playwright.async_api import expect

from companion.web.i18n import catalogue
from tests.e2e.browser import LAPTOP, SCREEN, axe_violations, chromium, new_page
from tests.e2e.conftest import Room, console_ready, open_console
from tests.e2e.test_screen_name_card import LONG_NAME, measured
from tests.e2e.test_stage_voice_browser import FAKE_MEDIA

SV = catalogue("sv")
EN = catalogue("en")


async def test_the_big_screen_names_the_invited_speaker_until_the_moderator_ends(
    room: Room,
) -> None:
    async with chromium(FAKE_MEDIA) as browser:
        _, screen = await new_page(browser, SCREEN)
        await screen.goto(f"{room.server.http}/screen/{room.code}")
        await expect(screen.locator("body")).to_have_attribute("data-connection", "live")
        card_box = screen.locator("#screen-on-stage")
        await expect(card_box).to_be_hidden()

        # The participant joins at home with their name, and asks to speak.
        _, remote = await new_page(browser, LAPTOP)
        await remote.goto(f"{room.server.http}/j/{room.code}")
        await remote.locator("#join-name").fill(LONG_NAME)
        await remote.get_by_label(SV["join.remote"]).check()
        await remote.get_by_role("button", name=SV["join.continue"]).click()
        await expect(remote.locator("body")).to_have_attribute("data-connection", "live")
        await remote.get_by_role("button", name=SV["speak.raise"]).click()
        await expect(remote.locator("#speak-status")).to_have_text(SV["speak.waiting"])
        await screen.wait_for_timeout(500)
        await expect(card_box).to_be_hidden()  # a raised hand is nobody's business yet

        # The moderator invites them from the console's queue.
        console = await open_console(browser, room)
        await console_ready(console)
        hand = console.locator("#hands-list > li")
        await expect(hand).to_have_count(1)
        await expect(hand.locator(".hand-who")).to_contain_text(LONG_NAME)
        invited = time.monotonic()
        await console.get_by_role(
            "button", name=SV["hands.invite_named"].format(name=LONG_NAME)
        ).click()
        await expect(hand).to_have_attribute("data-status", "on_stage")

        # On stage: the microphone is live, and the big screen names them.
        card = screen.locator(".on-stage-card")
        await expect(card).to_have_count(1)
        shown = time.monotonic() - invited
        await expect(card.locator(".on-stage-name")).to_have_text(LONG_NAME)
        await expect(card.locator(".on-stage-status")).to_have_text(
            SV["namecard.status"].format(where=SV["hands.remote"])
        )
        await expect(remote.locator("#speak-mic")).to_have_attribute(
            "data-state", "live", timeout=15_000
        )
        m = await measured(screen, "screen-name-card-on-stage-1920", cards=1)
        box = m["cards"][0]["box"]
        print(
            f"name card on the screen {shown:.2f} s after the click: "
            f"x {box['x']:.0f}, y {box['y']:.0f}, {box['width']:.0f}×{box['height']:.0f} px, "
            f"name {m['cards'][0]['nameSize']:.1f} px"
        )
        # At the foot of the stage column, a readable size, wide enough for the name.
        assert box["y"] + box["height"] <= SCREEN["height"] and box["y"] > SCREEN["height"] / 2
        assert m["cards"][0]["nameSize"] >= 32 and box["width"] >= 600, m
        assert await axe_violations(screen) == []

        # Muted from the console: the card says so (on an English screen too), and no
        # longer once the moderator turns the sound on again.
        _, english = await new_page(browser, SCREEN, locale="en-GB")
        await english.goto(f"{room.server.http}/screen/{room.code}")
        await expect(english.locator(".on-stage-card")).to_have_count(1)
        muted = time.monotonic()
        await console.get_by_role(
            "button", name=SV["hands.mute_named"].format(name=LONG_NAME)
        ).click()
        note = card.locator(".on-stage-muted")
        await expect(note).to_have_text(SV["namecard.muted"])
        print(f"muted on the screen's card {time.monotonic() - muted:.2f} s after the click")
        await expect(english.locator(".on-stage-muted")).to_have_text(EN["namecard.muted"])
        await expect(remote.locator("#speak-mic")).to_have_attribute("data-state", "muted")
        await measured(screen, "screen-name-card-muted-1920", cards=1)
        assert await axe_violations(screen) == []
        await console.get_by_role(
            "button", name=SV["hands.unmute_named"].format(name=LONG_NAME)
        ).click()
        await expect(note).to_have_count(0)
        await expect(english.locator(".on-stage-muted")).to_have_count(0)
        await expect(card.locator(".on-stage-status")).to_have_text(
            SV["namecard.status"].format(where=SV["hands.remote"])
        )

        # The moderator ends the turn: the card goes, the page lets the microphone go.
        ended = time.monotonic()
        await console.get_by_role(
            "button", name=SV["hands.end_named"].format(name=LONG_NAME)
        ).click()
        await expect(card_box).to_be_hidden()
        print(f"name card gone {time.monotonic() - ended:.2f} s after the end")
        await expect(remote.locator("#speak-mic")).to_have_attribute("data-state", "off")
        await expect(remote.locator("#speak-form")).to_be_visible()
        for page in (screen, english, console, remote):
            assert page.console_errors == []  # type: ignore[attr-defined]
