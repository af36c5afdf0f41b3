"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from companion.cli import demo_programme_text
from companion.domain.programme import Programme
from companion.programme_file import parse_programme


@pytest.fixture(scope="session")
def demo() -> Programme:
    """The parsed demo programme."""
    return parse_programme(demo_programme_text(), "programme.yaml")
