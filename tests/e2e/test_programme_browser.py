"""The programme editor in real Chromium: an organiser builds the seed network's spring
season and one conference slot by clicking, postpones one meeting, sets another to date
to come and copies the season; an agenda edit during a live session appears on a phone
and the big screen without a reload. Every kind of editor page is checked with axe-core
(WCAG 2.1 A/AA), measured for clipping on a laptop and a tablet both ways round, and
photographed."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import (
    LAPTOP,
    OUTPUT,
    PHONE,
    SCREEN,
    TABLET,
    axe_violations,
    new_page,
    screenshot,
)
from tests.e2e.conftest import SESSION, Room
from tests.e2e.organisers import add_organiser
from tests.serverproc import ServerProcess

SV = catalogue("sv")
PORTRAIT = {"width": 768, "height": 1024}
VIEWPORTS = {"laptop": LAPTOP, "tablet-portrait": PORTRAIT, "tablet-landscape": TABLET}
NETWORK = "ledarskap"
ANKI = ("Anki Udd", "ledarskapsexpert och ledarutvecklare", "Ledarna")
KLARAHUSET = "Klarahuset, Drottninggatan 33"
expect.set_options(timeout=15_000)

# The seed network's spring season: (title, date, guests as (item title, minutes, name,
# title, organisation)); every meeting 09.30-12.30 at Klarahuset with fika and discussion.
MEETINGS = [
    (
        "Omorganisationer i offentlig sektor",
        "",
        [
            (
                "Omorganisationer i offentlig sektor",
                55,
                "Daniel Ericsson",
                "docent vid Ekonomihögskolan",
                "Linnéuniversitetet",
            ),
            (
                "Förutsättningar för offentligt ledarskap – Chefios-projektet",
                55,
                "Annika Härenstam",
                "professor emerita vid psykologiska institutionen",
                "Stockholms universitet",
            ),
        ],
    ),
    (
        "En myndighets förändringsresa",
        "2020-05-05",
        [
            (
                "En myndighets förändringsresa",
                75,
                "Clas Olsson",
                "generaldirektör",
                "Ekonomistyrningsverket",
            )
        ],
    ),
    (
        "Hållbarhet, transparent ledarskap och lönsamhet – i allmännyttan",
        "2020-05-15",
        [
            (
                "Hållbarhet, transparent ledarskap och lönsamhet – i allmännyttan",
                75,
                "Chris Österlund",
                "vd och ”Årets offentliga ledare 2019”",
                "Botkyrkabyggen",
            )
        ],
    ),
    ("Digitalisering och ett sunt arbetsliv för chefer", "", []),
]
THEMES = [
    ("Tema 1: Digitalisering", "Session 2: Verksamhetsutveckling och agilitet – hur gör man?"),
    (
        "Tema 2: Styrning & uthållighet",
        "Session 2: Kommunalt självstyre och fragmenterad styrning – vägar framåt",
    ),
    ("Tema 3: Organisering & arbetsmiljö", "Session 2: När krisen är ett faktum"),
    ("Tema 4: Leda för framtidens välfärd", "Session 2: Leda för tillit"),
]


async def checked(page: Page, name: str | None = None, heading: bool = True) -> None:
    """No axe-core violations, no console errors, nothing wider than the viewport, the
    heading on the first screen (unless the page was scrolled to an error); and a
    screenshot when named."""
    assert await axe_violations(page) == [], page.url
    errors = [
        e
        for e in page.console_errors  # type: ignore[attr-defined]
        if not e.startswith("Failed to load resource: the server responded with a status of 40")
    ]
    assert errors == [], errors
    width = await page.evaluate("() => window.innerWidth")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= width, page.url
    clipped = await page.evaluate(
        """(width) => [...document.querySelectorAll(`main input:not([type=hidden]), main select,
                main textarea, main button, main a, main h1, main .child-title`)]
            .filter((e) => e.offsetParent !== null)
            .map((e) => { const r = e.getBoundingClientRect();
                          return {what: e.id || e.textContent.trim().slice(0, 40), left: r.left,
                                  right: r.right,
                                  // A text box scrolls its own text; anything else must fit.
                                  scroll: e.matches('input, textarea, select') ? 0
                                          : e.scrollWidth - e.clientWidth}; })
            .filter((b) => b.left < 0 || b.right > width + 0.5 || b.scroll > 1)""",
        width,
    )
    assert clipped == [], clipped
    if heading:
        box = await page.locator("main h1").bounding_box()
        height = await page.evaluate("() => window.innerHeight")
        assert box is not None and box["y"] + box["height"] <= height
    if name:
        await screenshot(page, name)


async def click(page: Page, button: str) -> None:
    """Press a button by its name and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.get_by_role("button", name=button, exact=True).click()


