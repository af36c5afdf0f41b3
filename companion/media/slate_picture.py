"""Draws a slate's words into a video frame for the session's shared encoder.

Drawn with Pillow, then converted once to the encoder's yuv420p: a slate is drawn again
only when its text or the picture size changes (once a second while a countdown runs),
and the same frame is encoded until then. Runs in the broadcast's encoder thread.
"""

from __future__ import annotations

from functools import cache

import av
from PIL import Image, ImageDraw, ImageFont

from companion.media.slate import SlateKind, SlateText

# One background per kind, far from each other and from a camera's usual greys, so a
# viewer (and a test) can tell a planned slate from "we'll be right back".
BACKGROUNDS: dict[SlateKind, tuple[int, int, int]] = {
    SlateKind.PLANNED: (16, 40, 96),
    SlateKind.RIGHT_BACK: (72, 24, 64),
}
WHITE = (255, 255, 255)
SOFT = (200, 210, 230)
ACCENT = (255, 196, 64)
DEFAULT_SIZE = (1280, 720)  # before any camera picture set the encoder's size
FONT, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"


@cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(name, size)
    except OSError:  # no DejaVu on this host: Pillow's own scalable font
        return ImageFont.load_default(size)


def fitted(
    draw: ImageDraw.ImageDraw, text: str, name: str, size: int, width: int
) -> tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont]:
    """The text in the largest font down to half `size` that fits `width`, else cut with
    an ellipsis at half size: a long title never runs off the picture."""
    for step in range(size, max(8, size // 2) - 1, -max(1, size // 12)):
        face = font(name, step)
        if draw.textlength(text, font=face) <= width:
            return text, face
    face = font(name, max(8, size // 2))
    while text and draw.textlength(text + "…", font=face) > width:
        text = text[:-1]
    return text.rstrip() + "…", face


class SlatePainter:
    """Keeps the last drawn slate frame; `frame` draws only when something changed."""

    def __init__(self) -> None:
        self._key: tuple[SlateText, int, int] | None = None
        self._frame: av.VideoFrame | None = None
        self.drawn = 0  # pictures drawn, for stats and tests

    def frame(self, text: SlateText, width: int, height: int) -> av.VideoFrame:
        """The yuv420p frame of `text` at this size (the same object while unchanged)."""
        key = (text, width, height)
        if self._frame is None or key != self._key:
            image = draw_slate(text, width, height)
            picture = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]  # untyped in PyAV
            self._frame = picture.reformat(format="yuv420p")
            self._key = key
            self.drawn += 1
        return self._frame


def draw_slate(text: SlateText, width: int, height: int) -> Image.Image:
    """The slate as an RGB picture: title, headline (sv, en), countdown, next, join."""
    image = Image.new("RGB", (width, height), BACKGROUNDS[text.kind])
    draw = ImageDraw.Draw(image)
    margin = round(width * 0.06)
    usable = width - 2 * margin
    # Without a countdown and a next item, the headline moves down into the empty middle.
    lower = 0.0 if text.countdown or text.next_item else 0.14
    lines: list[tuple[str, str, float, tuple[int, int, int], float]] = [
        # text, font, size (share of the height), colour, top (share of the height)
        (text.title, FONT, 0.055, SOFT, 0.08),
        (text.headline, BOLD, 0.10, WHITE, 0.24 + lower),
        (text.headline_en, FONT, 0.055, SOFT, 0.37 + lower),
        (text.countdown, BOLD, 0.20, ACCENT, 0.47),
        (text.next_item, FONT, 0.055, WHITE, 0.74),
        (text.join, BOLD, 0.05, SOFT, 0.86),
    ]
    for words, name, share, colour, top in lines:
        if not words:
            continue
        line, face = fitted(draw, words, name, max(8, round(height * share)), usable)
        draw.text((margin, round(height * top)), line, font=face, fill=colour)
    return image
