"""The participant pages in a real browser: the phone in the room and the remote page."""

from __future__ import annotations

import json
import re

from playwright.async_api import Browser, BrowserContext, Page, expect

from companion.web.i18n import catalogue, translator
from tests.e2e.browser import LAPTOP, PHONE, chromium, new_page, screenshot
from tests.e2e.conftest import Room

SV = catalogue("sv")
EN = catalogue("en")
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"><b>bold</b>'


def chars_left(strings: dict[str, str], n: int) -> str:
    """The character counter's text for n characters left."""
    return translator("sv" if strings is SV else "en").count("questions.chars_left", n)


async def open_page(
    browser: Browser, viewport: dict[str, int], profile: dict[str, str] | None = None
) -> tuple[BrowserContext, Page]:
    """A Swedish page whose console errors land in `page.errors`."""
    context, page = await new_page(browser, viewport)
    page.errors = page.console_errors  # type: ignore[attr-defined]
    if profile is not None:
        await context.add_init_script(
            f"localStorage.setItem('companion.profile', {json.dumps(json.dumps(profile))})"
        )
    return context, page


async def go_live(page: Page, url: str) -> None:
    """Open a page and wait until its realtime connection has joined."""
    await page.goto(url)
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")


async def test_phone_joins_asks_and_sees_votes(room: Room) -> None:
    """A phone joins via /j/CODE, asks a question marked as its own, and a second visitor's vote reaches both."""
    # The dialogue is current when everyone asks, so all questions are "for this part".
    moderator = await room.moderator()
    for _ in range(2):
        await moderator.request({"type": "agenda.next"})
    karin = await room.participant("room", name="Karin Lund")
    first = "Hur har ni fått med medarbetarna i förändringsarbetet?"
    ack = await karin.request({"type": "ask", "text": first, "name": "Karin Lund"})
    bo = await room.participant("remote")
    await bo.request({"type": "ask", "text": "Vilket stöd fick cheferna under resan?"})
    await bo.request({"type": "vote", "question": ack["question"]})
    async with chromium() as browser:
        _, phone = await open_page(browser, PHONE)
        await phone.goto(f"{room.server.http}/j/{room.code}")
        await phone.check("input[name=where][value=room]")
        await phone.fill("#join-name", "Anna Berg")
        await phone.click("#join-form button[type=submit]")
        await phone.wait_for_url(f"**/room/{room.code}")
        await expect(phone.locator("body")).to_have_attribute("data-connection", "live")
        await expect(phone.locator("#current-item .item-title")).to_have_text(
            "En myndighets förändringsresa"
        )

        text = "Hur mäter ni att kulturen faktiskt förändras?"
        await phone.fill("#question-text", text)
        await expect(phone.locator("#char-count")).to_have_text(chars_left(SV, 500 - len(text)))
        await expect(phone.locator("#show-name-row")).to_contain_text("Anna Berg")
        await expect(phone.locator("#show-name")).not_to_be_checked()
        # One line under the box says who will see the name, before anything is sent.
        await expect(phone.locator("#who-sees")).to_have_text(SV["questions.who_sees_anonymous"])
        await phone.check("#show-name")
        await expect(phone.locator("#who-sees")).to_have_text(SV["questions.who_sees_named"])
        await phone.click("#ask-submit")
        await expect(phone.locator("#toast")).to_have_text(SV["questions.sent"])
        await expect(phone.locator("#char-count")).to_have_text(chars_left(SV, 500))

        mine = phone.locator("li.question.mine")
        await expect(mine).to_have_count(1)
        await expect(mine.locator(".q-text")).to_have_text(text)
        await expect(mine.locator(".q-name")).to_have_text("Anna Berg")
        await expect(mine.locator(".badge-mine")).to_have_text(SV["questions.mine"])
        await expect(mine.locator(".q-votes")).to_have_text("0")
        box = await mine.locator(".vote-button").bounding_box()
        assert box is not None and box["width"] >= 48 and box["height"] >= 48

        _, other = await open_page(browser, PHONE)  # no profile: anonymous, no name box
        await go_live(other, f"{room.server.http}/room/{room.code}")
        await expect(other.locator("#show-name-row")).to_be_hidden()
        await expect(other.locator("#who-sees")).to_have_text(SV["questions.who_sees_anonymous"])
        theirs = other.locator("li.question", has_text=text)
        await expect(theirs).not_to_have_class(re.compile(r"\bmine\b"))
        await expect(theirs.locator(".q-name")).to_have_text("Anna Berg")
        await theirs.locator(".vote-button").click()
        await expect(theirs.locator(".vote-button")).to_have_attribute("aria-pressed", "true")
        await expect(theirs.locator(".q-votes")).to_have_text("1")
        await expect(mine.locator(".q-votes")).to_have_text("1")
        await expect(mine.locator(".vote-button")).to_have_attribute("aria-pressed", "false")
        # Newest first puts the new question on top; by votes the older one wins the tie.
        await phone.click("#sort-newest")
        await expect(phone.locator("#sort-newest")).to_have_attribute("aria-pressed", "true")
        await expect(phone.locator("#sort-votes")).to_have_attribute("aria-pressed", "false")
        await expect(phone.locator("li.question").first).to_have_class(re.compile(r"\bmine\b"))
        await phone.click("#sort-votes")
        await expect(phone.locator("#sort-votes")).to_have_attribute("aria-pressed", "true")
        await expect(phone.locator("li.question .q-text").first).to_have_text(first)
        # Frame the screenshot on the ask form and the list below it.
        await phone.evaluate(
            "scrollTo(0, document.querySelector('.ask').getBoundingClientRect().top + scrollY - 12)"
        )
        await phone.locator("#toast").evaluate("node => { node.hidden = true; }")
        await screenshot(phone, "phone")
        assert phone.errors == [] and other.errors == []  # type: ignore[attr-defined]