async def fill(page: Page, values: dict[str, str]) -> None:
    """Type into fields by id; selects get their option chosen."""
    for field, value in values.items():
        box = page.locator(f"#{field}")
        if await box.evaluate("(e) => e.tagName") == "SELECT":
            await box.select_option(value)
        else:
            await box.fill(value)


async def open_row(page: Page, title: str) -> None:
    """Follow the link of a listed child by its title."""
    async with page.expect_navigation():
        await page.locator(".child-title", has_text=title).first.click()


async def add_item(
    page: Page,
    title: str,
    kind: str,
    start: str,
    minutes: int,
    speaker: tuple[str, str, str] | None = None,
) -> None:
    values = {"add-title": title, "add-kind": kind, "add-start": start, "add-minutes": str(minutes)}
    if speaker:
        values |= {
            "add-speaker_0_name": speaker[0],
            "add-speaker_0_title": speaker[1],
            "add-speaker_0_organisation": speaker[2],
        }
    await fill(page, values)
    await click(page, SV["programme.add_item"])
    await expect(page.locator(".agenda-edit .child-title").last).to_have_text(title)


async def sign_in(
    chrome: Browser,
    server: ServerProcess,
    email: str,
    viewport: dict[str, int] = LAPTOP,
    *networks: str,
) -> Page:
    """A browser signed in through the one-time link of `companion organiser add`."""
    link = add_organiser(server, email, *networks)
    _, page = await new_page(chrome, viewport)
    await page.goto(link)
    await click(page, SV["organise.continue"])
    return page


async def build_spring_season(page: Page, base: str) -> None:
    """The seed network and its spring season, clicked together."""
    await page.goto(base + "/organise")
    async with page.expect_navigation():
        await page.get_by_role("link", name=SV["programme.new_network"]).click()
    await fill(
        page,
        {
            "f-title": "Ledarskap och innovation i offentlig sektor",
            "f-id": NETWORK,
            "f-contact": "natverk@altinget.se",
            "f-moderator_name": ANKI[0],
            "f-moderator_title": ANKI[1],
            "f-moderator_organisation": ANKI[2],
        },
    )
    await click(page, SV["programme.create_network"])
    await fill(page, {"add-title": "Våren 2020", "add-id": "varen-2020"})
    await click(page, SV["programme.add_season"])
    await open_row(page, "Våren 2020")
    for title, date, _ in MEETINGS:
        await fill(
            page,
            {
                "add-title": title,
                "add-date": date,
                "add-start": "09.30",
                "add-end": "12.30",
                "add-venue": KLARAHUSET,
            },
        )
        await click(page, SV["programme.add_event"])
    season_url = page.url.split("?")[0]
    for title, _, guests in MEETINGS:
        await page.goto(season_url)
        await open_row(page, title)
        await fill(page, {"add-title": title})
        await click(page, SV["programme.add_session"])
        await open_row(page, title)
        # The session's moderator, then its agenda: welcome, guests in dialogue, fika,
        # discussion, closing — exactly 09.30-12.30.
        await fill(
            page,
            {
                "f-moderator_name": ANKI[0],
                "f-moderator_title": ANKI[1],
                "f-moderator_organisation": ANKI[2],
            },
        )
        await click(page, SV["programme.save"])
        await add_item(page, "Välkommen", "talk", "09.30", 10, ANKI)
        if len(guests) == 2:
            first, second = guests
            await add_item(page, first[0], "dialogue", "09.40", first[1], first[2:])
            await add_item(page, "Fika", "break", "10.35", 20)
            await add_item(page, second[0], "dialogue", "10.55", second[1], second[2:])
            await add_item(page, "Diskussion", "discussion", "11.50", 30)
            await add_item(page, "Avslutning", "talk", "12.20", 10, ANKI)
        else:
            guest = guests[0] if guests else None
            await add_item(
                page,
                guest[0] if guest else "Samtal med gäst",
                "dialogue",
                "09.40",
                75,
                guest[2:] if guest else None,
            )
            await add_item(page, "Fika", "break", "10.55", 20)
            await add_item(page, "Diskussion", "discussion", "11.15", 60)
            await add_item(page, "Avslutning", "talk", "12.15", 15, ANKI)


