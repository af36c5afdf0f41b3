"""Escaping on every page, in real Chromium: XSS payloads in participant names, questions, poll
texts and options, word-cloud answers and a break message are shown as text on the phone, the
remote page, the moderator console, the big screen and the report summary, and never run.

Each page is checked twice: with the Content-Security-Policy bypassed (so that only escaping
stands between a payload and execution) and with it enforced (where any blocked inline script
would show up as a CSP violation).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

from playwright.async_api import Browser, Page, expect

from tests.e2e.browser import PHONE, SCREEN, TABLET, chromium
from tests.e2e.conftest import SESSION, Room
from tests.wsclient import Client

# Question texts; each also carries a name payload (names: at most 60 characters).
QUESTIONS = [
    '<script>window.__xss="q-script"</script>',
    "<img src=x onerror=\"window.__xss='q-img'\">",
    "<svg onload=\"window.__xss='q-svg'\"><circle r=9></circle></svg>",
    'javascript:window.__xss="q-js-url"',
    '" autofocus onfocus="window.__xss=\'q-attr\'" x="',
    "' onmouseover='window.__xss=\"q-single\"' data-x='",
    "{{7*7}} ${7*7} <%= 7*7 %> #{7*7}",
    "\u202eexe.txt\u202c \u200f<b>rtl</b>\u200e",
    "</textarea></title></script><iframe srcdoc=\"<script>parent.__xss='q-frame'</script>\">",
]
NAMES = [
    "<script>window.__xss='n-script'</script>",
    "<img src=x onerror=\"window.__xss='n-img'\">",
    "<svg onload=\"window.__xss='n-svg'\">",
    "javascript:window.__xss='n-js'",
    "\" autofocus onfocus=\"window.__xss='n-attr'",
    "{{7*7}} ${7*7}",
    "\u202eAnna\u202c <i>Berg</i>",
    "</span><a href=javascript:window.__xss=1>x</a>",
    "'><details open ontoggle=window.__xss='n-det'>",
]
POLL_TEXT = "<img src=x onerror=\"window.__xss='p-text'\"> Vilken dag {{7*7}}?"
OPTIONS = [
    "<script>window.__xss='o-script'</script>",
    "<img src=x onerror=\"window.__xss='o-img'\">",
    "\" autofocus onfocus=\"window.__xss='o-attr'",
    "javascript:window.__xss='o-js'",
    "{{7*7}}",
    "\u202eMåndag\u202c",
]
WORDS_TEXT = "<svg onload=\"window.__xss='w-text'\"> Ett ord?"
# Word-cloud answers are normalised (lower case, at most 40 characters): these already are.
WORDS = [
    "<script>window.__xss=1</script>",
    "<img src=x onerror=window.__xss=2>",
    "<svg onload=window.__xss=3>",
    '" autofocus onfocus="window.__xss=4',
    "javascript:window.__xss=5",
    "{{7*7}}",
]
BREAK = '<script>window.__xss="break"</script> Fika {{7*7}} <img src=x onerror=window.__xss=6>'

# Finds an element that shows `needle` as its own text (no child holds all of it) and is
# rendered; whitespace is compared collapsed, as it is displayed.
SHOWN_AS_TEXT = """needle => {
  const norm = (s) => s.replace(/\\s+/g, " ").trim();
  const n = norm(needle);
  for (const node of document.body.querySelectorAll("*")) {
    if (!norm(node.textContent).includes(n)) continue;
    if ([...node.children].some((c) => norm(c.textContent).includes(n))) continue;
    if (node.checkVisibility({ opacityProperty: true, visibilityProperty: true })) return true;
  }
  return false;
}"""

# What a payload parsed as HTML would create: event-handler attributes (our pages use
# addEventListener only), URLs or scripts carrying the marker (text in aria-label and title
# set through the DOM is harmless), the breakers' extra attributes, and the <b>/<i> elements of the harmless-looking payloads.
INJECTED = """() => {
  const found = [];
  for (const node of document.querySelectorAll("*")) {
    for (const attr of node.getAttributeNames()) {
      const value = node.getAttribute(attr);
      const loads = ["href", "src", "srcdoc", "action", "formaction", "xlink:href"].includes(attr);
      if (attr.startsWith("on") || attr === "x" || attr === "data-x" || (loads && value.includes("__xss"))) {
        found.push(`${node.tagName} ${attr}=${value}`);
      }
    }
    if (node.tagName === "SCRIPT" && node.textContent.includes("__xss")) found.push("script");
    if (["B", "I"].includes(node.tagName) && ["rtl", "Berg"].includes(node.textContent)) {
      found.push(node.outerHTML);
    }
  }
  return found;
}"""

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
"""


async def ok(client: Client, message: dict) -> dict:
    """Send a message that must be acknowledged."""
    reply = await client.request(message)
    assert reply["type"] == "ack", (message, reply)
    return reply


