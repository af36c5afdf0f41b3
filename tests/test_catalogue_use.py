"""Every word a person reads comes from the catalogues (companion/i18n/*.json).

Templates: no text node and no human-read attribute (aria-label, title, alt, placeholder)
holds letters or digits of its own; only `{{ ... }}` output may. JS: no string literal with
letters or digits is written into textContent, innerText, a human-read attribute, an
element built with `el(...)` or a toast. Keys used in templates and JS exist in both
catalogues, and every catalogue key is used somewhere.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from companion.web.i18n import LANGUAGES, catalogue, count_keys
from tests.test_protocol_doc import documented_error_codes, raised_error_codes

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
SCRIPTS = sorted((ROOT / "static" / "js").glob("*.js"))
PYTHON = sorted((ROOT / "companion").rglob("*.py"))
READ_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")
# Text that is the same in every language: symbols, never words.
SYMBOLS = {"▲", "↗", "–", "−", "·", "…", "#", "%", "(", ")", ":", "×", "✕"}
# A block that fills an attribute (the body's classes) holds no text.
ATTRIBUTE_BLOCKS = re.compile(r"\{%-?\s*block body_class\s*-?%\}.*?\{%-?\s*endblock", re.S)
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
NUMBER = re.compile(r"\s*\d+\s*")  # a counter's first value, drawn over by the page
WORDLIKE = re.compile(r"[^\W_]", re.UNICODE)  # a letter or a digit


def _reads_as_words(text: str) -> bool:
    if NUMBER.fullmatch(text):
        return False
    rest = text
    for symbol in SYMBOLS:
        rest = rest.replace(symbol, "")
    return bool(WORDLIKE.search(rest))


class _TextFinder(HTMLParser):
    """Collects text nodes and human-read attribute values outside script and style."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value and _reads_as_words(value):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and _reads_as_words(data):
            self.found.append(data.strip())


def hard_coded_in_template(source: str) -> list[str]:
    """Text in a template that does not come from `{{ ... }}`."""
    finder = _TextFinder()
    finder.feed(JINJA.sub(" ", ATTRIBUTE_BLOCKS.sub(" ", source)))
    return finder.found


# A JS string literal: "…", '…' or `…` (the parts of a template literal outside ${…}).
LITERAL = r"""("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)"""
JS_SINKS = [
    re.compile(r"\.(?:textContent|innerText|innerHTML)\s*=\s*" + LITERAL),
    re.compile(
        r"setAttribute\(\s*['\"](?:" + "|".join(READ_ATTRIBUTES) + r")['\"]\s*,\s*" + LITERAL
    ),
    re.compile(r"['\"]?(?:aria-label|title|alt|placeholder)['\"]?\s*:\s*" + LITERAL),
    re.compile(r"\bel\(\s*['\"][\w-]+['\"]\s*,\s*\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}\s*,\s*" + LITERAL),
    re.compile(r"\b(?:toast|notify|announce)\(\s*" + LITERAL),
]


def _literal_reads_as_words(literal: str) -> bool:
    body = literal[1:-1]
    if literal.startswith("`"):
        body = re.sub(r"\$\{(?:[^{}]|\{[^{}]*\})*\}", "", body)
    return _reads_as_words(body)


COMMENTS = re.compile(r"/\*.*?\*/|^\s*//.*?$", re.S | re.M)


def hard_coded_in_script(source: str) -> list[str]:
    """String literals with words written where people read them (comments aside)."""
    source = COMMENTS.sub("", source)
    found = []
    for sink in JS_SINKS:
        for match in sink.finditer(source):
            if _literal_reads_as_words(match.group(1)):
                found.append(match.group(0))
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_show_only_catalogue_text(path: Path) -> None:
    """No words written straight into a template."""
    assert hard_coded_in_template(path.read_text("utf-8")) == []


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_scripts_show_only_catalogue_text(path: Path) -> None:
    """No words written straight into the page by a script."""
    assert hard_coded_in_script(path.read_text("utf-8")) == []