async def test_question_markup_is_shown_as_text(room: Room) -> None:
    """A question full of HTML is shown literally to its author and to others, and nothing runs."""
    async with chromium() as browser:
        _, phone = await open_page(browser, PHONE, {"where": "room", "name": "Anna"})
        await go_live(phone, f"{room.server.http}/room/{room.code}")
        await phone.fill("#question-text", XSS)
        await phone.click("#ask-submit")
        _, other = await open_page(browser, PHONE)
        await go_live(other, f"{room.server.http}/room/{room.code}")
        for page in (phone, other):
            text = page.locator("li.question .q-text")
            await expect(text).to_have_count(1)
            assert await text.text_content() == XSS
            assert await text.locator("b, img, script").count() == 0
            assert await page.evaluate("typeof window.__xss") == "undefined"
            assert page.errors == []  # type: ignore[attr-defined]


async def test_remote_shows_stream_state_and_live_agenda(room: Room) -> None:
    """The remote page shows the offline stream and the full agenda, following the moderator's moves and breaks."""
    moderator = await room.moderator()
    asker = await room.participant("remote")
    voter = await room.participant("room")
    for text in (
        "Vilka mått använder ESV för att följa upp kulturförändringen?",
        "Vad skulle du göra annorlunda om du började om idag?",
    ):
        ack = await asker.request({"type": "ask", "text": text})
        await voter.request({"type": "vote", "question": ack["question"]})
    async with chromium() as browser:
        _, page = await open_page(browser, LAPTOP, {"where": "remote", "name": "Bo Ek"})
        await go_live(page, f"{room.server.http}/remote/{room.code}")
        status = page.locator("#stream-status")
        await expect(status).to_be_visible()
        await expect(status).to_have_attribute("data-status", "offline")
        await expect(status).to_have_text(SV["stream.offline"])
        await expect(page.locator("#stream-video")).to_be_attached()
        agenda = page.locator("ol#agenda > li[data-item]")
        await expect(agenda).to_have_count(5)
        await expect(page.locator("#agenda [aria-current]")).to_have_count(0)
        await expect(page.locator("#current-item .item-title")).to_have_text(
            SV["common.no_current_item"]
        )

        for _ in range(2):
            assert (await moderator.request({"type": "agenda.next"}))["type"] == "ack"
        current = page.locator('#agenda li[data-item="samtal-olsson"]')
        await expect(current).to_have_attribute("aria-current", "true")
        await expect(page.locator("#agenda [aria-current]")).to_have_count(1)
        await expect(current.locator(".status")).to_have_text(SV["common.status_live"])
        await expect(page.locator('#agenda li[data-item="valkommen"] .status')).to_have_text(
            SV["common.status_done"]
        )
        await expect(page.locator("#current-item .item-title")).to_have_text(
            "En myndighets förändringsresa"
        )
        await expect(page.locator("#current-item .item-speakers")).to_have_text("Clas Olsson")
        await expect(page.locator("#current-item .item-time")).to_have_text("09.40 · 75 min")
        await expect(page.locator("#next-item .item-title")).to_have_text("Fika")

        await moderator.request(
            {"type": "item.status", "item": "avslutning", "status": "postponed"}
        )
        await expect(page.locator('#agenda li[data-item="avslutning"] .status')).to_have_text(
            SV["common.status_postponed"]
        )
        await moderator.request({"type": "break.start", "minutes": 15, "message": "Kaffe i foajén"})
        banner = page.locator("#break-banner")
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text(SV["common.break_until"].split("{")[0].strip())
        await expect(banner.locator(".break-message")).to_have_text("Kaffe i foajén")
        await moderator.request({"type": "break.end"})
        await expect(banner).to_be_hidden()

        # Two columns: the stream on the left, the questions on the right.
        stream = await page.locator("#stream").bounding_box()
        ask = await page.locator("#ask-form").bounding_box()
        assert stream and ask and ask["x"] >= stream["x"] + stream["width"]
        await expect(page.locator("li.question")).to_have_count(2)
        await screenshot(page, "remote")
        assert page.errors == []  # type: ignore[attr-defined]


