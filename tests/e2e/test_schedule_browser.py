"""The import and download page in Chromium: an organiser downloads the programme, uploads a
broken file (the error on the page, nothing changed) and the good one (the summary)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.browser import LAPTOP, chromium
from tests.e2e.test_programme_browser import checked, sign_in
from tests.serverproc import ServerProcess

NETWORK = "ledarskap-och-innovation"
TABLET_PORTRAIT = {"width": 768, "height": 1024}


@pytest.fixture
async def chrome() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest.mark.parametrize(("viewport", "name"), [(LAPTOP, "laptop"), (TABLET_PORTRAIT, "tablet")])
async def test_download_a_broken_upload_and_a_good_one(
    chrome: Browser, server: ServerProcess, tmp_path: Path, viewport: dict[str, int], name: str
) -> None:
    page = await sign_in(chrome, server, f"{name}@kommun.se", viewport, NETWORK)
    await page.goto(f"{server.http}/organise/networks/{NETWORK}/programme")
    await page.get_by_role("link", name="Läs in och hämta programmet").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Läs in och hämta programmet")
    title = await page.title()
    assert title.startswith("Läs in och hämta programmet: Ledarskap och innovation i offentlig")
    assert "<" not in title and len(title) < 120, title
    await checked(page, f"organise-import-{name}")
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Hämta programmet (YAML)").click()
    download = await info.value
    assert download.suggested_filename == f"{NETWORK}.yaml"
    good = tmp_path / "program.yaml"
    await download.save_as(good)
    broken = tmp_path / "trasig.yaml"
    broken.write_text(good.read_text("utf-8").replace("  contact:", "  kontakt:", 1), "utf-8")
    await page.get_by_label("Programfil (YAML)", exact=True).set_input_files(broken)
    await page.get_by_role("button", name="Läs in", exact=True).click()
    error = page.locator("#import-error")
    await expect(error).to_contain_text("Filen har ett fel och lästes inte in. Ingenting ändrades.")
    await expect(error).to_contain_text("trasig.yaml:")
    await expect(error).to_contain_text("unknown key 'kontakt'; did you mean 'contact'?")
    await checked(page, f"organise-import-error-{name}")
    await page.get_by_label("Programfil (YAML)", exact=True).set_input_files(good)
    await page.get_by_role("button", name="Läs in", exact=True).click()
    status = page.get_by_role("status")
    await expect(status).to_contain_text("Programmet är inläst.")
    await expect(status).to_contain_text("0 nya sessioner")
    await checked(page)
    await page.context.close()
