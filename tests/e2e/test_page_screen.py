"""The big screen of the room in a real browser at 1920x1080."""

from __future__ import annotations

from playwright.async_api import expect

from companion.web.i18n import catalogue, translator
from tests.e2e.browser import SCREEN, chromium, new_page, screenshot
from tests.e2e.conftest import Room

SV = catalogue("sv")
EN = catalogue("en")


async def test_screen_shows_code_current_item_and_highlighted_question(room: Room) -> None:
    """The screen shows the join code and QR code, follows the agenda, and shows the highlighted question in large type."""
    moderator = await room.moderator()
    anna = await room.participant("room", name="Anna Berg")
    await room.participant("remote")
    text = "Vilka mått använder ESV för att följa upp kulturförändringen?"
    ack = await anna.request({"type": "ask", "text": text, "name": "Anna Berg"})
    async with chromium() as browser:
        _, page = await new_page(browser, SCREEN)
        errors: list[str] = page.console_errors  # type: ignore[attr-defined]
        await page.goto(f"{room.server.http}/screen/{room.code}")
        await expect(page.locator("body")).to_have_attribute("data-connection", "live")

        await expect(page.locator("#screen-code")).to_have_text(room.code)
        qr = page.locator("img#screen-qr")
        await expect(qr).to_have_attribute("src", f"/qr/{room.code}.svg")
        await expect(qr).to_have_attribute("alt", SV["screen.qr_alt"])
        await page.wait_for_function(
            "document.getElementById('screen-qr').complete", timeout=10_000
        )
        assert await qr.evaluate("img => img.naturalWidth") > 0
        await expect(page.locator("#screen-url")).to_contain_text(f"/j/{room.code}")
        await expect(page.locator("#screen-count")).to_have_text("2")
        await expect(page.locator("#screen-current")).to_have_text(SV["common.no_current_item"])
        await expect(page.locator("#screen-question .q-empty")).to_have_text(
            SV["screen.no_question"]
        )

        for _ in range(2):
            await moderator.request({"type": "agenda.next"})
        await expect(page.locator("#screen-current")).to_have_text("En myndighets förändringsresa")
        await expect(page.locator("#screen-speakers")).to_contain_text("Clas Olsson")

        await moderator.request({"type": "question.highlight", "question": ack["question"]})
        shown = page.locator("#screen-question .q-text")
        await expect(shown).to_have_text(text)
        await expect(page.locator("#screen-question .q-name")).to_have_text("Anna Berg")
        size = await shown.evaluate("node => parseFloat(getComputedStyle(node).fontSize)")
        assert size >= 48
        box = await shown.bounding_box()
        assert box and box["y"] + box["height"] <= SCREEN["height"]  # fits without scrolling
        await screenshot(page, "screen")

        await moderator.request({"type": "break.start", "minutes": 15})
        await expect(page.locator("#screen-break")).to_contain_text(
            SV["common.break_until"].split("{")[0].strip()
        )
        await moderator.request({"type": "break.end"})
        await expect(page.locator("#screen-break")).to_be_hidden()

        await page.click("#lang-switch")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(page.locator("#screen-scan")).to_have_text(EN["screen.scan"])
        await expect(qr).to_have_attribute("alt", EN["screen.qr_alt"])
        await moderator.request({"type": "question.unhighlight", "question": ack["question"]})
        await expect(page.locator("#screen-question .q-empty")).to_have_text(
            EN["screen.no_question"]
        )
        assert errors == []


# Measured in the page: every word of the cloud, the cloud itself and the answer count lie
# inside the poll's box and the viewport; the smallest word's font size; how many words
# are drawn and how many the "more words" note stands for.
CLOUD_BOXES = """() => {
  const r = (n) => n.getBoundingClientRect();
  const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5
    && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
  const poll = r(document.getElementById('screen-poll'));
  const view = {left: 0, top: 0, right: innerWidth, bottom: innerHeight};
  const words = [...document.querySelectorAll('#screen-poll .poll-word')]
    .filter((w) => w.offsetParent !== null);
  const count = document.querySelector('#screen-poll .poll-respondents');
  return {
    words: words.length,
    outside: words.filter((w) => !inside(r(w), poll) || !inside(r(w), view)).map((w) => w.textContent),
    count: count.textContent,
    countInside: inside(r(count), poll) && inside(r(count), view) && r(count).height > 0,
    pollInside: inside(poll, view)
      && inside(r(document.querySelector('.screen-people')), view),
    poll: [poll.top, poll.bottom, innerHeight],
    smallest: Math.min(...words.map((w) => parseFloat(getComputedStyle(w).fontSize))),
    sizes: Object.fromEntries(words.map((w) => [w.firstChild.textContent,
      parseFloat(getComputedStyle(w).fontSize)])),
    more: document.querySelector('#screen-poll .poll-more')?.textContent ?? '',
  };
}"""