async def translated(page: Page, strings: dict[str, str]) -> None:
    """Assert every text the page shows is the catalogue's string in one language."""
    declared = await page.evaluate(
        """() => [...document.querySelectorAll("[data-i18n]")].map((node) =>
            [node.dataset.i18n, node.textContent, node.dataset.i18nVars || "{}"])"""
    )
    assert declared
    for key, text, raw in declared:
        expected = strings[key]
        for name, value in json.loads(raw).items():
            expected = expected.replace("{" + name + "}", str(value))
        assert text == expected, key
    for selector, key in (
        ("#stream-status", "stream.offline"),
        ("#current-item .item-title", "common.no_current_item"),
        ("li.question .q-name", "common.anonymous"),
        ("#questions .badge-mine", "questions.mine"),
        ('#agenda li[data-item="valkommen"] .agenda-kind', "common.kind_talk"),
        ('#agenda li[data-item="valkommen"] .status', "common.status_scheduled"),
    ):
        await expect(page.locator(selector).first).to_have_text(strings[key])
    await expect(page.locator("#char-count")).to_have_text(chars_left(strings, 500))
    await expect(page.locator("#show-name-row")).to_have_text(
        strings["questions.show_name_as"].replace("{name}", "Bo Ek")
    )
    await expect(page.locator("#question-text")).to_have_attribute(
        "placeholder", strings["questions.ask_placeholder"]
    )
    # The vote button is named by its content: the count it shows, then what it does.
    label = await page.locator("li.question .vote-button").first.text_content()
    assert label and strings["questions.vote_for"].split("{")[0] in label


async def test_language_switch_translates_every_string(room: Room) -> None:
    """The language switch re-translates static and live-rendered text without a reload and sets `lang`."""
    async with chromium() as browser:
        _, page = await open_page(browser, LAPTOP, {"where": "remote", "name": "Bo Ek"})
        await go_live(page, f"{room.server.http}/remote/{room.code}")
        await page.fill("#question-text", "Finns presentationen att ladda ner?")
        await page.click("#ask-submit")
        await expect(page.locator("li.question.mine")).to_have_count(1)
        await expect(page.locator("#toast")).to_be_visible()
        await page.locator("#toast").evaluate("node => { node.hidden = true; }")
        assert await page.evaluate("document.documentElement.lang") == "sv"
        await translated(page, SV)
        before = await page.locator("#ask-heading").text_content()

        await page.click("#lang-switch")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await translated(page, EN)
        assert await page.locator("#ask-heading").text_content() != before
        await expect(page.locator("#lang-switch")).to_have_text(EN["common.switch_language"])

        await page.reload()  # the choice is remembered
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator("#sort-votes")).to_have_text(EN["questions.sort_votes"])
        assert page.errors == []  # type: ignore[attr-defined]


