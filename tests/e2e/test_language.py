"""What people read, in real Chromium against a real server: counts by the language's
plural rules, Swedish words, times and dates (static/js/i18n.js, companion/web/i18n.py)."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.e2e.browser import PHONE, SCREEN, TABLET, new_page
from tests.e2e.conftest import Room
from tests.wsclient import Client

expect.set_options(timeout=8_000)


async def open_console(chrome: Browser, room: Room, locale: str = "sv-SE") -> Page:
    """The console at tablet size, with its first snapshot drawn."""
    _, page = await new_page(chrome, TABLET, locale=locale)
    await page.goto(f"{room.server.http}/moderate/{room.session}#key={room.moderator_token}")
    await expect(page.locator("#console")).not_to_have_attribute("aria-busy", "true")
    return page


async def ask(client: Client, text: str) -> int:
    """Ask a question and return its id."""
    ack = await client.request({"type": "ask", "text": text})
    assert ack["type"] == "ack", ack
    return ack["question"]


async def one_and_two_votes(room: Room) -> tuple[int, int]:
    """Two questions: the first with one vote, the second with two."""
    anna = await room.participant("room", name="Anna")
    bo = await room.participant("remote")
    one = await ask(anna, "Hur mäter ni förändring?")
    two = await ask(bo, "Vem bär ansvaret?")
    for voter, qid in ((anna, one), (anna, two), (bo, two)):
        assert (await voter.request({"type": "vote", "question": qid}))["voted"] is True
    return one, two


async def test_console_merge_dialog_and_report_say_1_rost_and_2_roster(
    chrome: Browser, room: Room
) -> None:
    """Shows "1 röst" / "2 röster" in the queue, the merge dialog and the report; presence counts
    with lower-case nouns after the number; and the English forms after a switch."""
    one, two = await one_and_two_votes(room)
    page = await open_console(chrome, room)
    row = page.locator(f"#queue li[data-id='{one}']")
    await expect(row.locator(".q-votes")).to_have_text("1")
    await expect(row.locator(".q-votes-label")).to_have_text("röst")
    await expect(page.locator(f"#queue li[data-id='{two}'] .q-votes-label")).to_have_text("röster")
    presence = page.locator("#presence")
    await expect(presence).to_contain_text("1 samtalsledare")
    await expect(presence).to_contain_text("1 på plats")
    await expect(presence).to_contain_text("1 på distans")
    await expect(presence).to_contain_text("0 storskärmar")
    await room.screen()
    await expect(presence).to_contain_text("1 storskärm")

    await row.locator("button[data-action=merge]").click()
    dialog = page.locator("#merge-dialog")
    await expect(dialog.locator(f"[data-merge-target='{two}'] .merge-votes")).to_have_text(
        "2 röster"
    )
    await page.locator("#merge-cancel").click()

    other = page.locator(f"#queue li[data-id='{two}']")
    await page.locator("#lang-switch").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(row.locator(".q-votes-label")).to_have_text("vote")
    await expect(other.locator(".q-votes-label")).to_have_text("votes")
    await expect(presence).to_contain_text("1 moderator")
    await expect(presence).to_contain_text("1 big screen")
    await row.locator("button[data-action=merge]").click()
    await expect(dialog.locator(f"[data-merge-target='{two}'] .merge-votes")).to_have_text(
        "2 votes"
    )
    await page.locator("#merge-cancel").click()

    # The printable report, in Swedish.
    context = page.context
    await context.add_cookies([{"name": "lang", "value": "sv", "url": room.server.http}])
    report = await context.new_page()
    await report.set_extra_http_headers({"Authorization": f"Bearer {room.moderator_token}"})
    await report.goto(f"{room.server.http}/moderate/{room.session}/report.html")
    top = report.locator(".report-questions")
    await expect(top.locator(f"li[data-id='{one}'] .q-votes")).to_have_text("1 röst")
    await expect(top.locator(f"li[data-id='{two}'] .q-votes")).to_have_text("2 röster")
    by_item = report.locator(".report-by-item")
    await expect(by_item.locator(f"li[data-id='{two}'] .q-votes")).to_have_text("2 röster")
    assert page.console_errors == []  # type: ignore[attr-defined]


async def test_swedish_words_on_site_remote_big_screen_and_review(
    chrome: Browser, room: Room
) -> None:
    """ "På plats" / "på distans" (not "i rummet"), one word for the big screen, review words."""
    _, join = await new_page(chrome, PHONE)
    await join.goto(f"{room.server.http}/j/{room.code}")
    await expect(join.locator("legend")).to_have_text("Hur deltar du?")
    await expect(join.locator(".choice")).to_have_text(["Jag är på plats", "Jag deltar på distans"])
    await join.locator("#join-name").fill("Anna")
    await join.locator("button[type=submit]").click()
    await join.wait_for_url(f"**/room/{room.code}")
    await join.locator("#question-text").fill("Hur mäter ni förändring?")
    await join.locator("#ask-submit").click()
    await expect(join.locator("#questions .q-where")).to_have_text("på plats")

    _, screen = await new_page(chrome, SCREEN)
    await screen.goto(f"{room.server.http}/screen/{room.code}")
    await expect(screen.locator("#screen-count-detail")).to_have_text("1 på plats · 0 på distans")

    console = await open_console(chrome, room)
    await expect(console.locator("#tab-pending")).to_contain_text("Att granska")
    await expect(console.locator("label[for=premoderation]")).to_have_text(
        "Granska frågor innan de visas"
    )
    await expect(console.locator("#link-screen")).to_contain_text("Storskärm")
    row = console.locator("#queue li.question").first
    await expect(row.locator("[data-action=highlight]")).to_have_text("Visa på storskärmen")
    await expect(row.locator("[data-action=answer]")).to_have_text("Markera som besvarad")
    await row.locator("[data-action=answer]").click()
    await console.locator("#tab-answered").click()
    await expect(console.locator("#queue [data-action=reopen]")).to_have_text("Öppna igen")
    html = (await (await console.request.get(f"{room.server.http}/")).text()).lower()
    assert "i rummet" not in html
    for page in (join, screen, console):
        assert page.console_errors == []  # type: ignore[attr-defined]


async def test_buttons_name_their_action_and_dialogs_ask_the_question(
    chrome: Browser, room: Room
) -> None:
    """Confirmation titles are the question, links to a new tab say so, a question's actions
    are named by the question (not an internal number), an unknown code says what to do."""
    anna = await room.participant("room", name="Anna")
    qid = await ask(anna, "Hur mäter ni förändring över tid i en stor organisation?")
    console = await open_console(chrome, room)
    group = console.locator(f"#queue li[data-id='{qid}'] .q-actions")
    await expect(group).to_have_attribute(
        "aria-label",
        "Åtgärder för frågan: Hur mäter ni förändring över tid i en stor organisation?",
    )
    for link in ("#link-screen", "#link-participant", "#link-camera", "#report-html"):
        await expect(console.locator(link)).to_contain_text("(öppnas i en ny flik)")
    await console.locator("#access-panel summary").click()
    await expect(console.locator("label[for=lock-questions]")).to_have_text("Stoppa nya frågor")
    dialog = console.locator("#access-confirm")
    await console.locator("#btn-new-code").click()
    await expect(dialog.locator("h2")).to_have_text("Vill du skapa en ny kod?")
    await expect(dialog.locator("#access-confirm-ok")).to_have_text("Skapa ny kod")
    await dialog.locator("#access-confirm-cancel").click()
    await console.locator("#close-session").click()
    await expect(dialog.locator("h2")).to_have_text("Vill du stänga sessionen?")
    await dialog.locator("#access-confirm-cancel").click()
    await expect(console.locator("#close-session")).not_to_be_checked()

    _, phone = await new_page(chrome, PHONE)
    await phone.goto(f"{room.server.http}/room/{room.code}")
    await expect(phone.locator("#ask-submit")).to_have_text("Skicka fråga")
    await phone.goto(f"{room.server.http}/j/ZZZZ99")
    await expect(phone.locator("h1")).to_have_text("Koden finns inte")
    await expect(phone.locator("main")).to_contain_text("Kontrollera koden på storskärmen")
    assert console.console_errors == []  # type: ignore[attr-defined]


async def test_console_shows_no_internal_ids_and_redraws_everything_on_a_language_switch(
    chrome: Browser, room: Room
) -> None:
    """No "Frågeställare #d1d581": the asker is a name or "Anonym" (and an anonymous
    question is counted with no other); the scale labels and the stream state come from
    the catalogue and follow a language switch."""
    bo = await room.participant("remote", name="Bo")
    first = await ask(bo, "Hur följer ni upp?")
    await ask(bo, "Vem äger frågan?")
    anonymous = (await bo.request({"type": "ask", "text": "Och budgeten?", "name": None}))[
        "question"
    ]
    console = await open_console(chrome, room)
    meta = console.locator(f"#queue li[data-id='{first}'] .q-meta")
    await expect(meta.locator(".q-name")).to_have_text("Bo")
    await expect(meta.locator(".q-author")).to_have_text("2 frågor från samma person")
    anonymous_meta = console.locator(f"#queue li[data-id='{anonymous}'] .q-meta")
    await expect(anonymous_meta.locator(".q-name")).to_have_text("Anonym")
    await expect(anonymous_meta.locator(".q-author")).to_have_count(0)
    assert "#" not in await meta.inner_text()
    assert "Frågeställare" not in await console.locator("#queue").inner_text()
    await expect(console.locator("#stream-state")).to_have_text("Sänder inte")
    await expect(console.locator("#poll-scale option")).to_have_text(["1–5", "1–10"])

    await console.locator("#lang-switch").click()
    await expect(console.locator("html")).to_have_attribute("lang", "en")
    await expect(console.locator("#stream-state")).to_have_text("Not live")
    await expect(meta.locator(".q-author")).to_have_text("2 questions from the same person")
    await expect(anonymous_meta.locator(".q-name")).to_have_text("Anonymous")
    assert console.console_errors == []  # type: ignore[attr-defined]