async def build_conference_slot(page: Page, base: str) -> None:
    """The seed conference: one slot with four parallel theme sessions."""
    await page.goto(base + "/organise/networks/new")
    await fill(page, {"f-title": "Temasessioner", "f-id": "temasessioner"})
    await click(page, SV["programme.create_network"])
    await fill(page, {"add-title": "Januari 2019"})
    await click(page, SV["programme.add_season"])
    await open_row(page, "Januari 2019")
    await fill(
        page,
        {
            "add-title": "Temasessioner - Session 2",
            "add-date": "2019-01-10",
            "add-start": "09.30",
            "add-end": "11.45",
        },
    )
    await click(page, SV["programme.add_event"])
    await open_row(page, "Temasessioner - Session 2")
    for n, (theme, _) in enumerate(THEMES, 1):
        await fill(page, {"track-title": theme, "track-id": f"tema-{n}"})
        await click(page, SV["programme.add_track"])
    for n, (_, session) in enumerate(THEMES, 1):
        await fill(
            page, {"add-title": session, "add-track": f"tema-{n}", "add-id": f"tema-{n}-session-2"}
        )
        await click(page, SV["programme.add_session"])


async def test_an_organiser_builds_the_seed_season_and_conference_by_clicking(
    chrome: Browser, tmp_path: Path
) -> None:
    """From an empty service: the network, its spring season (four meetings of the seed
    with full agendas), the conference slot with four parallel themes; one meeting
    postponed until further notice, one set to date to come; the season copied with dates
    cleared and new codes. The time the build takes is written to build/test-output."""
    server = ServerProcess(tmp_path)
    server.start()
    try:
        page = await sign_in(chrome, server, "anna.andersson@altinget.se")
        began = time.monotonic()
        await build_spring_season(page, server.http)
        season_done = time.monotonic()
        await build_conference_slot(page, server.http)
        built = time.monotonic()
        OUTPUT.mkdir(parents=True, exist_ok=True)
        (OUTPUT / "programme-build-seconds.txt").write_text(
            f"spring season (4 meetings, 21 agenda items): {season_done - began:.1f} s\n"
            f"conference slot (4 themes, 4 sessions): {built - season_done:.1f} s\n"
            f"total: {built - began:.1f} s\n"
        )
        print(f"\nseed build by clicking: {built - began:.1f} s")

        # The conference page: four parallel sessions, each under its theme.
        rows = page.locator("li.child-row[id^='session-']")
        await expect(rows).to_have_count(4)
        for (theme, session), row in zip(THEMES, await rows.all(), strict=True):
            await expect(row).to_contain_text(session)
            await expect(row).to_contain_text(theme)
        await checked(page)
        # Moving by keyboard: Enter on "down" twice; the focus stays on the moved row.
        down = page.get_by_role("button", name=f"Flytta ned: {THEMES[0][1]}")
        await down.focus()
        for _ in range(2):
            await expect(down).to_be_focused()
            async with page.expect_navigation():
                await page.keyboard.press("Enter")
        await expect(rows.nth(2)).to_contain_text(THEMES[0][1])
        await expect(down).to_be_focused()
        await checked(page, heading=False)

        # Postpone one meeting until further notice; the last one: date to come.
        season = f"{server.http}/organise/networks/{NETWORK}/seasons/varen-2020"
        await page.goto(season)
        await open_row(page, MEETINGS[0][0])
        await fill(
            page,
            {
                "f-status": "postponed",
                "f-note": "OBS: Denna träff är uppskjuten tills vidare. Mer info kommer.",
            },
        )
        await click(page, SV["programme.save"])
        await expect(page.get_by_role("status")).to_have_text(SV["programme.saved"])
        await page.goto(season)
        await open_row(page, MEETINGS[3][0])
        await fill(
            page,
            {"f-status": "date-to-come", "f-note": "(Juni 2020. Mer info och datum kommer snart)"},
        )
        await click(page, SV["programme.save"])
        await page.goto(season)
        statuses = page.locator(".child-row .status")
        await expect(statuses).to_have_text(
            [
                SV["common.status_postponed"],
                SV["common.status_scheduled"],
                SV["common.status_scheduled"],
                SV["common.status_date-to-come"],
            ]
        )
        await expect(page.locator(".child-row").nth(1)).to_contain_text(
            "tisdag 5 maj 2020, 09.30–12.30"
        )

        # Copy the season: dates cleared (date to come), new codes and moderator links.
        before = server.access()
        await fill(page, {"copy-title": "Hösten 2020", "copy-id": "hosten-2020"})
        await click(page, SV["programme.copy_season_button"])
        await expect(page.locator("main h1")).to_have_text("Hösten 2020")
        await expect(page.locator(".child-row .status")).to_have_text(
            [SV["common.status_date-to-come"]] * 4
        )
        await expect(page.locator(".child-row .event-when").first).to_contain_text("09.30–12.30")
        after = server.access()
        fresh = {sid: secret for sid, secret in after.items() if sid not in before}
        assert len(fresh) == 4
        old_codes = {code for code, _ in before.values()}
        old_keys = {key for _, key in before.values()}
        assert all(c not in old_codes and k not in old_keys for c, k in fresh.values())
        # The copy's agendas came along.
        await open_row(page, MEETINGS[1][0])
        await open_row(page, MEETINGS[1][0])
        await expect(page.locator(".agenda-edit .child-title")).to_have_text(
            ["Välkommen", MEETINGS[1][0], "Fika", "Diskussion", "Avslutning"]
        )

        # Bad input in the browser: the error beside its field, nothing saved.
        await fill(
            page,
            {
                "add-title": "För sent",
                "add-kind": "talk",
                "add-start": "12.25",
                "add-minutes": "10",
            },
        )
        await click(page, SV["programme.add_item"])
        await expect(page.locator("#add-minutes-error")).to_have_text(
            "Punkten slutar 12.35, efter att träffen slutar 12.30."
        )
        await expect(page.locator("#add-minutes")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator(".agenda-edit .child-row")).to_have_count(5)
        await checked(page, heading=False)
    finally:
        server.stop()
    assert "Traceback" not in server.log()