async def test_reload_keeps_the_same_participant(room: Room) -> None:
    """After a reload, and in a second tab, the page is the same participant: votes stay pressed, held questions stay its own."""
    moderator = await room.moderator()
    asker = await room.participant("remote")
    ack = await asker.request({"type": "ask", "text": "Vad kostar en omorganisation?"})
    await moderator.request({"type": "session.premoderation", "on": True})
    async with chromium() as browser:
        context, page = await open_page(browser, PHONE)
        url = f"{room.server.http}/room/{room.code}"
        await go_live(page, url)
        theirs = page.locator(f'li.question[data-id="{ack["question"]}"]')
        await theirs.locator(".vote-button").focus()
        await page.keyboard.press("Enter")  # keyboard works, and focus stays on the button
        await expect(theirs.locator(".vote-button")).to_have_attribute("aria-pressed", "true")
        await expect(theirs.locator(".q-votes")).to_have_text("1")
        await expect(theirs.locator(".vote-button")).to_be_focused()

        await page.fill("#question-text", "Hur lång tid tar det?")
        await page.click("#ask-submit")
        await expect(page.locator("#toast")).to_have_text(SV["questions.held"])
        held = page.locator('li.question.mine[data-status="pending"]')
        await expect(held.locator(".badge-pending")).to_have_text(SV["questions.pending"])
        await expect(held.locator(".vote-button")).to_be_disabled()

        await page.reload()
        await expect(page.locator("body")).to_have_attribute("data-connection", "live")
        await expect(theirs.locator(".vote-button")).to_have_attribute("aria-pressed", "true")
        await expect(theirs.locator(".q-votes")).to_have_text("1")
        await expect(held.locator(".q-text")).to_have_text("Hur lång tid tar det?")

        await moderator.request({"type": "session.premoderation", "on": False})
        await asker.request({"type": "ask", "text": "Finns det en rapport?"})
        await expect(page.locator("#announce")).to_have_text(
            SV["questions.new_question"].replace("{text}", "Finns det en rapport?")
        )

        second = await context.new_page()
        await go_live(second, url)
        await expect(
            second.locator(f'li.question[data-id="{ack["question"]}"] .vote-button')
        ).to_have_attribute("aria-pressed", "true")
        qid = int(await held.get_attribute("data-id") or 0)
        await moderator.request({"type": "question.approve", "question": qid})
        await expect(page.locator(f'li.question.mine[data-id="{qid}"]')).to_have_attribute(
            "data-status", "live"
        )
        await expect(page.locator(".badge-pending")).to_have_count(0)
        assert page.errors == []  # type: ignore[attr-defined]


# Words of a poll's result labels that are cut over two lines (a Range per word, one line box).
BROKEN_WORDS = """() => [...document.querySelectorAll('.poll-card .poll-label')].flatMap((label) => {
  const text = label.firstChild;
  return [...text.textContent.matchAll(/\\S+/g)].filter((m) => {
    const range = document.createRange();
    range.setStart(text, m.index);
    range.setEnd(text, m.index + m[0].length);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
  }).map((m) => m[0]);
})"""


async def four_polls(room: Room) -> None:
    """Two open polls (multiple choice with long words, a word cloud) and two closed ones, with
    answers, and a handful of questions."""
    moderator = await room.moderator()
    polls = [
        {
            "kind": "multiple",
            "text": "Vilka frågor ska nätverket ta upp i höst?",
            "options": [
                "Digitaliseringen",
                "Kompetensförsörjningen",
                "Samverkan mellan myndigheterna",
                "Arbetsmiljöfrågorna",
            ],
            "max_choices": 2,
        },
        {"kind": "single", "text": "Passar tiden 08.30?", "options": ["Ja", "Nej"]},
        {"kind": "rating", "text": "Hur nöjd är du med dagen?", "scale": 5},
        {"kind": "words", "text": "Ett ord som beskriver dagen?"},
    ]
    for number, poll in enumerate(polls, start=1):
        assert (await moderator.request({"type": "poll.create", **poll}))["type"] == "ack"
        assert (await moderator.request({"type": "poll.open", "poll": number}))["type"] == "ack"
    others = [await room.participant("remote") for _ in range(3)]
    for client in others:
        await client.request({"type": "poll.answer", "poll": 1, "answer": [1, 2]})
        await client.request({"type": "poll.answer", "poll": 2, "answer": 1})
        await client.request({"type": "poll.answer", "poll": 3, "answer": 4})
    for number in (2, 3):
        assert (await moderator.request({"type": "poll.close", "poll": number}))["type"] == "ack"
    for n in range(6):
        reply = await others[n % 3].request(
            {"type": "ask", "text": f"Fråga nummer {n + 1} om förändringsarbetet i myndigheten?"}
        )
        assert reply["type"] == "ack"


