"""The stream's lower third: who speaks from the stage, over the camera or a slate.

The cards (`slate.NameCard`, from the session's hands) are drawn with Pillow once per
change of speakers or picture size and kept as yuv420p patches; each frame then only gets
the patches copied into a copy of its planes. Runs in the broadcast's encoder thread, so it
costs once per session, not per viewer. The colours are the big screen's name card
(static/css/companion.css, `.on-stage-card`): the room and the stream look the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw

from companion.media.slate import NameCard
from companion.media.slate_picture import BOLD, FONT, fitted, font

CARD = (0, 92, 84)  # the card's background, far from a camera's usual greys
BAR = (255, 196, 64)  # the accent bar on its left
STATUS = (255, 217, 138)  # "På scen · på distans"
WHITE = (255, 255, 255)
SOFT = (210, 236, 232)  # the English line
MUTED = (168, 32, 32)  # the badge behind "Mikrofonen är avstängd" (white on it: 7:1)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


@dataclass(frozen=True, slots=True)
class Box:
    """Where a card goes in the picture (even, so the chroma planes line up)."""

    x: int
    y: int
    width: int
    height: int


def card_boxes(count: int, width: int, height: int) -> list[Box]:
    """The boxes of `count` cards in a picture of that size: side by side above the bottom
    edge, at most 60 % of the width for one card."""
    if count == 0:
        return []
    margin_x, margin_y = _even(width * 0.05), _even(height * 0.06)
    gap = _even(width * 0.02)
    card_h = _even(height * 0.22)
    room = width - 2 * margin_x - gap * (count - 1)
    card_w = _even(min(room / count, width * 0.6))
    top = height - margin_y - card_h
    return [Box(margin_x + i * (card_w + gap), top, card_w, card_h) for i in range(count)]


def _name_lines(
    draw: ImageDraw.ImageDraw, name: str, size: int, width: int
) -> tuple[list[str], int]:
    """The name on one line if it fits at 3/4 of `size`, else on two lines broken at the
    space nearest the middle (a long double name), else one line cut with an ellipsis."""
    for step in range(size, size * 3 // 4 - 1, -max(1, size // 12)):
        if draw.textlength(name, font=font(BOLD, step)) <= width:
            return [name], step
    spaces = [i for i, c in enumerate(name) if c == " "]
    if spaces:
        cut = min(spaces, key=lambda i: abs(i - len(name) / 2))
        lines = [name[:cut], name[cut + 1 :]]
        for step in range(size * 3 // 4, size // 2 - 1, -max(1, size // 12)):
            face = font(BOLD, step)
            if all(draw.textlength(line, font=face) <= width for line in lines):
                return lines, step
    line, face = fitted(draw, name, BOLD, size // 2, width)
    return [line], size // 2


def draw_card(card: NameCard, width: int, height: int, picture_height: int) -> Image.Image:
    """One card as an RGB picture of its box's size; type sizes follow the picture's
    height so the card reads the same at any stream size."""
    image = Image.new("RGB", (width, height), CARD)
    draw = ImageDraw.Draw(image)
    bar = _even(picture_height * 0.012)
    draw.rectangle((0, 0, bar - 1, height - 1), fill=BAR)
    pad = max(2, round(picture_height * 0.022))
    left = bar + pad
    usable = width - left - pad
    status, status_face = fitted(draw, card.status, BOLD, round(picture_height * 0.032), usable)
    english, english_face = fitted(
        draw, card.status_en, FONT, round(picture_height * 0.026), usable
    )
    lines, size = _name_lines(draw, card.name, round(picture_height * 0.058), usable)
    name_face = font(BOLD, size)
    y = pad
    draw.text((left, y), status, font=status_face, fill=STATUS)
    y += round(picture_height * 0.04)
    for line in lines:
        draw.text((left, y), line, font=name_face, fill=WHITE)
        y += round(size * 1.15)
    bottom = max(y, height - pad - round(picture_height * 0.03))
    if card.muted:  # a badge where the English line goes, ending above the bottom padding
        inset = max(2, round(picture_height * 0.006))
        muted, muted_face = fitted(
            draw, card.muted, BOLD, round(picture_height * 0.026), usable - 2 * inset
        )
        ink = draw.textbbox((left + inset, bottom), muted, font=muted_face)
        badge = (left, ink[1] - inset, ink[2] + inset, min(ink[3] + inset, height - pad - 1))
        draw.rounded_rectangle(badge, radius=inset, fill=MUTED)
        draw.text((left + inset, bottom), muted, font=muted_face, fill=WHITE)
    else:
        draw.text((left, bottom), english, font=english_face, fill=SOFT)
    return image


def split_planes(planes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    """Views of the Y, U and V planes in PyAV's yuv420p array (written through)."""
    flat = planes.reshape(-1)
    luma, chroma = width * height, (width // 2) * (height // 2)
    return (
        flat[:luma].reshape(height, width),
        flat[luma : luma + chroma].reshape(height // 2, width // 2),
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2),
    )


@dataclass(frozen=True, slots=True)
class Patch:
    """A yuv420p picture to copy into a frame at its box."""

    box: Box
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray


def paste(planes: tuple[np.ndarray, ...], patch: Patch) -> None:
    """Copy a patch into the Y, U and V planes (views of one frame's array)."""
    y, u, v = planes
    box = patch.box
    y[box.y : box.y + box.height, box.x : box.x + box.width] = patch.y
    cx, cy, cw, ch = box.x // 2, box.y // 2, box.width // 2, box.height // 2
    u[cy : cy + ch, cx : cx + cw] = patch.u
    v[cy : cy + ch, cx : cx + cw] = patch.v


class LowerThird:
    """Keeps the cards of the current speakers as yuv420p patches; `over` copies them
    into a new frame. Touched by the encoder thread only."""

    def __init__(self) -> None:
        self._key: tuple[tuple[NameCard, ...], int, int] | None = None
        self._patches: list[Patch] = []
        self.drawn = 0  # times the cards were drawn, for stats and tests

    def _patches_for(self, cards: tuple[NameCard, ...], width: int, height: int) -> list[Patch]:
        key = (cards, width, height)
        if key != self._key:
            self._patches = []
            for card, box in zip(cards, card_boxes(len(cards), width, height), strict=True):
                picture = av.VideoFrame.from_image(  # type: ignore[no-untyped-call]  # untyped in PyAV
                    draw_card(card, box.width, box.height, height)
                )
                planes = picture.reformat(format="yuv420p").to_ndarray()
                y, u, v = split_planes(planes, box.width, box.height)
                self._patches.append(Patch(box, y.copy(), u.copy(), v.copy()))
            self._key = key
            self.drawn += 1
        return self._patches

    def over(
        self,
        frame: av.VideoFrame,
        cards: tuple[NameCard, ...],
        size: tuple[int, int],
        tiles: Sequence[Patch] = (),
    ) -> av.VideoFrame:
        """A new yuv420p frame of `size` (even sides): `frame` with the `tiles` (speakers'
        cameras, companion.media.camera_tile) and then the cards drawn over it, in one copy.
        The given frame is never written to (a decoder may still hold its buffers)."""
        width, height = size
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != size:
            frame = frame.reformat(width=width, height=height, format="yuv420p")
        # A copy: Y, then U and V at half size, one after another.
        planes: np.ndarray[Any, np.dtype[np.uint8]] = np.ascontiguousarray(
            frame.to_ndarray(), dtype=np.uint8
        )
        views = split_planes(planes, width, height)
        for patch in [*tiles, *(self._patches_for(cards, width, height) if cards else [])]:
            paste(views, patch)
        return av.VideoFrame.from_ndarray(planes, format="yuv420p")  # the encoder sets pts