def test_the_checks_catch_what_they_look_for() -> None:
    """The scanners flag hard-coded words and let catalogue text and symbols through."""
    assert hard_coded_in_template('<option value="5">1–5</option>') == ["1–5"]
    assert hard_coded_in_template('<strong id="count-room">0</strong>') == []
    assert hard_coded_in_template('<img alt="QR code">') == ["<img alt='QR code'>"]
    assert hard_coded_in_template('<p>{{ t("x") }} ·</p><span aria-hidden="true">▲</span>') == []
    assert hard_coded_in_script('node.textContent = "Skicka";') != []
    assert hard_coded_in_script('el("span", { class: "a" }, `Frågeställare #${id}`)') != []
    assert hard_coded_in_script('button.setAttribute("aria-label", "Rösta");') != []
    assert hard_coded_in_script('toast("Klart")') != []
    assert hard_coded_in_script('node.textContent = t("questions.send");') == []
    assert hard_coded_in_script('// el("li", {}, "text") in a comment') == []


def test_a_count_used_as_a_plain_string_is_caught() -> None:
    """t("common.minutes", n=5) would print the key: only t.count() reads a count."""
    strings = catalogue("sv")
    assert "common.minutes" not in strings and "common.minutes" in count_keys("sv")
    assert hard_coded_in_script('el("span", { class: "x" }, `${a} · ${b}`)') == []


# Keys built from data: t(`common.status_${item.status}`), t("common.status_" ~ status),
# f"organise.error_{field}".
# Error messages are looked up by the server's code (ui.js errorText): `error.` is used
# whole, and test_error_codes_have_messages checks the codes.
DYNAMIC = re.compile(
    r"""\b(?:t|count)\(\s*`([\w.-]+)\$\{|\bt\(\s*["']([\w.-]+)["']\s*~|\bf["']([a-z]+\.[\w.]*)\{"""
)
STATIC = re.compile(r"""["'`]([a-z_]+\.[a-z0-9_.-]+)["'`]""")


def _sources() -> str:
    return "\n".join(p.read_text("utf-8") for p in [*TEMPLATES, *SCRIPTS, *PYTHON])


def test_every_key_used_in_pages_exists_and_every_catalogue_key_is_used() -> None:
    """No key shows itself on a page, and no string sits unused in the catalogues."""
    text = _sources()
    strings = catalogue("sv")
    counts = count_keys("sv")
    keys = set(strings) | counts
    for source in [*TEMPLATES, *SCRIPTS]:
        code = source.read_text("utf-8")
        # t("key") is a plain string (a count through t() would show its key) ...
        for match in re.finditer(r"""(?<![.\w])t\(\s*["']([\w.-]+)["']\s*[,)]""", code):
            assert match.group(1) in strings, f"{source.name}: {match.group(1)}"
        # ... and count("key", n) / t.count("key", n) a count.
        for match in re.finditer(r"""\bcount\(\s*["']([\w.-]+)["']""", code):
            assert match.group(1) in counts, f"{source.name}: {match.group(1)} is no count"
    prefixes = {next(g for g in m.groups() if g) for m in DYNAMIC.finditer(text)} | {"error."}
    used = set(STATIC.findall(text))
    unused = sorted(
        key
        for key in keys
        if key.rsplit(".", 1)[0] not in counts  # the forms of a count are used with it
        and key not in used
        and not any(key.startswith(prefix) for prefix in prefixes)
    )
    assert unused == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_error_codes_have_messages(lang: str) -> None:
    """Every error code a page can receive (docs/protocol.md, and what the realtime code
    raises) has a message in each catalogue, so no page shows "error.<code>"."""
    strings = catalogue(lang)
    codes = set(documented_error_codes()) | raised_error_codes()
    assert sorted(c for c in codes if f"error.{c}" not in strings) == []
