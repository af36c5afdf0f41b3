"""The public programme page of a network (`/networks/ID`) in headless Chromium, as the
first seed publishes its season: description and audience, the moderator, each meeting
with date, time, venue, guests and status, "subject to change", the contact address,
the calendar link and the way in to each session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import requests
from playwright.async_api import Browser, Page

from tests.e2e.browser import LAPTOP, PHONE, axe_violations, chromium, new_page, screenshot
from tests.e2e.organisers import signed_in
from tests.serverproc import ServerProcess

NETWORK = "ledarskap-och-innovation"
PAGE = f"/networks/{NETWORK}"


@pytest.fixture
async def chrome() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


def meeting_text(html_text: str) -> str:
    return " ".join(html_text.split())


async def boxes_fit(page: Page) -> list[dict[str, object]]:
    """Every heading, paragraph, list item, term, link and status in main that is wider
    than the viewport, starts left of it or clips its own text."""
    return await page.evaluate(
        """() => [...document.querySelectorAll(
                'main h1, main h2, main h3, main h4, main p, main li, main dt, main dd, main a,'
                + ' main .status')]
            .filter((e) => e.offsetParent !== null)
            .map((e) => { const r = e.getBoundingClientRect();
                          return {what: e.textContent.trim().slice(0, 40), left: r.left,
                                  right: r.right, scroll: e.scrollWidth - e.clientWidth}; })
            .filter((b) => b.left < 0 || b.right > window.innerWidth + 0.5 || b.scroll > 1)"""
    )


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "phone"), (LAPTOP, "laptop")])
async def test_the_seed_season_as_the_seed_shows_it(
    server: ServerProcess, chrome: Browser, viewport: dict[str, int], name: str
) -> None:
    """Swedish, at 360 and 1280 px: every seed fact in place, nothing clipped or wider than
    the screen, the join link leads to the session's join page, 0 axe violations."""
    context, page = await new_page(chrome, viewport)
    await page.goto(server.http + "/")
    await page.get_by_role("link", name="Nätverkets programsida").first.click()
    await page.wait_for_url(server.http + PAGE)
    assert await page.locator("h1").inner_text() == "Ledarskap och innovation i offentlig sektor"
    main = page.locator("main")
    text = meeting_text(await main.inner_text())
    for fact in (
        "Kommuner, stat och regioner står inför betydande utmaningar",
        "Målgrupp",
        "Nätverket riktar sig till chefer och ledare på både statlig-, regional- och "
        "kommunal nivå.",
        "Samtalsledare",
        "Anki Udd, ledarskapsexpert och ledarutvecklare, Ledarna",
        "Våren 2020",
        "Programmet kan komma att ändras.",
        "Har du frågor, tips eller synpunkter? Kontakta oss gärna på natverk@altinget.se",
    ):
        assert fact in text, fact
    meetings = page.locator("li.meeting")
    assert await meetings.count() == 4
    postponed = meeting_text(await page.locator("#omorganisationer").inner_text())
    assert "Uppskjuten tills vidare" in postponed
    assert "Datum Datum meddelas senare" in postponed
    assert "Daniel Ericsson, docent vid Ekonomihögskolan, Linnéuniversitetet" in postponed
    assert "Annika Härenstam, professor emerita" in postponed
    assert "OBS: Denna träff är uppskjuten tills vidare. Mer info kommer." in postponed
    may5 = meeting_text(await page.locator("#forandringsresa").inner_text())
    for fact in (
        "Datum tisdag 5 maj 2020",
        "Tid 09.30–12.30",
        "Plats Klarahuset, Drottninggatan 33",
        "Clas Olsson, generaldirektör, Ekonomistyrningsverket",
    ):
        assert fact in may5, fact
    assert "Anki Udd" not in may5  # the moderator is named once, above
    may15 = meeting_text(await page.locator("#hallbarhet-allmannyttan").inner_text())
    assert "fredag 15 maj 2020" in may15 and "Chris Österlund" in may15
    june = meeting_text(await page.locator("#digitalisering-arbetsliv").inner_text())
    assert (
        "Datum meddelas senare" in june and "(Juni 2020. Mer info och datum kommer snart)" in june
    )
    # The way in: only the dated, planned meetings; none for postponed or date to come.
    assert await page.locator("#omorganisationer .way-in").count() == 0
    assert await page.locator("#digitalisering-arbetsliv .way-in").count() == 0
    code = server.access()["ledarskap-2020-05-05"][0]
    link = page.locator("#forandringsresa .way-in a")
    assert await link.get_attribute("href") == f"/j/{code}"
    calendar = page.get_by_role("link", name="Prenumerera på träffarna i din kalender (.ics)")
    assert await calendar.get_attribute("href") == f"{PAGE}/calendar.ics"
    # Measured: nothing wider than the screen, nothing clipped; the title on the first screen.
    width = await page.evaluate("() => window.innerWidth")
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= width
    assert await boxes_fit(page) == []
    title = await page.locator("h1").bounding_box()
    assert title is not None and title["y"] + title["height"] <= viewport["height"]
    assert await axe_violations(page) == []
    await screenshot(page, f"network-page-{name}")
    await page.locator("#forandringsresa").scroll_into_view_if_needed()
    await screenshot(page, f"network-page-{name}-meeting")
    await link.click()
    await page.wait_for_url(f"{server.http}/j/{code}")
    assert page.console_errors == []  # type: ignore[attr-defined]
    await context.close()


