"""The catalogues and the formats of companion/web/i18n.py: counts by CLDR plural rules,
numbers, times and dates as each language writes them."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from companion.domain import polls, questions
from companion.domain.programme import Event, Network, Programme, Season, Status
from companion.web.i18n import LANGUAGES, catalogue, count_keys, translator
from companion.web.pages import make_environment

# Every count key rendered with 0, 1, 2 and 21, in both languages: what a reader sees.
COUNTS: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "report.question_count": {
        "sv": ("0 frågor", "1 fråga", "2 frågor", "21 frågor"),
        "en": ("0 questions", "1 question", "2 questions", "21 questions"),
    },
    "members.count": {
        "sv": ("0 medlemmar", "1 medlem", "2 medlemmar", "21 medlemmar"),
        "en": ("0 members", "1 member", "2 members", "21 members"),
    },
    "members.imported_added": {
        "sv": ("0 nya medlemmar.", "1 ny medlem.", "2 nya medlemmar.", "21 nya medlemmar."),
        "en": ("0 new members.", "1 new member.", "2 new members.", "21 new members."),
    },
    "members.imported_updated": {
        "sv": (
            "0 medlemmar uppdaterade.",
            "1 medlem uppdaterad.",
            "2 medlemmar uppdaterade.",
            "21 medlemmar uppdaterade.",
        ),
        "en": (
            "0 members updated.",
            "1 member updated.",
            "2 members updated.",
            "21 members updated.",
        ),
    },
    "members.csv_refused": {
        "sv": ("{file} har 0 fel.", "{file} har 1 fel.", "{file} har 2 fel.", "{file} har 21 fel."),
        "en": (
            "{file} has 0 errors.",
            "{file} has 1 error.",
            "{file} has 2 errors.",
            "{file} has 21 errors.",
        ),
    },
    "members.csv_more": {
        "sv": ("… och 0 fel till.", "… och 1 fel till.", "… och 2 fel till.", "… och 21 fel till."),
        "en": (
            "… and 0 more errors.",
            "… and 1 more error.",
            "… and 2 more errors.",
            "… and 21 more errors.",
        ),
    },
    "common.votes": {
        "sv": ("0 röster", "1 röst", "2 röster", "21 röster"),
        "en": ("0 votes", "1 vote", "2 votes", "21 votes"),
    },
    "common.votes_noun": {
        "sv": ("röster", "röst", "röster", "röster"),
        "en": ("votes", "vote", "votes", "votes"),
    },
    "common.minutes": {
        "sv": ("0 min", "1 min", "2 min", "21 min"),
        "en": ("0 min", "1 min", "2 min", "21 min"),
    },
    "common.on_site_count": {
        "sv": ("0 på plats", "1 på plats", "2 på plats", "21 på plats"),
        "en": ("0 in person", "1 in person", "2 in person", "21 in person"),
    },
    "common.remote_count": {
        "sv": ("0 på distans", "1 på distans", "2 på distans", "21 på distans"),
        "en": ("0 remote", "1 remote", "2 remote", "21 remote"),
    },
    "questions.chars_left": {
        "sv": ("0 tecken kvar", "1 tecken kvar", "2 tecken kvar", "21 tecken kvar"),
        "en": ("0 characters left", "1 character left", "2 characters left", "21 characters left"),
    },
    "mydata.votes": {
        "sv": (
            "Du röstar på 0 frågor:",
            "Du röstar på 1 fråga:",
            "Du röstar på 2 frågor:",
            "Du röstar på 21 frågor:",
        ),
        "en": (
            "You vote for 0 questions:",
            "You vote for 1 question:",
            "You vote for 2 questions:",
            "You vote for 21 questions:",
        ),
    },
    "stream.viewers": {
        "sv": ("0 tittare", "1 tittare", "2 tittare", "21 tittare"),
        "en": ("0 viewers", "1 viewer", "2 viewers", "21 viewers"),
    },
    "schedule.added": {
        "sv": ("0 nya sessioner", "1 ny session", "2 nya sessioner", "21 nya sessioner"),
        "en": ("0 new sessions", "1 new session", "2 new sessions", "21 new sessions"),
    },
    "schedule.revised": {
        "sv": (
            "0 sessioner med ändrat program",
            "1 session med ändrat program",
            "2 sessioner med ändrat program",
            "21 sessioner med ändrat program",
        ),
        "en": (
            "0 sessions with a changed agenda",
            "1 session with a changed agenda",
            "2 sessions with a changed agenda",
            "21 sessions with a changed agenda",
        ),
    },
    "schedule.removed": {
        "sv": (
            "0 sessioner borttagna",
            "1 session borttagen",
            "2 sessioner borttagna",
            "21 sessioner borttagna",
        ),
        "en": (
            "0 sessions removed",
            "1 session removed",
            "2 sessions removed",
            "21 sessions removed",
        ),
    },
    "programme.n_events": {
        "sv": ("0 träffar", "1 träff", "2 träffar", "21 träffar"),
        "en": ("0 meetings", "1 meeting", "2 meetings", "21 meetings"),
    },
    "programme.n_items": {
        "sv": ("0 programpunkter", "1 programpunkt", "2 programpunkter", "21 programpunkter"),
        "en": ("0 agenda items", "1 agenda item", "2 agenda items", "21 agenda items"),
    },
    "moderator.audience_present": {
        "sv": ("0 närvarande", "1 närvarande", "2 närvarande", "21 närvarande"),
        "en": ("0 present", "1 present", "2 present", "21 present"),
    },
    "moderator.nudge_remote": {
        "sv": tuple(
            f"Ingen fråga från distans har besvarats på {n}"
            for n in ("0 minuter", "1 minut", "2 minuter", "21 minuter")
        ),
        "en": tuple(
            f"No remote question has been answered for {n}"
            for n in ("0 minutes", "1 minute", "2 minutes", "21 minutes")
        ),
    },
    "moderator.nudge_room": {
        "sv": tuple(
            f"Ingen fråga från dem på plats har besvarats på {n}"
            for n in ("0 minuter", "1 minut", "2 minuter", "21 minuter")
        ),
        "en": tuple(
            f"No question from the room has been answered for {n}"
            for n in ("0 minutes", "1 minute", "2 minutes", "21 minutes")
        ),
    },
    "moderator.presence_room": {
        "sv": ("på plats",) * 4,
        "en": ("in person",) * 4,
    },
    "moderator.presence_remote": {
        "sv": ("på distans",) * 4,
        "en": ("remote",) * 4,
    },
    "moderator.presence_moderators": {
        "sv": ("samtalsledare",) * 4,
        "en": ("moderators", "moderator", "moderators", "moderators"),
    },
    "moderator.presence_screens": {
        "sv": ("storskärmar", "storskärm", "storskärmar", "storskärmar"),
        "en": ("big screens", "big screen", "big screens", "big screens"),
    },
    "moderator.presence_new": {
        "sv": ("nya deltagare", "ny deltagare", "nya deltagare", "nya deltagare"),
        "en": ("new participants", "new participant", "new participants", "new participants"),
    },
    "moderator.author_questions": {
        "sv": tuple(
            f"{n} {'fråga' if n == 1 else 'frågor'} från samma person" for n in (0, 1, 2, 21)
        ),
        "en": tuple(
            f"{n} {'question' if n == 1 else 'questions'} from the same person"
            for n in (0, 1, 2, 21)
        ),
    },
    "moderator.nav_hands": {
        "sv": tuple(f"{n} vill prata" for n in (0, 1, 2, 21)),
        "en": ("0 want to speak", "1 wants to speak", "2 want to speak", "21 want to speak"),
    },
    "moderator.nav_pending": {
        "sv": tuple(f"{n} väntar på granskning" for n in (0, 1, 2, 21)),
        "en": tuple(f"{n} waiting for review" for n in (0, 1, 2, 21)),
    },
    "screen.participants": {
        "sv": ("deltagare",) * 4,
        "en": ("participants", "participant", "participants", "participants"),
    },
    "polls.respondents": {
        "sv": ("0 svar", "1 svar", "2 svar", "21 svar"),
        "en": ("0 answers", "1 answer", "2 answers", "21 answers"),
    },
    "polls.more_words": {
        "sv": ("och 0 ord till", "och 1 ord till", "och 2 ord till", "och 21 ord till"),
        "en": ("and 0 more words", "and 1 more word", "and 2 more words", "and 21 more words"),
    },
    "polls.choose_up_to": {
        "sv": tuple(f"Välj högst {n} alternativ" for n in (0, 1, 2, 21)),
        "en": (
            "Choose up to 0 options",
            "Choose up to 1 option",
            "Choose up to 2 options",
            "Choose up to 21 options",
        ),
    },
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_count_key_renders_with_0_1_2_and_21(lang: str) -> None:
    """Each count picks its form by the language's CLDR rule ("1 röst", "21 röster")."""
    assert count_keys(lang) == set(COUNTS), "a count key without expected renderings"
    t = translator(lang)
    for key, expected in COUNTS.items():
        assert tuple(t.count(key, n) for n in (0, 1, 2, 21)) == expected[lang], key


