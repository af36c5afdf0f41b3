"""Cookies: the server sets none, and the only one (the language choice, set by
static/js/i18n.js) is SameSite=Lax, and Secure when the pages are served over HTTPS."""

from __future__ import annotations

import urllib.parse

from playwright.async_api import Browser, BrowserContext, Route, expect

from tests.e2e.browser import chromium
from tests.e2e.conftest import SESSION, Room


async def switch_language(context: BrowserContext, base: str, pages: list[str]) -> dict:
    """Visit pages, press the language switch on the first, reload; returns the cookies by name."""
    page = await context.new_page()
    for path in pages[1:]:
        await page.goto(f"{base}{path}")
    await page.goto(f"{base}{pages[0]}")
    await expect(page.locator("html")).to_have_attribute("lang", "sv")
    await page.click("#lang-switch")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.reload()
    # The server reads the choice back: the page now comes in English.
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    return {c["name"]: c for c in await context.cookies()}


async def over_https(browser: Browser, http: str, origin: str) -> BrowserContext:
    """A context that sees the server at an https:// origin (requests are answered by the real
    server over loopback; nothing leaves the machine)."""
    context = await browser.new_context(locale="sv-SE")

    async def forward(route: Route) -> None:
        url = http + route.request.url[len(origin) :]
        response = await route.fetch(url=url)
        await route.fulfill(response=response)

    await context.route(f"{origin}/**", forward)
    return context


async def test_no_server_cookies_and_the_language_cookie_flags(room: Room) -> None:
    """Over HTTP the language cookie is SameSite=Lax (Secure is impossible there); over HTTPS it
    is also Secure; no other cookie exists after visiting every kind of page."""
    http = room.server.http
    pages = [
        "/",
        f"/j/{room.code}",
        f"/screen/{room.code}",
        f"/moderate/{SESSION}",
        f"/i18n/en.json?{urllib.parse.urlencode({'x': 1})}",
    ]
    async with chromium() as browser:
        plain = await browser.new_context(locale="sv-SE")
        cookies = await switch_language(plain, http, pages)
        assert set(cookies) == {"lang"}
        lang = cookies["lang"]
        assert lang["value"] == "en" and lang["sameSite"] == "Lax" and lang["path"] == "/"
        assert lang["secure"] is False
        await plain.close()

        origin = f"https://127.0.0.1:{room.server.port}"
        secure = await over_https(browser, http, origin)
        cookies = await switch_language(secure, origin, pages)
        assert set(cookies) == {"lang"}
        lang = cookies["lang"]
        assert lang["value"] == "en" and lang["sameSite"] == "Lax" and lang["secure"] is True
        await secure.close()