async def stage_meeting(room: Room) -> Client:
    """Questions, two closed polls (one on the screen), a highlight, someone on stage and a
    break, full of payloads."""
    moderator = await room.moderator()
    people = [
        await room.participant("room" if i % 2 else "remote", name=n) for i, n in enumerate(NAMES)
    ]
    first = None
    for i, text in enumerate(QUESTIONS):
        ack = await ok(people[i % len(people)], {"type": "ask", "text": text})
        first = first or ack["question"]
    await ok(moderator, {"type": "question.highlight", "question": first})
    # On stage: the big screen's name card shows the name given at join.
    hand = await ok(people[1], {"type": "hand.raise"})
    await ok(moderator, {"type": "hand.invite", "hand": hand["hand"]})
    await ok(
        moderator, {"type": "poll.create", "kind": "single", "text": POLL_TEXT, "options": OPTIONS}
    )
    await ok(moderator, {"type": "poll.open", "poll": 1})
    for i, person in enumerate(people):
        await ok(person, {"type": "poll.answer", "poll": 1, "answer": 1 + i % len(OPTIONS)})
    await ok(moderator, {"type": "poll.close", "poll": 1})
    await ok(moderator, {"type": "poll.create", "kind": "words", "text": WORDS_TEXT})
    await ok(moderator, {"type": "poll.open", "poll": 2})
    for i, person in enumerate(people):
        await ok(person, {"type": "poll.answer", "poll": 2, "answer": WORDS[i % len(WORDS)]})
    await ok(moderator, {"type": "poll.close", "poll": 2})
    await ok(moderator, {"type": "break.start", "minutes": 10, "message": BREAK})
    return moderator


async def assert_shown_and_inert(page: Page, texts: list[str], where: str) -> None:
    """Every text is rendered as text, no payload became markup, and nothing ran."""
    for text in texts:
        try:
            await page.wait_for_function(SHOWN_AS_TEXT, arg=text, timeout=8000)
        except Exception as exc:
            raise AssertionError(f"{where}: {text!r} is not shown as text") from exc
    assert await page.evaluate("typeof window.__xss") == "undefined", where
    assert await page.evaluate(INJECTED) == [], where


def watch(page: Page) -> Page:
    """Collect the page's console errors in `page.console_errors`."""
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))  # type: ignore[attr-defined]
    return page


async def open_live(
    browser: Browser, viewport: dict[str, int], url: str, bypass: bool, before: str = ""
) -> Page:
    """A page in a fresh context that records CSP violations, opened and joined."""
    context = await browser.new_context(viewport=viewport, locale="sv-SE", bypass_csp=bypass)
    await context.add_init_script(before + WATCH)
    page = watch(await context.new_page())
    await page.goto(url)
    await expect(page.locator("body")).to_have_attribute("data-connection", "live")
    return page


async def check_every_page(browser: Browser, room: Room, moderator: Client, bypass: bool) -> None:
    """Phone, remote, console, report summary and screen show every payload as text; none runs."""
    http = room.server.http
    questions = QUESTIONS + NAMES
    polls = [POLL_TEXT, *OPTIONS, WORDS_TEXT, *WORDS]

    profile = json.dumps({"where": "room", "name": NAMES[0]})
    phone = await open_live(
        browser,
        PHONE,
        f"{http}/room/{room.code}",
        bypass,
        f"localStorage.setItem('companion.profile', {json.dumps(profile)});",
    )
    await phone.locator("#poll-results summary").click()  # closed polls are folded
    await assert_shown_and_inert(phone, [*questions, *polls, BREAK], "phone")

    remote = await open_live(browser, PHONE, f"{http}/remote/{room.code}", bypass)
    await remote.locator("#poll-results summary").click()
    await assert_shown_and_inert(remote, [*questions, *polls, BREAK], "remote")

    console = await open_live(
        browser, TABLET, f"{http}/moderate/{SESSION}#key={room.moderator_token}", bypass
    )
    await assert_shown_and_inert(console, [*questions, *polls], "console")

    # The moderator opens the summary the way the console does: a POST with the key.
    async with console.expect_popup() as popup:
        await console.click("#report-html")
    summary = watch(await popup.value)
    await expect(summary.locator("h1")).to_have_text("En myndighets förändringsresa")
    await assert_shown_and_inert(summary, [*questions, *polls], "report summary")

    await ok(moderator, {"type": "poll.show", "poll": 2})
    screen = await open_live(browser, SCREEN, f"{http}/screen/{room.code}", bypass)
    await assert_shown_and_inert(screen, [WORDS_TEXT, *WORDS, BREAK], "screen with the word cloud")
    await ok(moderator, {"type": "poll.show", "poll": 1})
    await assert_shown_and_inert(screen, [POLL_TEXT, *OPTIONS], "screen with the poll")
    await ok(moderator, {"type": "poll.unshow", "poll": 1})
    await assert_shown_and_inert(screen, [QUESTIONS[0], NAMES[0]], "screen with the question")
    await assert_shown_and_inert(screen, [NAMES[1]], "screen with the name card")
    assert await screen.locator(".on-stage-name").text_content() == NAMES[1]

    for page in (phone, remote, console, summary, screen):
        # Interacting gives focus and hover handlers their chance too.
        await page.keyboard.press("Tab")
        await page.mouse.move(100, 200)
        await page.wait_for_timeout(100)
        assert await page.evaluate("typeof window.__xss") == "undefined", page.url
        assert await page.evaluate("window.__csp") == [], page.url
        assert page.console_errors == [], (page.url, page.console_errors)  # type: ignore[attr-defined]
    for page in (phone, remote, console, screen):
        await page.context.close()