def test_large_counts_are_written_as_the_language_writes_numbers() -> None:
    """A thousand is "1 000" in Swedish (a no-break space) and "1,000" in English."""
    assert translator("sv").count("common.votes", 1000) == "1\u00a0000 röster"
    assert translator("en").count("common.votes", 1000) == "1,000 votes"


def test_a_count_is_an_object_of_cldr_forms_with_other() -> None:
    """Each count has every form its language's rule may choose, in both catalogues."""
    for lang in LANGUAGES:
        strings, t = catalogue(lang), translator(lang)
        for key in count_keys(lang):
            forms = {t.plural_category(n) for n in range(0, 200)}
            assert all(f"{key}.{form}" in strings for form in forms), (lang, key)
        # A count used as a plain string would show its key: none is one.
        assert not (count_keys(lang) & set(strings))


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    """Both languages say the same things with the same {placeholders}."""
    sv, en = catalogue("sv"), catalogue("en")
    assert set(sv) == set(en)
    for key in sv:
        assert set(re.findall(r"\{\w+\}", sv[key])) == set(re.findall(r"\{\w+\}", en[key])), key


def test_swedish_says_samtalsledare_not_moderator() -> None:
    """The seed's word for the one who leads the session, on every page (issue 11): a
    "moderator" that slipped into a new text reads as a different role."""
    slipped = {k: v for k, v in catalogue("sv").items() if re.search(r"(?i)moderator", v)}
    assert slipped == {}


