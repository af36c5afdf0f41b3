"""The live stream in Chromium with a fake camera: the camera page publishes over WHIP,
the remote participant page plays over WHEP, and survives a stop and a new start."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

from tests.e2e.browser import LAPTOP, chromium, new_page, screenshot
from tests.e2e.conftest import Room

pytestmark = pytest.mark.timeout(90)

FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


async def playing(page: Page, timeout: float = 15_000) -> None:
    """The page's stream video shows pictures and its time advances."""
    await page.wait_for_function(
        "() => { const v = document.getElementById('stream-video'); return v.videoWidth > 0 && v.currentTime > 0.2; }",
        timeout=timeout,
    )
    first = await page.evaluate("document.getElementById('stream-video').currentTime")
    await page.wait_for_function(
        f"() => document.getElementById('stream-video').currentTime > {first} + 0.5", timeout=5_000
    )


async def test_camera_page_publishes_and_remote_page_plays(room: Room) -> None:
    """Go live from the camera page; the remote page plays with sound controls; stop and start again resumes without a reload; the console shows status and viewers."""
    server = room.server
    async with chromium(FAKE_MEDIA) as browser:
        _, camera = await new_page(browser, LAPTOP)
        await camera.goto(f"{server.http}/camera/{room.session}#key={room.moderator_token}")
        go_live = camera.locator("#go-live")
        await expect(go_live).to_be_enabled(timeout=10_000)
        await expect(camera.locator("#pick-camera option")).not_to_have_count(0)
        assert "#key" not in camera.url  # the key left the address bar
        await camera.locator("#obs summary").click()
        await expect(camera.locator("#whip-url")).to_have_value(
            f"{server.http}/whip/{room.session}"
        )
        assert (await camera.locator("#stream-key").input_value()).startswith("sk_")

        _, remote = await new_page(browser, LAPTOP)
        await remote.add_init_script(
            f"localStorage.setItem('companion.profile', {json.dumps(json.dumps({'where': 'remote'}))})"
        )
        # Every media request of the page, to check it names the session, not the join code.
        media_paths: list[str] = []
        remote.on(
            "request",
            lambda r: (
                media_paths.append(urlsplit(r.url).path)
                if "/whep/" in r.url or "/api/ice/" in r.url
                else None
            ),
        )
        await remote.goto(f"{server.http}/remote/{room.code}")
        await expect(remote.locator("body")).to_have_attribute("data-connection", "live")
        await expect(remote.locator("#stream-status")).to_have_attribute("data-status", "offline")

        await go_live.click()
        await expect(camera.locator("#camera-status")).to_have_attribute(
            "data-status", "live", timeout=15_000
        )
        await expect(camera.locator("#stop-live")).to_be_visible()

        await playing(remote)
        await expect(remote.locator("#stream-status")).to_be_hidden()
        await expect(remote.locator("#stream-badge")).to_be_visible()
        # The proxy hashes the session id in the path (deploy/nginx.conf): a join code there
        # would send the viewer to any replica, the DELETE to another one.
        whep = [p for p in media_paths if p.startswith("/whep/")]
        assert whep and all(
            p == f"/whep/{room.session}" or p.startswith(f"/whep/{room.session}/") for p in whep
        ), media_paths
        # The player asked for the server's ICE servers before its offer (TURN for strict NATs).
        assert media_paths[0] == f"/api/ice/{room.session}", media_paths
        assert await remote.evaluate("document.getElementById('stream-video').muted")
        await remote.locator("#stream-mute").click()
        assert not await remote.evaluate("document.getElementById('stream-video').muted")
        await expect(remote.locator("#stream-mute")).to_have_attribute("data-i18n", "stream.mute")
        audio = await remote.evaluate(
            "document.getElementById('stream-video').srcObject.getAudioTracks().length"
        )
        assert audio == 1
        await expect(camera.locator("#camera-status")).to_contain_text("1")  # one viewer
        await screenshot(remote, "stream-remote")
        await screenshot(camera, "stream-camera")

        _, console = await new_page(browser, LAPTOP)
        await console.goto(f"{server.http}/moderate/{room.session}#key={room.moderator_token}")
        await expect(console.locator("#stream-state")).to_have_attribute("data-status", "live")
        await expect(console.locator("#stream-state")).to_contain_text("1")
        await expect(console.locator("#obs-stream-key")).to_have_text(
            await camera.locator("#stream-key").input_value()
        )
        href = await console.locator("#link-camera").get_attribute("href")
        assert href == f"/camera/{room.session}#key={room.moderator_token}"

        await camera.locator("#stop-live").click()
        await expect(remote.locator("#stream-status")).to_have_attribute(
            "data-status", "offline", timeout=10_000
        )
        await expect(console.locator("#stream-state")).to_have_attribute("data-status", "offline")
        await expect(remote.locator("#stream-badge")).to_be_hidden()

        await camera.locator("#go-live").click()
        await expect(camera.locator("#camera-status")).to_have_attribute(
            "data-status", "live", timeout=15_000
        )
        await playing(remote)  # same page, no reload
        await expect(remote.locator("#stream-status")).to_be_hidden()

        for page in (camera, remote, console):
            assert page.console_errors == [], page.console_errors  # type: ignore[attr-defined]