async def test_english_by_the_language_switch(server: ServerProcess, chrome: Browser) -> None:
    """The switch reloads the page in English: labels, dates and statuses all English."""
    context, page = await new_page(chrome, PHONE)
    await page.goto(server.http + PAGE)
    await page.locator("#lang-switch").click()
    await page.wait_for_function(
        "() => document.querySelector('h2#audience-heading').textContent === 'Who it is for'"
    )
    await page.wait_for_load_state()
    may5 = meeting_text(await page.locator("#forandringsresa").inner_text())
    assert "Date Tuesday 5 May 2020" in may5 and "Time 09:30–12:30" in may5
    postponed = meeting_text(await page.locator("#omorganisationer").inner_text())
    assert "Postponed until further notice" in postponed
    assert "The programme is subject to change." in await page.locator("main").inner_text()
    assert await axe_violations(page) == []
    await context.close()


def test_the_editor_sets_the_audience_the_page_shows(server: ServerProcess) -> None:
    """The audience is a field of the network's editor form; the public page shows the
    saved text at once, escaped."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    saved = anna.post(
        f"/organise/networks/{NETWORK}/programme",
        {
            "title": "Ledarskap och innovation i offentlig sektor",
            "audience": "Chefer i kommuner & <regioner>",
            "contact": "natverk@altinget.se",
            "moderator_name": "Anki Udd",
        },
    )
    assert saved.status_code == 303, saved.text
    form = anna.get(f"/organise/networks/{NETWORK}/programme").text
    assert 'name="audience"' in form and "Chefer i kommuner &amp; &lt;regioner&gt;" in form
    page = requests.get(server.http + PAGE, timeout=10).text
    assert "<p>Chefer i kommuner &amp; &lt;regioner&gt;</p>" in page


def test_an_unknown_network_is_a_404_page(server: ServerProcess) -> None:
    """A clear page, escaped, no trace."""
    answer = requests.get(
        server.http + "/networks/%3Cscript%3E", headers={"accept-language": "sv"}, timeout=10
    )
    assert answer.status_code == 404
    assert "Nätverket finns inte" in answer.text
    assert "<script>" not in answer.text.split("</head>")[1].replace('<script type="module"', "")
    assert "&lt;script&gt;" in answer.text


def test_members_only_sessions_show_their_way_in_only_to_members(server: ServerProcess) -> None:
    """A members-only session's join link (its code is the room's) is left out of the
    public page, which says the session is for members; a browser whose personal link
    for the network stands sees the way in (to the remote page) and a welcome by name; a
    revoked link shows the public page again."""
    from tests.e2e.members import MemberBrowser, add_member, new_link, revoke, set_members_only

    anna = signed_in(server, "anna@kommun.se", NETWORK)
    code = server.access()["ledarskap-2020-05-05"][0]
    sv = {"accept-language": "sv"}
    assert f'href="/j/{code}"' in requests.get(server.http + PAGE, headers=sv, timeout=10).text
    set_members_only(anna)
    public = requests.get(server.http + PAGE, headers=sv, timeout=10).text
    assert code not in public
    assert "Bara för medlemmar: gå med med din personliga länk." in public
    member_id = add_member(anna, "Åsa <Öberg>", "asa@region.se")
    browser = MemberBrowser(server)
    browser.open_link(new_link(anna, member_id))
    page = browser.http.get(server.http + PAGE, timeout=10).text
    assert f'href="/remote/{code}"' in page
    assert "Välkommen, Åsa &lt;Öberg&gt;!" in page  # escaped like every text
    other = MemberBrowser(server)  # a member of no network: the public page
    assert code not in other.http.get(server.http + PAGE, timeout=10).text
    revoke(anna, member_id)
    after = browser.http.get(server.http + PAGE, timeout=10).text
    assert code not in after and "member-welcome" not in after
