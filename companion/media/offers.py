"""What Companion accepts as an SDP offer, checked and normalised before aiortc sees it.

aiortc's parser reads with `assert` and `int()` and trusts what it reads: a malformed
offer raises Python errors, and some offers it parses are answered wrongly or fail deep
inside (a BUNDLE group naming no section, a section without a mid, an absent direction).
So an offer is read here first: anything aiortc cannot read or use becomes a `BadOffer`
with a plain message (never Python's words), and an absent direction is written out as
RFC 3264 defines it (the session-level one, else sendrecv).
"""

from __future__ import annotations

import logging

from aiortc.sdp import DIRECTIONS, SessionDescription

from companion.media.errors import BadOffer

log = logging.getLogger(__name__)

MEDIA_KINDS = ("audio", "video")


def normalise(offer: str, viewer: bool = False) -> str:
    """The offer with every section's direction explicit, or BadOffer saying what is wrong."""
    text = with_directions(offer)
    try:
        description = SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser fails with asserts, int(), split()...
        log.info("unreadable offer refused: %s", type(exc).__name__)
        raise BadOffer("The SDP offer cannot be read; check its syntax.") from None
    check(description, viewer)
    return text


def with_directions(offer: str) -> str:
    """Give each media section without a direction attribute the one RFC 3264 implies."""
    lines = offer.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1]:
        lines.pop()
    starts = [n for n, line in enumerate(lines) if line.startswith("m=")]
    if not starts:
        return offer
    session = lines[: starts[0]]
    default = next((d for d in DIRECTIONS if f"a={d}" in session), "sendrecv")
    out = session[:]
    for i, start in enumerate(starts):
        section = lines[start : starts[i + 1] if i + 1 < len(starts) else len(lines)]
        out += section
        if not any(line in (f"a={d}" for d in DIRECTIONS) for line in section):
            out.append(f"a={default}")
    return "\r\n".join(out) + "\r\n"


def check(description: SessionDescription, viewer: bool) -> None:
    """Refuse what aiortc would fail on, or answer wrongly, with a plain message."""
    media = description.media
    if not media:
        raise BadOffer("The offer has no media sections.")
    mids = [m.rtp.muxId for m in media]
    for section in media:
        if section.kind not in MEDIA_KINDS:
            raise BadOffer("The offer may only have audio and video sections.")
        if not section.rtp.muxId:
            raise BadOffer("Every media section needs an a=mid line.")
        ice = section.ice
        if ice is None or not ice.usernameFragment or not ice.password:
            raise BadOffer("The offer has no ICE credentials (a=ice-ufrag and a=ice-pwd).")
        if section.dtls is None or not section.dtls.fingerprints:
            raise BadOffer("The offer has no DTLS fingerprint (a=fingerprint).")
        if not section.rtcp_mux:
            raise BadOffer("The offer must use RTCP multiplexing (a=rtcp-mux).")
        if not section.rtp.codecs:
            raise BadOffer("A media section of the offer has no codecs (a=rtpmap).")
    if len(set(mids)) != len(mids):
        raise BadOffer("Two media sections of the offer have the same a=mid.")
    for group in description.group:
        if group.semantic == "BUNDLE" and not set(group.items) <= set(mids):
            raise BadOffer("The offer's BUNDLE group names a section it does not have.")
    if viewer:
        for section in media:
            names = {c.mimeType.lower() for c in section.rtp.codecs}
            if section.kind == "video" and "video/vp8" not in names:
                raise BadOffer("The offer must accept VP8 video.")
            if section.kind == "audio" and "audio/opus" not in names:
                raise BadOffer("The offer must accept Opus audio.")
