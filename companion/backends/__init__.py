"""Stores and buses behind small interfaces (`base.py`); `open_store` picks the store.

The URL's scheme chooses the backend, whose module is imported only when it is chosen,
so an embedded installation never loads the Redis client.
"""

from __future__ import annotations

import importlib

from companion.backends.base import Store, StoreURLError

# scheme -> "module:class"; each class parses the rest of its URL (`from_url`).
STORES = {
    "sqlite": "companion.backends.sqlite:SQLiteStore",
    "redis": "companion.backends.redis:RedisStore",
    "rediss": "companion.backends.redis:RedisStore",
    "unix": "companion.backends.redis:RedisStore",
}


__all__ = ["STORES", "StoreURLError", "open_store"]


def open_store(url: str) -> Store:
    """The store a URL names, not yet opened (`await store.open()` connects).

    `sqlite:///relative.db`, `sqlite:////absolute/path.db` (optionally
    `?synchronous=FULL`), `redis://host:port/db`, `rediss://…`, `unix:///path.sock`.
    """
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    target = STORES.get(scheme)
    if target is None:
        # The scheme only: the rest of a URL may hold a password.
        raise StoreURLError(
            f"Unsupported store URL (scheme {scheme or 'missing'!r}): "
            "use sqlite:///FILE or redis://HOST:PORT/DB."
        )
    module, _, name = target.partition(":")
    store: Store = getattr(importlib.import_module(module), name).from_url(url)
    return store
