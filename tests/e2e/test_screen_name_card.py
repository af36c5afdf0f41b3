"""The big screen's name card for whoever speaks from the stage, in a real browser at
1920×1080 and 1280×720, with real content around it: two people on stage (one with a
long name, one without a name), a highlighted long question, then a poll's results, and
the QR code. Element boxes are measured: nothing clipped, nothing overlapping."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page, expect

from companion.web.i18n import catalogue
from tests.e2e.browser import SCREEN, axe_violations, chromium, new_page, screenshot
from tests.e2e.conftest import Room

SV = catalogue("sv")
EN = catalogue("en")
LONG_NAME = "Maria-Kristina Johansson Lindqvist-Öberg"
QUESTION = (
    "Hur ska vi som chefer i offentlig sektor balansera kraven på effektivisering mot "
    "medarbetarnas behov av återhämtning, och vilka verktyg har ni själva använt för att "
    "följa upp arbetsmiljön under förändringsarbetet?"
)
PROJECTOR = {"width": 1280, "height": 720}
CLOUD_QUESTION = (
    "Vilket ord beskriver bäst hur ni i ledningsgruppen har arbetat med tillit, samverkan "
    "och arbetsmiljö under förändringsarbetet det här året?"
)
WORDS = [
    "tillit",
    "mod",
    "samverkan",
    "förändringsledning",
    "återhämtning",
    "dialog",
    "arbetsmiljöarbete",
    "lärande",
    "helhetssyn",
    "nyfikenhet",
]

# Boxes of what the screen shows, measured in the page: each visible block inside the
# viewport, no two blocks overlapping, no text box with more content than room.
MEASURE = """() => {
  const r = (n) => n.getBoundingClientRect();
  const shown = (n) => n && !n.hidden && n.offsetParent !== null && r(n).height > 0;
  const blocks = {
    head: document.querySelector('.screen-head'),
    now: document.querySelector('.screen-now'),
    question: document.getElementById('screen-question'),
    poll: document.getElementById('screen-poll'),
    cards: document.getElementById('screen-on-stage'),
    agenda: document.getElementById('screen-agenda'),
    speaker: document.getElementById('screen-speaker'),
    countdown: document.getElementById('screen-countdown'),
    breakBanner: document.getElementById('screen-break'),
    join: document.querySelector('.screen-join'),
    qr: document.getElementById('screen-qr'),
  };
  const boxes = {};
  for (const [name, node] of Object.entries(blocks)) if (shown(node)) boxes[name] = r(node).toJSON();
  const inView = (b) => b.left >= -0.5 && b.top >= -0.5 && b.right <= innerWidth + 0.5 && b.bottom <= innerHeight + 0.5;
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5
    && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  const outside = Object.keys(boxes).filter((k) => !inView(boxes[k]));
  const names = Object.keys(boxes).filter((k) => k !== 'qr');
  const overlaps = [];
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++)
      if (overlap(boxes[names[i]], boxes[names[j]])) overlaps.push([names[i], names[j]]);
  const clipped = [...document.querySelectorAll(
    '.on-stage-card, .on-stage-card p, #screen-question, #screen-poll, #screen-agenda, '
    + '#screen-speaker, #screen-countdown')]
    .filter(shown)
    .filter((n) => n.scrollHeight > n.clientHeight + 1 || n.scrollWidth > n.clientWidth + 1)
    .map((n) => n.id || n.className);
  const cards = [...document.querySelectorAll('.on-stage-card')].map((c) => ({
    box: r(c).toJSON(),
    status: c.querySelector('.on-stage-status').textContent,
    name: c.querySelector('.on-stage-name').textContent,
    nameSize: parseFloat(getComputedStyle(c.querySelector('.on-stage-name')).fontSize),
  }));
  const cardsInside = cards.every((c) => inView(c.box));
  // The join box's own lines (its big code overflows its line box by design) stay in it.
  const join = r(blocks.join);
  const joinOut = [...blocks.join.querySelectorAll('p, img')].filter(shown)
    .filter((n) => { const b = r(n); return b.left < join.left || b.right > join.right
      || b.top < join.top || b.bottom > join.bottom; })
    .map((n) => n.id || n.className);
  const qText = document.querySelector('#screen-question .q-text');
  return {boxes, outside, overlaps, clipped, joinOut, cards, cardsInside,
    questionSize: qText && shown(qText) ? parseFloat(getComputedStyle(qText).fontSize) : null,
    qrWidth: boxes.qr ? boxes.qr.width : 0};
}"""


async def measured(page: Page, name: str, cards: int = 2) -> dict[str, Any]:
    await page.wait_for_timeout(150)  # the fit runs in the frame after a message
    m: dict[str, Any] = await page.evaluate(MEASURE)
    await screenshot(page, name)
    where = f"{name}: {m}"
    assert m["outside"] == [] and m["overlaps"] == [] and m["clipped"] == [], where
    assert m["joinOut"] == [], where
    assert m["cardsInside"] and len(m["cards"]) == cards, where
    assert m["qrWidth"] >= 150, where  # the QR code stays readable from the room
    return m


async def test_the_name_cards_fit_beside_a_question_a_poll_and_the_qr_code(room: Room) -> None:
    moderator = await room.moderator()
    named = await room.participant("remote", name=LONG_NAME)
    anonymous = await room.participant("room")
    asker = await room.participant("room", name="Anna Berg")
    hands = [
        (await who.request({"type": "hand.raise", "topic": "Om arbetsmiljön"}))["hand"]
        for who in (named, anonymous)
    ]
    question = (await asker.request({"type": "ask", "text": QUESTION, "name": "Anna Berg"}))[
        "question"
    ]
    for _ in range(2):
        await moderator.request({"type": "agenda.next"})
    assert (await moderator.request({"type": "question.highlight", "question": question}))[
        "type"
    ] == "ack"
    async with chromium() as browser:
        pages: list[tuple[str, Page]] = []
        for label, viewport in (("1920", SCREEN), ("1280", PROJECTOR)):
            _, page = await new_page(browser, viewport)
            await page.goto(f"{room.server.http}/screen/{room.code}")
            await expect(page.locator("body")).to_have_attribute("data-connection", "live")
            await expect(page.locator("#screen-question .q-text")).to_have_text(QUESTION)
            await expect(page.locator("#screen-on-stage")).to_be_hidden()  # nobody on stage
            pages.append((label, page))

        for hand in hands:
            ack = await moderator.request({"type": "hand.invite", "hand": hand})
            assert ack["type"] == "ack", ack
        for label, page in pages:
            cards = page.locator(".on-stage-card")
            await expect(cards).to_have_count(2)
            await expect(cards.nth(0).locator(".on-stage-name")).to_have_text(LONG_NAME)
            await expect(cards.nth(0).locator(".on-stage-status")).to_have_text(
                SV["namecard.status"].format(where=SV["hands.remote"])
            )
            # Without a name: where the voice comes from, never "Anonym" on the wall.
            await expect(cards.nth(1).locator(".on-stage-name")).to_have_text(
                SV["namecard.anonymous_room"]
            )
            await expect(cards.nth(1).locator(".on-stage-status")).to_have_text(
                SV["namecard.label"]
            )
            m = await measured(page, f"screen-name-cards-question-{label}")
            print(label, "question", m["cards"], m["questionSize"])
            assert m["questionSize"] >= 24, m
            assert all(card["nameSize"] >= 24 for card in m["cards"]), m
            assert await axe_violations(page) == []

        # Muted by the moderator: the long name's card says so in place of its status line,
        # inside the card, nothing clipped or pushed off the screen; unmuted, the note goes
        # and the status is back.
        ack = await moderator.request({"type": "hand.mute", "hand": hands[0], "on": True})
        assert ack["type"] == "ack", ack
        for label, page in pages:
            cards = page.locator(".on-stage-card")
            note = cards.nth(0).locator(".on-stage-status .on-stage-muted")
            await expect(note).to_have_text(SV["namecard.muted"])
            await expect(cards.nth(1).locator(".on-stage-muted")).to_have_count(0)
            m = await measured(page, f"screen-name-cards-muted-{label}")
            card = m["cards"][0]["box"]
            box = await note.bounding_box()
            assert box is not None, label
            assert card["left"] < box["x"] and box["x"] + box["width"] < card["right"], (box, m)
            assert card["top"] < box["y"] and box["y"] + box["height"] < card["bottom"], (box, m)
            assert box["height"] >= 20, box  # readable from the room
            assert m["questionSize"] >= 24, m
            print(label, "muted", card, box)
            assert await axe_violations(page) == []
        ack = await moderator.request({"type": "hand.mute", "hand": hands[0], "on": False})
        assert ack["type"] == "ack", ack
        for _, page in pages:
            await expect(page.locator(".on-stage-muted")).to_have_count(0)
            await expect(page.locator(".on-stage-card .on-stage-status").nth(0)).to_have_text(
                SV["namecard.status"].format(where=SV["hands.remote"])
            )

        created = await moderator.request(
            {
                "type": "poll.create",
                "kind": "single",
                "text": "Vilket stöd behöver ni mest i förändringsarbetet?",
                "options": ["Tid för återhämtning", "Tydliga mål", "Kollegialt stöd"],
            }
        )
        poll = created["poll"]
        for action in ("poll.open", "poll.show"):
            assert (await moderator.request({"type": action, "poll": poll}))["type"] == "ack"
        for i, who in enumerate((named, anonymous, asker)):
            answer = await who.request({"type": "poll.answer", "poll": poll, "answer": 1 + i % 2})
            assert answer["type"] == "ack", answer
        for label, page in pages:
            await expect(page.locator("#screen-poll")).to_be_visible()
            await expect(page.locator("#screen-poll .poll-respondents")).to_contain_text("3")
            m = await measured(page, f"screen-name-cards-poll-{label}")
            print(label, "poll", m["boxes"]["cards"], m["boxes"]["poll"])
            assert await axe_violations(page) == []

        # A word cloud: with the cards below it, the question above steps down rather than
        # leave the cloud (almost) empty.
        cloud = await moderator.request(
            {"type": "poll.create", "kind": "words", "text": CLOUD_QUESTION}
        )
        for action in ("poll.open", "poll.show"):
            ack = await moderator.request({"type": action, "poll": cloud["poll"]})
            assert ack["type"] == "ack", ack
        for word in WORDS:
            who = await room.participant("remote")
            answer = await who.request(
                {"type": "poll.answer", "poll": cloud["poll"], "answer": word}
            )
            assert answer["type"] == "ack", answer
        for label, page in pages:
            await expect(page.locator("#screen-poll .poll-respondents")).to_contain_text("10")
            m = await measured(page, f"screen-name-cards-cloud-{label}")
            words = await page.locator("#screen-poll .poll-word:not([hidden])").count()
            print(label, "cloud", words, "words shown")
            assert words >= 8, (label, words)

        # The other scenes keep the cards at their foot too: the agenda, the speaker card
        # and the break's countdown, each fitted above them.
        await moderator.request({"type": "poll.unshow", "poll": cloud["poll"]})
        for scene in ("agenda", "speaker", "break"):
            if scene == "break":
                started = await moderator.request(
                    {"type": "break.start", "minutes": 15, "message": "Kaffe och smörgås i foajén"}
                )
                assert started["type"] == "ack", started
            ack = await moderator.request({"type": "show.screen", "screen": scene})
            assert ack["type"] == "ack", ack
            for label, page in pages:
                await expect(page.locator("#screen")).to_have_attribute("data-scene", scene)
                m = await measured(page, f"screen-name-cards-{scene}-{label}")
                print(label, scene, {k: round(v["height"]) for k, v in m["boxes"].items()})
        await moderator.request({"type": "break.end"})
        await moderator.request({"type": "show.screen", "screen": "qr"})

        # In English, and gone when the turns end.
        label, page = pages[0]
        cards = page.locator(".on-stage-card")
        await page.click("#lang-switch")
        await expect(cards.nth(0).locator(".on-stage-status")).to_have_text(
            EN["namecard.status"].format(where=EN["hands.remote"])
        )
        await expect(cards.nth(1).locator(".on-stage-name")).to_have_text(
            EN["namecard.anonymous_room"]
        )
        for hand in hands:
            assert (await moderator.request({"type": "hand.end", "hand": hand}))["type"] == "ack"
        for _, page in pages:
            await expect(page.locator("#screen-on-stage")).to_be_hidden()
            assert page.console_errors == []  # type: ignore[attr-defined]