WORDS = [
    "tillit",
    "mod",
    "samverkan",
    "ansvar",
    "mening",
    "glädje",
    "trygghet",
    "lärande",
    "kvalitet",
    "tydlighet",
    "omtanke",
    "nyfikenhet",
    "öppenhet",
    "dialog",
    "förtroende",
    "respekt",
    "engagemang",
    "mångfald",
    "ledarskap",
    "hållbarhet",
    "innovation",
    "uthållighet",
    "medskapande",
    "delaktighet",
    "styrning",
    "vision",
    "lyssnande",
    "kommunikation",
    "kompetens",
    "närvaro",
    "feedback",
    "coachning",
    "samarbete",
    "tålamod",
    "förändring",
    "utveckling",
    "struktur",
    "flexibilitet",
    "empati",
    "integritet",
    "balans",
    "återhämtning",
    "reflektion",
    "prestigelöshet",
    "arbetsglädje",
    "rättssäkerhet",
    "effektivitet",
    "transparens",
    "tillgänglighet",
    "professionalism",
    "medarbetarskap",
    "helhetssyn",
    "långsiktighet",
    "kreativitet",
    "välfärd",
    "stolthet",
]


async def test_word_cloud_fits_the_big_screen_at_any_count(room: Room) -> None:
    """The word cloud on the big screen fits its box with 1, 14, 60 and 200 answers and one
    very long word, at 1920x1080 and 1280x720: no word outside the poll's box or the screen,
    the answer count always visible, words sized by relative frequency, none tiny."""
    moderator = await room.moderator()
    created = await moderator.request(
        {"type": "poll.create", "kind": "words", "text": "Ett ord som beskriver dagen?"}
    )
    assert created["type"] == "ack", created
    for action in ("poll.open", "poll.show"):
        assert (await moderator.request({"type": action, "poll": 1}))["type"] == "ack"
    people = [await room.participant("remote") for _ in range(200)]
    sent = 0

    async def answer_up_to(total: int, word_for: object) -> None:
        nonlocal sent
        while sent < total:
            reply = await people[sent].request(
                {"type": "poll.answer", "poll": 1, "answer": word_for(sent)}  # type: ignore[operator]
            )
            assert reply["type"] == "ack", reply
            sent += 1

    def distinct(i: int) -> str:
        return f"{WORDS[i % len(WORDS)]}{'' if i < len(WORDS) else i}"

    async with chromium() as browser:
        pages = []
        for viewport in (SCREEN, {"width": 1280, "height": 720}):
            _, page = await new_page(browser, viewport)
            await page.goto(f"{room.server.http}/screen/{room.code}")
            await expect(page.locator("body")).to_have_attribute("data-connection", "live")
            pages.append((viewport, page))

        long_word = "Förändringsledningskompetensutvecklingen"  # 40 characters, the limit
        stages = [
            (1, distinct, 1),
            (14, distinct, 14),
            (60, distinct, 60),
            # 200 answers: the first ten words get more answers than the rest, plus the long one
            (199, lambda i: WORDS[i % 10] if i >= 120 else distinct(i), None),
            (200, lambda i: long_word, None),
        ]
        for total, word_for, expected_words in stages:
            await answer_up_to(total, word_for)
            for viewport, page in pages:
                await expect(page.locator("#screen-poll .poll-respondents")).to_have_text(
                    translator("sv").count("polls.respondents", total)
                )
                await page.wait_for_timeout(100)  # the fit runs in the frame after a tally
                m = await page.evaluate(CLOUD_BOXES)
                where = f"{total} answers at {viewport}: {m}"
                await screenshot(page, f"screen-cloud-{total}-{viewport['width']}")
                assert m["outside"] == [], where
                assert m["countInside"] and m["pollInside"], where
                assert m["smallest"] >= 16, where
                if expected_words is not None:
                    # Everything is shown while it can be, all at one size when all are equal.
                    assert m["words"] == expected_words and m["more"] == "", where
                    assert len(set(m["sizes"].values())) == 1, where
                else:
                    # The most frequent words are drawn larger; what is left out is said.
                    assert m["sizes"][WORDS[0].lower()] > m["smallest"] * 1.3, where
                    assert m["words"] >= 12, where
        for _, page in pages:
            assert page.console_errors == []  # type: ignore[attr-defined]
