"""Picture-in-picture: the camera of a remote speaker on stage, as a tile in the stream.

A speaker may publish a video section with their voice (`/whip-stage`,
companion.media.stage_voices). Their decoded frames go, on the event loop, into a
`SpeakerCamera` mailbox that keeps the newest one. Each encoded frame of the stream takes
what is new from the mailboxes and hands it to the broadcast's encoder thread, where
`CameraTiles` scales it once into a yuv420p patch and keeps it; every stream frame then
only copies the patches in (with the lower third, in the same copy). So a speaker's frame
is scaled once, whatever the stream's frame rate or its number of viewers.

The tiles sit in the top right corner, about a quarter of the picture's width, stacked
when two speakers show their camera: clear of the lower third at the bottom. A camera that
sent nothing for `CAMERA_LOST_AFTER` gets no tile (never a frozen face).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import av
import numpy as np

from companion.media.name_card import Box, Patch, split_planes

TILE_WIDTH = 0.25  # of the picture's width
TILE_MAX_HEIGHT = 0.3  # of its height (a phone held upright gets a narrower tile)
MAX_TILES = 2  # as many as may speak at once
CAMERA_LOST_AFTER = 1.0  # seconds without a frame: no tile


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def tile_size(frame_w: int, frame_h: int, width: int, height: int) -> tuple[int, int]:
    """A tile's size (even sides) for a camera of `frame_w`x`frame_h`, aspect kept."""
    scale = min(width * TILE_WIDTH / frame_w, height * TILE_MAX_HEIGHT / frame_h)
    return _even(frame_w * scale), _even(frame_h * scale)


def tile_boxes(sizes: Sequence[tuple[int, int]], width: int, height: int) -> list[Box]:
    """Where tiles of these sizes go: in the top right corner, one below the other."""
    margin_x, margin_y = _even(width * 0.03), _even(height * 0.05)
    gap = _even(height * 0.02)
    boxes, top = [], margin_y
    for tile_w, tile_h in sizes:
        boxes.append(Box(width - margin_x - tile_w, top, tile_w, tile_h))
        top += tile_h + gap
    return boxes


class SpeakerCamera:
    """A speaker's newest decoded frame, on the event loop; `take` hands it over once."""

    def __init__(self) -> None:
        self.frame: av.VideoFrame | None = None
        self.at = -math.inf  # monotonic time of the last frame put

    def put(self, frame: av.VideoFrame) -> None:
        self.frame = frame
        self.at = time.monotonic()

    def fresh(self) -> bool:
        return time.monotonic() - self.at < CAMERA_LOST_AFTER

    def take(self) -> av.VideoFrame | None:
        """The newest frame if one came since the last take (the encoder thread owns it
        from then on), else None: the tile already drawn stays."""
        frame, self.frame = self.frame, None
        return frame


class CameraTiles:
    """The speakers' tiles as yuv420p patches. Touched by the encoder thread only."""

    def __init__(self) -> None:
        # speaker key -> (picture size the patch was scaled for, its y, u, v planes)
        self._scaled: dict[str, tuple[tuple[int, int], tuple[np.ndarray, ...]]] = {}
        self.scaled = 0  # frames scaled, for stats and tests

    def patches(
        self, shown: Sequence[tuple[str, av.VideoFrame | None]], size: tuple[int, int]
    ) -> list[Patch]:
        """The tiles to draw in a picture of `size`: one per shown speaker, in order, with
        their new frame scaled (None: the last one still holds)."""
        width, height = size
        keep = {key for key, _ in shown}
        for key in [k for k in self._scaled if k not in keep]:
            del self._scaled[key]  # ended, or the camera stopped: the tile goes now
        planes: list[tuple[np.ndarray, ...]] = []
        for key, frame in shown:
            if frame is not None:
                tile_w, tile_h = tile_size(frame.width, frame.height, width, height)
                small = frame.reformat(width=tile_w, height=tile_h, format="yuv420p")
                array = np.ascontiguousarray(small.to_ndarray(), dtype=np.uint8)
                self._scaled[key] = (size, split_planes(array, tile_w, tile_h))
                self.scaled += 1
            held = self._scaled.get(key)
            if held is not None and held[0] == size:  # a new picture size waits for a frame
                planes.append(held[1])
        sizes = [(y.shape[1], y.shape[0]) for y, _, _ in planes]
        return [
            Patch(box, *tile)
            for box, tile in zip(tile_boxes(sizes, width, height), planes, strict=True)
        ]