async def test_phone_puts_asking_and_open_polls_first(room: Room) -> None:
    """On a 360x740 phone with four polls, the ask box and the first open poll start on the
    first screen; closed polls are folded into a results section below the questions; no
    stray "null" over the word-cloud answer box; result labels are never cut mid-word."""
    await four_polls(room)
    async with chromium() as browser:
        _, phone = await open_page(browser, PHONE, {"where": "room"})
        await go_live(phone, f"{room.server.http}/room/{room.code}")
        await expect(phone.locator("li.question")).to_have_count(6)
        await expect(phone.locator("li.poll-card")).to_have_count(4)
        await screenshot(phone, "phone-polls-first-screen")

        def top(selector: str) -> str:
            return f"document.querySelector('{selector}').getBoundingClientRect().top + scrollY"

        ask = await phone.evaluate(top("#question-text"))
        first_open = await phone.evaluate(top("#poll-list li.poll-card .poll-question"))
        assert ask + 100 < PHONE["height"], ask
        assert first_open + 40 < PHONE["height"], first_open
        assert ask < first_open
        # Closed polls: below the questions, folded.
        questions_end = await phone.evaluate(
            "document.getElementById('questions').getBoundingClientRect().bottom + scrollY"
        )
        results = await phone.evaluate(top("#poll-results"))
        assert results >= questions_end
        closed = phone.locator("#poll-results li.poll-card")
        await expect(closed).to_have_count(2)
        await expect(closed.first).to_be_hidden()
        await phone.locator("#poll-results summary").click()
        await expect(closed.first).to_be_visible()
        single = closed.filter(has_text="Passar tiden 08.30?")
        await expect(single.locator(".poll-num")).to_have_text(["3 (100 %)", "0 (0 %)"])

        # The word-cloud form holds its input and button and no stray text.
        words = phone.locator('#poll-list li.poll-card[data-kind="words"] form')
        stray = await words.evaluate(
            "f => [...f.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent)"
        )
        assert stray == []
        assert "null" not in await words.inner_text()

        # Answering the multiple-choice poll shows its results, with whole words.
        card = phone.locator('#poll-list li.poll-card[data-kind="multiple"]')
        await card.get_by_label("Digitaliseringen").check()
        await card.get_by_label("Arbetsmiljöfrågorna").check()
        await card.locator("button[type=submit]").click()
        await expect(card.locator(".poll-bar-row")).to_have_count(4)
        assert await phone.evaluate(BROKEN_WORDS) == []
        await card.scroll_into_view_if_needed()
        await screenshot(phone, "phone-poll-results")
        assert phone.errors == []  # type: ignore[attr-defined]


async def test_toast_sits_at_the_edge_briefly_and_follows_the_language(room: Room) -> None:
    """A confirmation toast on the phone lies at the bottom edge, one short strip; it can be
    closed, it goes by itself within a few seconds, and it follows a language switch."""
    async with chromium() as browser:
        _, phone = await open_page(browser, PHONE, {"where": "room"})
        await go_live(phone, f"{room.server.http}/room/{room.code}")
        toast = phone.locator("#toast")
        for _ in range(2):
            await phone.fill("#question-text", "Hur följer ni upp förändringen?")
            await phone.click("#ask-submit")
            # A closed toast keeps its text while hidden: wait for this ask's toast to show.
            await expect(toast).to_be_visible()
            await expect(toast).to_have_text(SV["questions.sent"])
            box = await toast.bounding_box()
            assert box is not None
            assert abs(box["y"] + box["height"] - PHONE["height"]) <= 1, box  # at the bottom edge
            assert box["height"] <= 64, box  # one short strip
            # The one close button: named, big enough to tap, and it closes the toast.
            close = toast.get_by_role("button", name=SV["common.dismiss"])
            close_box = await close.bounding_box()
            assert close_box and close_box["width"] >= 44 and close_box["height"] >= 44
            if _ == 0:
                await close.click()
                await expect(toast).to_be_hidden()
        # Still open while the language changes: it is re-said in English.
        await phone.click("#lang-switch")
        await expect(toast).to_have_text(EN["questions.sent"])
        await expect(toast).to_be_hidden(timeout=4000)  # an info toast goes by itself
        assert phone.errors == []  # type: ignore[attr-defined]


async def test_remote_player_offers_no_unmute_without_a_stream(room: Room) -> None:
    """While the session is not streaming, the remote page's player shows "offline" and
    offers no unmute button."""
    async with chromium() as browser:
        _, page = await open_page(browser, LAPTOP, {"where": "remote"})
        await go_live(page, f"{room.server.http}/remote/{room.code}")
        await expect(page.locator("#stream-status")).to_have_text(SV["stream.offline"])
        await page.wait_for_timeout(1200)  # the player re-renders once a second
        await expect(page.locator("#stream-mute")).to_be_hidden()
        assert page.errors == []  # type: ignore[attr-defined]