async def test_editor_pages_on_a_laptop_and_a_tablet(
    chrome: Browser, server: ServerProcess
) -> None:
    """Every kind of editor page with the demo's real content (long descriptions, many
    items, four parallel sessions), plus a 60-letter word: no axe violations, nothing
    clipped, the heading on the first screen, at 1280×800 and at 768×1024 both ways."""
    network = "ledarskap-och-innovation"
    season = f"/organise/networks/{network}/seasons/varen-2020"
    conference = "/organise/networks/temasessioner/seasons/januari-2019/events/session-2-2019-01-10"
    long_word = "Verksamhetsutvecklingssamordningsfunktionsansvarighetsfrågorna"
    for viewport_name, viewport in VIEWPORTS.items():
        page = await sign_in(
            chrome, server, f"{viewport_name}@kommun.se", viewport, network, "temasessioner"
        )
        base = server.http
        pages = {
            "network": f"/organise/networks/{network}/programme",
            "season": season,
            "event": conference,
            "session": f"{season}/events/forandringsresa/sessions/{SESSION}",
            "item": f"{season}/events/forandringsresa/sessions/{SESSION}/items/samtal-olsson",
            "confirm": f"{season}/delete?what=event&id=forandringsresa",
        }
        for kind, path in pages.items():
            await page.goto(base + path)
            await checked(page, f"organise-programme-{kind}-{viewport_name}")
        # A long word in a title and an error beside a field still fit.
        await page.goto(base + conference)
        await fill(page, {"add-title": long_word + " " + long_word, "add-id": "Ogiltigt Id"})
        await click(page, SV["programme.add_session"])
        await expect(page.locator("#add-id-error")).to_be_visible()
        await expect(page.locator("#add-id")).to_be_focused()
        error = await page.locator("#add-id-error").bounding_box()
        assert error is not None and 0 <= error["y"] <= viewport["height"] - error["height"]
        await checked(page, f"organise-programme-error-{viewport_name}", heading=False)
        # The language switch on a page drawn in answer to a form opens the page again
        # (a GET), instead of posting the form a second time.
        await page.locator("#lang-switch").click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page).to_have_url(base + conference)
        await page.goto(base + season)
        await expect(page.get_by_role("heading", name="Meetings")).to_be_visible()
        await checked(page)
        await page.context.close()


