"""Giving freed memory back to the operating system after slow clients are cut.

A cut client's send buffer (up to the send-buffer limit) is freed at once, but glibc's
allocator keeps freed heap pages for reuse, so without a trim the resident size stays at
its peak after a crowd of slow clients is gone. `malloc_trim` returns them.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_DELAY = 0.5  # seconds: one trim after a burst of cuts, not one per client


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _load_trim()


class HeapTrimmer:
    """Schedules one `malloc_trim` shortly after memory was freed in bulk."""

    def __init__(self, delay: float = TRIM_DELAY) -> None:
        self.delay = delay
        self._scheduled: asyncio.TimerHandle | None = None

    def soon(self) -> None:
        """Trim once, `delay` seconds from now (later calls until then are folded in)."""
        if _malloc_trim is None or self._scheduled is not None:
            return
        self._scheduled = asyncio.get_running_loop().call_later(self.delay, self._trim)

    def _trim(self) -> None:
        self._scheduled = None
        if _malloc_trim is not None:
            _malloc_trim(0)
