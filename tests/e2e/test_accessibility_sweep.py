"""Every page in the states it takes during a meeting, in one server and one Chromium:
axe-core finds no WCAG 2.1 A/AA violation, every control is at least 44×44 CSS px on the
phone, remote page and console, and the participant pages reflow at 320 CSS px and at
200 % zoom (a 1280 px window at twice the scale) without sideways scrolling or clipped
text, their main control reachable inside the screen's width."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from tests.e2e.accessibility import reflow_problems, small_targets
from tests.e2e.browser import axe_violations, chromium, new_page, screenshot
from tests.e2e.conftest import Room, started
from tests.e2e.organisers import PASSWORD, signed_in
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.asyncio(loop_scope="module")
expect.set_options(timeout=10_000)

LONG = "Förändringsledningskompetensutvecklingsprogrammet"
NETWORK = "ledarskap-och-innovation"
PHONE = {"width": 360, "height": 800}
REMOTE = {"width": 1280, "height": 800}
LANDSCAPE = {"width": 1180, "height": 820}
PORTRAIT = {"width": 820, "height": 1180}
BIG_SCREEN = {"width": 1920, "height": 1080}
NARROW = {"width": 320, "height": 640}
ZOOMED = {"width": 640, "height": 400}  # a 1280×800 window at 200 % zoom, in CSS px
POLLS = [
    {"kind": "single", "text": "Passar tiden för nästa träff?", "options": ["Ja", "Nej"]},
    {
        "kind": "multiple",
        "text": "Vilka teman vill ni fördjupa?",
        "options": ["Digitalisering", LONG, "Arbetsmiljö", "Tillitsbaserad styrning"],
        "max_choices": 2,
    },
    {"kind": "rating", "text": "Hur nöjd är du med förmiddagen?", "scale": 10},
    {"kind": "words", "text": "Ett ord om dagen?"},
    {"kind": "single", "text": "Var passet lagom långt?", "options": ["Ja", "Nej"]},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with started(ServerProcess(tmp_path_factory.mktemp("sweep"))) as proc:
        yield proc


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def meeting(server: ServerProcess) -> AsyncIterator[tuple[Room, Client]]:
    """Twelve questions (long Swedish words, votes, one highlighted), one poll of each kind
    open with answers and a closed one; the moderator stays connected."""
    opened: list[Client] = []
    room = Room(server, opened)
    moderator = await room.moderator()
    people = [await room.participant("room", name=f"Deltagare {n}") for n in range(6)]
    ids = []
    for n in range(12):
        text = f"Fråga {n + 1}: hur påverkar {LONG if n % 3 == 0 else 'samverkan'} vårt arbete?"
        ack = await people[n % 6].request({"type": "ask", "text": text})
        ids.append(ack["question"])
    for person in people[:4]:
        await person.request({"type": "vote", "question": ids[0]})
    await moderator.request({"type": "question.highlight", "question": ids[1]})
    for number, poll in enumerate(POLLS, start=1):
        assert (await moderator.request({"type": "poll.create", **poll}))["type"] == "ack"
        await moderator.request({"type": "poll.open", "poll": number})
    for n, person in enumerate(people):
        await person.request({"type": "poll.answer", "poll": 4, "answer": ["tillit", "mod"][n % 2]})
        await person.request({"type": "poll.answer", "poll": 5, "answer": 1 + n % 2})
    await moderator.request({"type": "poll.close", "poll": 5})
    yield room, moderator
    for client in opened:
        await client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def live(page: Page, url: str) -> None:
    await page.goto(url)
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")


async def accessible(page: Page, where: str) -> None:
    """No axe-core violation, and no control under 44×44 CSS px."""
    found = await axe_violations(page)
    assert found == [], f"{where}: {json.dumps(found, ensure_ascii=False, indent=1)}"
    small = await small_targets(page)
    assert small == [], f"{where}: {small}"


async def test_participant_pages_in_every_poll_state(
    browser: Browser, meeting: tuple[Room, Client]
) -> None:
    """Landing, join, the legal pages, then the phone (360×800) and the remote page
    (1280×800) with twelve questions, each kind of poll open and answered, and the closed
    results unfolded."""
    room, _ = meeting
    http = room.server.http
    _, phone = await new_page(browser, PHONE)
    for path in ("/", f"/j/{room.code}", "/privacy", "/accessibility"):
        await phone.goto(http + path)
        await accessible(phone, path)
    await live(phone, f"{http}/room/{room.code}")
    await expect(phone.locator("li.question")).to_have_count(12)
    cards = phone.locator("#poll-list li.poll-card")
    await expect(cards).to_have_count(4)
    await accessible(phone, "phone with four open polls")
    for kind, answer in (("single", "Ja"), ("multiple", "Digitalisering"), ("rating", "7")):
        card = phone.locator(f'#poll-list li.poll-card[data-kind="{kind}"]')
        await card.get_by_label(answer, exact=True).check()
        await card.locator("button[type=submit]").click()
        await expect(card.locator(".poll-mine")).to_be_visible()
        await accessible(phone, f"phone after answering the {kind} poll")
    words = phone.locator('#poll-list li.poll-card[data-kind="words"]')
    await words.locator("input[type=text]").fill("samverkan")
    await words.locator("button[type=submit]").click()
    await expect(words.locator(".poll-mine")).to_be_visible()
    await phone.locator("#poll-results summary").click()
    await expect(phone.locator("#poll-results-list li.poll-card")).to_have_count(1)
    await accessible(phone, "phone with every poll answered and the results open")
    await phone.locator("#my-data-fold summary").click()
    await expect(phone.locator("#my-data-body")).to_be_visible()
    await accessible(phone, "phone with 'Mina uppgifter' open")

    _, remote = await new_page(browser, REMOTE)
    await live(remote, f"{http}/remote/{room.code}")
    await expect(remote.locator("li.question")).to_have_count(12)
    await accessible(remote, "remote page with four open polls")
    await remote.locator("#poll-results summary").click()
    await accessible(remote, "remote page with the results open")
    for page in (phone, remote):
        assert page.console_errors == []  # type: ignore[attr-defined]
        await page.context.close()


async def test_console_in_both_tablet_orientations(
    browser: Browser, meeting: tuple[Room, Client]
) -> None:
    """The console at 1180×820 and 820×1180: questions, every panel and tab, every fold
    open, a question being edited and the merge dialog open."""
    room, _ = meeting
    for size in (LANDSCAPE, PORTRAIT):
        where = f"console {size['width']}×{size['height']}"
        _, console = await new_page(browser, size)
        await console.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
        await expect(console.locator("#console")).not_to_have_attribute("aria-busy", "true")
        await expect(console.locator("#queue li.question").first).to_be_visible()
        await accessible(console, where)
        nav = console.locator("#mod-nav")
        if await nav.is_visible():  # portrait: one panel at a time
            for view in ("hands", "agenda", "polls", "stream", "access", "questions"):
                await nav.locator(f"[data-view={view}]").click()
                await accessible(console, f"{where}, {view}")
        for tab in ("pending", "answered", "hidden", "live"):
            await console.locator(f"#tab-{tab}").click()
            await accessible(console, f"{where}, {tab} questions")
        # Every fold open (new poll form, OBS settings, access): their fields are measured too.
        await console.evaluate(
            "() => document.querySelectorAll('details').forEach((d) => { d.open = true; })"
        )
        await accessible(console, f"{where}, every fold open")
        row = console.locator("#queue li.question").first
        await row.locator("[data-action=edit]").click()
        await expect(row.locator("textarea")).to_be_visible()
        await accessible(console, f"{where}, editing a question")
        await row.locator("textarea").press("Escape")
        await row.locator("[data-action=merge]").click()
        await expect(console.locator("#merge-dialog")).to_be_visible()
        await accessible(console, f"{where}, merge dialog")
        await screenshot(console, f"a11y-console-{size['width']}x{size['height']}")
        assert console.console_errors == []  # type: ignore[attr-defined]
        await console.context.close()


@pytest.mark.parametrize(
    ("viewport", "scale"), [(NARROW, 1), (ZOOMED, 2)], ids=["320px", "zoom200"]
)
async def test_participant_pages_reflow(
    browser: Browser, meeting: tuple[Room, Client], viewport: dict[str, int], scale: int
) -> None:
    """At 320 CSS px and at 200 % zoom: no sideways scrolling, no text or control outside
    the screen or cut off, and the participant pages' main control inside the screen's
    width; the big screen, console, stage monitor, camera page and sign-in too."""
    room, _ = meeting
    http = room.server.http
    name = "320" if scale == 1 else "zoom200"
    _, page = await new_page(browser, viewport, device_scale_factor=scale)

    async def reflows(where: str, main: str | None) -> None:
        problems = await reflow_problems(page)
        assert problems == [], f"{where}: {problems}"
        if main:
            control = page.locator(main).first
            await control.scroll_into_view_if_needed()
            box = await control.bounding_box()
            assert (
                box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
            ), (where, box)

    for path, main in (
        ("/", "#code"),
        (f"/j/{room.code}", "#join-name"),
        ("/privacy", None),
        ("/accessibility", None),
        (f"/networks/{NETWORK}", None),
    ):
        await page.goto(http + path)
        await reflows(path, main)
    await page.goto(http + "/")
    await screenshot(page, f"a11y-landing-{name}")
    for path in (f"/room/{room.code}", f"/remote/{room.code}"):
        await live(page, http + path)
        await expect(page.locator("li.question")).to_have_count(12)
        await reflows(path, "#question-text")
        await page.evaluate("() => window.scrollTo(0, 0)")
        await screenshot(page, f"a11y-{path.split('/')[1]}-{name}")
        await page.locator("#poll-list li.poll-card").nth(1).scroll_into_view_if_needed()
        await screenshot(page, f"a11y-{path.split('/')[1]}-polls-{name}")
        vote = page.locator("li.question .vote-button").first
        await reflows(path + " vote", None)
        box = await vote.bounding_box()
        assert box is not None and box["x"] + box["width"] <= viewport["width"], box
        await page.locator("#poll-results summary").click()
        await reflows(path + " with results", None)
        await page.locator("#my-data-fold summary").click()
        await expect(page.locator("#my-data-body")).to_be_visible()
        await reflows(path + " with 'Mina uppgifter' open", None)
    key = f"#key={room.moderator_token}"
    for path in (
        f"/screen/{room.code}",
        f"/moderate/{room.session}{key}",
        f"/stage/{room.session}{key}",
        f"/camera/{room.session}{key}",
        "/organise/signin",
    ):
        await page.goto(http + path)
        await page.wait_for_load_state("networkidle")
        await reflows(path.split("#")[0], None)
        if path.startswith("/screen"):
            await expect(page.locator("#screen-question")).to_be_visible()
            await reflows("big screen with a question", None)
            await screenshot(page, f"a11y-screen-{name}")
    await page.context.close()


async def test_big_screen_stage_camera_and_report(
    browser: Browser, meeting: tuple[Room, Client]
) -> None:
    """The big screen (1920×1080) with a highlighted question, a poll, a rating and a word
    cloud; the stage monitor, the camera page and the report."""
    room, moderator = meeting
    http = room.server.http
    _, screen = await new_page(browser, BIG_SCREEN)
    await live(screen, f"{http}/screen/{room.code}")
    await expect(screen.locator("#screen-question")).to_be_visible()
    await accessible(screen, "screen with a highlighted question")
    for number, shown in ((1, ".poll-label"), (3, ".poll-label"), (4, ".poll-word")):
        await moderator.request({"type": "poll.show", "poll": number})
        await expect(screen.locator(f"#screen-poll {shown}").first).to_be_visible()
        await accessible(screen, f"screen with poll {number}")
    _, stage = await new_page(browser, REMOTE)
    await stage.goto(f"{http}/stage/{room.session}#key={room.moderator_token}")
    await expect(stage.locator("body")).to_have_attribute("data-connection", "live")
    await accessible(stage, "stage monitor")
    _, camera = await new_page(browser, REMOTE)
    await camera.goto(f"{http}/camera/{room.session}#key={room.moderator_token}")
    await expect(camera.locator("#obs")).to_be_visible()
    await accessible(camera, "camera page")
    _, report = await new_page(
        browser,
        {"width": 1024, "height": 800},
        extra_http_headers={"Authorization": f"Bearer {room.moderator_token}"},
    )
    await report.goto(f"{http}/moderate/{room.session}/report.html")
    await expect(report.locator(".poll").first).to_be_visible()
    await accessible(report, "report")
    for page in (screen, stage, report):
        assert page.console_errors == []  # type: ignore[attr-defined]
        await page.context.close()
    await camera.context.close()


async def test_organiser_and_public_pages(browser: Browser, meeting: tuple[Room, Client]) -> None:
    """Sign-in, the programme editor's network, season and session pages, the session's
    organiser page, the members page, and the public programme page."""
    room, _ = meeting
    http = room.server.http
    signed_in(room.server, "sweep@kommun.se", NETWORK)
    _, page = await new_page(browser, REMOTE)
    await page.goto(f"{http}/networks/{NETWORK}")
    await accessible(page, "public programme")
    await page.goto(f"{http}/organise/signin")
    await accessible(page, "sign-in")
    await page.fill("#f-email", "sweep@kommun.se")
    await page.fill("#f-password", PASSWORD)
    await page.get_by_role("button", name="Logga in").click()
    await expect(page.get_by_role("button", name="Logga ut")).to_be_visible()
    await accessible(page, "organiser start")
    season = f"/organise/networks/{NETWORK}/seasons/varen-2020"
    for path in (
        f"/organise/networks/{NETWORK}/programme",
        season,
        f"{season}/events/forandringsresa/sessions/{room.session}",
        f"/organise/sessions/{room.session}",
        f"/organise/networks/{NETWORK}/members",
    ):
        answer = await page.goto(http + path)
        assert answer is not None and answer.status == 200, path
        await accessible(page, path)
        # Reflow: layout follows CSS px, so a 640 px window is the 1280 one at 200 % zoom.
        for narrow in (NARROW, ZOOMED):
            await page.set_viewport_size(narrow)
            problems = await reflow_problems(page)
            assert problems == [], f"{path} at {narrow['width']} px: {problems}"
            await screenshot(page, f"a11y-{path.rstrip('/').split('/')[-1]}-{narrow['width']}")
        await page.set_viewport_size(REMOTE)
    await page.context.close()


async def test_participant_pages_and_console_in_english(
    browser: Browser, meeting: tuple[Room, Client]
) -> None:
    """The English texts (longer in places) on the phone at 360 and 320 px with the results
    and 'My data' open, and on the console in landscape: no violation, no small target, no
    sideways scrolling or clipped text."""
    room, _ = meeting
    http = room.server.http
    _, phone = await new_page(browser, PHONE, locale="en-GB")
    await live(phone, f"{http}/room/{room.code}")
    await expect(phone.locator("html")).to_have_attribute("lang", "en")
    await phone.locator("#poll-results summary").click()
    await phone.locator("#my-data-fold summary").click()
    await expect(phone.locator("#my-data-body")).to_be_visible()
    await accessible(phone, "phone in English")
    await phone.set_viewport_size(NARROW)
    problems = await reflow_problems(phone)
    assert problems == [], problems
    _, console = await new_page(browser, LANDSCAPE, locale="en-GB")
    await console.goto(f"{http}/moderate/{room.session}#key={room.moderator_token}")
    await expect(console.locator("#console")).not_to_have_attribute("aria-busy", "true")
    await expect(console.locator("html")).to_have_attribute("lang", "en")
    await accessible(console, "console in English")
    for page in (phone, console):
        assert page.console_errors == []  # type: ignore[attr-defined]
        await page.context.close()
