"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from companion.backends.sqlite import SQLiteStore
from companion.cli import demo_programme_text
from companion.domain.programme import Programme
from companion.programme_file import parse_programme
from tests.redisproc import RedisProcess


@pytest.fixture(scope="session")
def demo() -> Programme:
    """The parsed demo programme."""
    return parse_programme(demo_programme_text(), "programme.yaml")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the `store` fixture keeps its SQLite file (a module may choose another)."""
    return tmp_path / "companion.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SQLiteStore]:
    """An open SQLite store, closed after the test (a module may bring another kind)."""
    s = SQLiteStore(db_path)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A fresh redis-server for one test (append-only file on), stopped afterwards."""
    process = RedisProcess(tmp_path / "redis")
    process.start()
    yield process
    process.stop()