async def test_payloads_are_text_on_every_page(room: Room) -> None:
    """XSS payloads in names, questions, poll texts and options, word-cloud answers and a break
    message are visible as text and never run, on all five pages, with and without the CSP."""
    moderator = await stage_meeting(room)
    async with chromium() as browser:
        for bypass in (True, False):
            await check_every_page(browser, room, moderator, bypass)


def get(url: str, data: bytes | None = None, **headers: str) -> tuple[int, dict[str, str], str]:
    """Status, lower-case headers and text of one request (errors included)."""
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response
            return (
                raw.status,
                {k.lower(): v for k, v in raw.headers.items()},
                raw.read().decode("utf-8", "replace"),
            )
    except urllib.error.HTTPError as exc:
        return (
            exc.code,
            {k.lower(): v for k, v in exc.headers.items()},
            exc.read().decode("utf-8", "replace"),
        )


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as directive -> sources."""
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


async def test_every_page_forbids_inline_script_and_needs_none(room: Room) -> None:
    """Every page (and error page) sends a CSP whose script-src is 'self' only, plus the other
    security headers, and its HTML has no inline script or event-handler attribute."""
    http = room.server.http
    form = f"key={urllib.parse.quote(room.moderator_token)}".encode()
    pages = [
        ("/", None),
        (f"/j/{room.code}", None),
        (f"/room/{room.code}", None),
        (f"/remote/{room.code}", None),
        (f"/screen/{room.code}", None),
        (f"/moderate/{SESSION}", None),
        (f"/camera/{SESSION}", None),
        (f"/stage/{SESSION}", None),
        (f"/moderate/{SESSION}/report.html", form),
        ("/j/NOSUCH", None),
        ("/moderate/no-such-session", None),
        ("/no/such/page", None),
        (f"/api/sessions/{room.code}", None),
        (f"/moderate/{SESSION}/report.json", None),
        ("/static/js/ui.js", None),
        ("/networks/ledarskap-och-innovation", None),
        ("/networks/ledarskap-och-innovation/calendar.ics", None),
        ("/networks/no-such-network", None),
    ]
    for path, data in pages:
        status, headers, body = get(f"{http}{path}", data)
        assert status in (200, 401, 404), (path, status)
        csp = directives(headers["content-security-policy"])
        assert csp["script-src"] == ["'self'"], path
        assert csp["default-src"] == ["'self'"], path
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"], path
        assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"], path
        assert "'unsafe-inline'" not in csp["style-src"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert "set-cookie" not in headers, path
        if headers.get("content-type", "").startswith("text/html"):
            assert not INLINE_SCRIPT.search(body), path
            assert not INLINE_HANDLER.search(body), path


async def test_codes_and_ids_in_the_address_are_escaped(room: Room) -> None:
    """A payload typed into a join code or a moderator link comes back escaped on the error page."""
    http = room.server.http
    payload = '<img src=x onerror=window.__xss=1>"><svg onload=alert(1)>'  # no "/": one segment
    quoted = urllib.parse.quote(payload, safe="")
    for path in (f"/j/{quoted}", f"/room/{quoted}", f"/screen/{quoted}", f"/moderate/{quoted}"):
        status, _, body = get(f"{http}{path}")
        assert status == 404, path
        assert "<img src=x" not in body and "<svg" not in body, path
        assert "&lt;img src=x onerror=window.__xss=1&gt;&#34;&gt;&lt;svg" in body, path
    status, _, body = get(f"{http}/?code={quoted}")  # redirected to /j/<what was typed>
    assert status == 404 and "<img src=x" not in body


async def test_the_checks_catch_an_injection(room: Room) -> None:
    """Guards the checks above: markup injected on purpose runs without the CSP and is seen by the
    markup scan, and with the CSP it is blocked and recorded as a violation."""
    inject = (
        "document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"window.__xss=1\">')"
    )
    async with chromium() as browser:
        for bypass in (True, False):
            page = await open_live(browser, PHONE, f"{room.server.http}/room/{room.code}", bypass)
            await page.evaluate(inject)
            await page.wait_for_timeout(300)
            assert await page.evaluate(INJECTED) != []
            if bypass:
                assert await page.evaluate("window.__xss") == 1
            else:
                assert await page.evaluate("typeof window.__xss") == "undefined"
                assert any("script-src" in v for v in await page.evaluate("window.__csp"))
            await page.context.close()