async def test_an_agenda_edit_appears_on_a_phone_and_the_big_screen_without_reload(
    chrome: Browser, server: ServerProcess, room: Room
) -> None:
    """The organiser retitles the current and the next item while the session runs: the
    phone's and the big screen's "now" and "next", and the console's agenda and poll-item
    choices, change in place (no page is reloaded); the question on the phone stays."""
    moderator = await room.moderator()
    await moderator.request({"type": "agenda.goto", "item": "samtal-olsson"})
    _, phone = await new_page(chrome, PHONE)
    await phone.goto(f"{server.http}/room/{room.code}")
    await expect(phone.locator("body")).to_have_attribute("data-connection", "live")
    await phone.evaluate("() => { window.notReloaded = true; }")
    await phone.locator("#question-text").fill("Hur blir man Sveriges modernaste myndighet?")
    await phone.click("#ask-submit")
    _, screen = await new_page(chrome, SCREEN)
    await screen.goto(f"{server.http}/screen/{room.code}")
    await expect(screen.locator("#screen-current")).to_have_text("En myndighets förändringsresa")
    await screen.evaluate("() => { window.notReloaded = true; }")

    _, console = await new_page(chrome, TABLET)
    await console.goto(f"{server.http}/moderate/{SESSION}#key={room.moderator_token}")
    await expect(console.locator("body")).to_have_attribute("data-connection", "live")
    await console.evaluate("() => { window.notReloaded = true; }")

    organiser = await sign_in(chrome, server, "anna@kommun.se", LAPTOP, "ledarskap-och-innovation")
    agenda = (
        f"{server.http}/organise/networks/ledarskap-och-innovation/seasons/varen-2020"
        f"/events/forandringsresa/sessions/{SESSION}"
    )
    await organiser.goto(agenda + "/items/samtal-olsson")
    await expect(organiser.locator(".notice").first).to_have_text(SV["programme.item_is_current"])
    await fill(
        organiser, {"f-title": "En myndighets förändringsresa – samtal med generaldirektör för ESV"}
    )
    await click(organiser, SV["programme.save"])
    await expect(phone.locator("#current-item")).to_contain_text("generaldirektör för ESV")
    await expect(screen.locator("#screen-current")).to_contain_text("generaldirektör för ESV")

    # The next item, retitled: the phone's and the screen's "next" line follow.
    await organiser.goto(agenda + "/items/fika")
    await fill(organiser, {"f-title": "Fika och mingel"})
    await click(organiser, SV["programme.save"])
    await expect(phone.locator("#next-item")).to_contain_text("Fika och mingel")
    await expect(screen.locator("#screen-next")).to_contain_text("Fika och mingel")
    # The console: its agenda and the items a new poll can belong to follow too.
    await expect(console.locator("#current-title")).to_contain_text("generaldirektör för ESV")
    await expect(console.locator("#poll-item option[value='fika']")).to_have_text(
        "10.55 Fika och mingel"
    )
    assert await console.evaluate("() => window.notReloaded === true")
    assert await phone.evaluate("() => window.notReloaded === true")
    assert await screen.evaluate("() => window.notReloaded === true")
    await expect(phone.locator("main")).to_contain_text(
        "Hur blir man Sveriges modernaste myndighet?"
    )
    await screenshot(phone, "organise-programme-live-phone")
    await screenshot(screen, "organise-programme-live-screen")