def test_times_dates_and_percentages() -> None:
    """Swedish: 09.30, "tisdag 5 maj 2020", "50 %"; English: 09:30, "Tuesday 5 May 2020"."""
    sv, en = translator("sv"), translator("en")
    assert sv.time("09:30") == "09.30" and en.time("09:30") == "09:30"
    assert sv.time(dt.time(9, 5)) == "09.05"
    assert sv.time("2020-05-05T14:07:00+02:00") == "14.07"
    assert sv.date(dt.date(2020, 5, 5)) == "tisdag 5 maj 2020"
    assert en.date("2020-05-05") == "Tuesday 5 May 2020"
    assert sv.time_range("09:30", "11:30") == "09.30–11.30"
    assert sv.time_range("09:30", None) == "09.30"  # no dangling dash
    assert sv.time_range(None, None) == ""
    assert sv.percent(50.0) == "50\u00a0%" and sv.percent(66.67) == "66,7\u00a0%"
    assert en.percent(50.0) == "50%" and en.number(4.5) == "4.5" and sv.number(4.5) == "4,5"


@pytest.mark.parametrize(
    ("lang", "date", "times"),
    [("sv", "tisdag 5 maj 2020", "09.30"), ("en", "Tuesday 5 May 2020", "09:30")],
)
def test_landing_page_writes_dates_and_times_without_a_dangling_dash(
    lang: str, date: str, times: str
) -> None:
    """The programme shows "tisdag 5 maj 2020 09.30", and "09.30–12.30" only with an end."""
    events = (
        Event("a", "Utan sluttid", dt.date(2020, 5, 5), dt.time(9, 30)),
        Event("b", "Med sluttid", dt.date(2020, 5, 5), dt.time(9, 30), dt.time(12, 30)),
    )
    programme = Programme((Network("n", "Nätverk", seasons=(Season("s", "Våren", events),)),))
    html = (
        make_environment()
        .get_template("landing.html")
        .render(
            lang=lang,
            other_lang="en",
            t=translator(lang),
            catalogue_json="{}",
            ws_port=1,
            Status=Status,
            programme=programme,
            access={},
        )
    )
    without, with_end = html.split('data-event="b"')
    assert f'<span class="event-date">{date}</span>' in without
    assert f'<span class="event-time">{times}</span>' in without
    sep = "." if lang == "sv" else ":"
    assert f'<span class="event-time">{times}–12{sep}30</span>' in with_end
    assert "2020-05-05" not in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_error_messages_name_the_limits_the_server_enforces(lang: str) -> None:
    """A refused question, name, answer or poll says which limit it broke; the numbers are
    the domain's, so a changed limit cannot leave a wrong message behind."""
    strings = catalogue(lang)
    assert str(questions.MAX_QUESTION_CHARS) in strings["error.text_too_long"]
    assert str(questions.MAX_NAME_CHARS) in strings["error.name_too_long"]
    assert str(polls.MAX_WORD_CHARS) in strings["error.answer_too_long"]
    poll = strings["error.invalid_poll"]
    assert f"{polls.MIN_OPTIONS}–{polls.MAX_OPTIONS}" in poll
    assert str(polls.MAX_POLL_TEXT_CHARS) in poll and str(polls.MAX_OPTION_CHARS) in poll
