"""The word filter holds questions with listed words for moderation."""

from __future__ import annotations

import pytest

from companion.domain.word_filter import WordFilter


@pytest.mark.parametrize(
    "text",
    [
        "Vad i helvete gör ni?",
        "JÄVLA dåligt",
        "Det var skitdåligt",
        "What the fuck",
        "Bullshit!",
        "idioter",
    ],
)
def test_default_list_catches_swedish_and_english(text: str) -> None:
    """Listed words (any case, with * as a prefix) are found in Swedish and English text."""
    assert WordFilter.from_setting("default").matches(text)


@pytest.mark.parametrize(
    "text",
    [
        "Vad fanns det för stöd?",
        "Fanny frågar",
        "Horisonten för omorganisationen",
        "Sköldpadda",
        "Kukkonen",
    ],
)
def test_whole_words_only(text: str) -> None:
    """Words that merely contain a listed word (fanns, horisont) are not held."""
    assert not WordFilter.from_setting("default").matches(text)


def test_custom_list_and_off() -> None:
    """A comma-separated setting replaces the list; `off` holds nothing."""
    custom = WordFilter.from_setting("budget*, nedskärning")
    assert custom.matches("Budgetramen?") and custom.matches("en nedskärning")
    assert not custom.matches("Vad i helvete?")
    assert not WordFilter.from_setting("off").matches("fuck")
    assert not WordFilter.from_setting("default").matches(None)
