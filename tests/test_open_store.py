"""`open_store(url)`: the URL's scheme picks the store, whose module loads only then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from companion.backends import StoreURLError, open_store
from companion.backends.redis import RedisStore, RedisTail
from companion.backends.sqlite import SQLiteStore, sqlite_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:////var/lib/companion/companion.db", "/var/lib/companion/companion.db"),
        ("SQLite:///:memory:", ":memory:"),
        ("sqlite:////tmp/m%C3%B6te%20%231.db", "/tmp/möte #1.db"),
    ],
)
def test_sqlite_urls_name_their_file(url: str, path: str) -> None:
    """Three slashes then the path, percent-decoded; the store is embedded (not shared)."""
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == path and store.synchronous == "NORMAL"
    assert store.shared is False and store.tail() is None


def test_sqlite_url_round_trips_any_path_and_the_synchronous_setting(tmp_path: Path) -> None:
    """The URL the runtime builds from settings opens exactly that file and setting."""
    path = tmp_path / "data dir?#%" / "companion.db"
    store = open_store(sqlite_url(path, "full"))
    assert isinstance(store, SQLiteStore)
    assert (store.path, store.synchronous) == (str(path), "FULL")


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://:pw@cache.example:6380/1", "unix:///r.sock"]
)
def test_redis_urls_give_a_shared_store_with_a_tail(url: str) -> None:
    """Redis is shared between processes, and its tail follows the same server."""
    store = open_store(url)
    assert isinstance(store, RedisStore) and store.url == url
    assert store.shared is True
    tail = store.tail()
    assert isinstance(tail, RedisTail) and tail.url == url


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:hunter2@db/companion",
        "companion.db",
        "",
        "sqlite://host/file.db",
        "sqlite:///",
        "sqlite:///x.db?synchronous=sometimes",
        "sqlite:///x.db?synchronous=OFF;DROP",
    ],
)
def test_bad_urls_are_a_clear_error_that_never_echoes_a_password(url: str) -> None:
    """Unknown schemes and malformed SQLite URLs raise StoreURLError, nothing else."""
    with pytest.raises(StoreURLError) as error:
        open_store(url)
    assert "hunter2" not in str(error.value)


def test_the_embedded_store_does_not_load_the_redis_client(tmp_path: Path) -> None:
    """Opening a SQLite store imports no Redis module (the backend is loaded lazily)."""
    code = (
        "import sys; from companion.backends import open_store; "
        f"open_store('sqlite:///{tmp_path}/x.db'); "
        "print(sorted(m for m in sys.modules if m.startswith(('redis', 'companion.backends'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = done.stdout
    assert "companion.backends.sqlite" in loaded
    assert "redis" not in loaded.replace("companion.backends", "")
