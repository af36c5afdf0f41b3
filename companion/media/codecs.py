"""Which codecs publishers may send and viewers receive, on top of aiortc's defaults."""

from __future__ import annotations

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecCapability, RTCRtpCodecParameters

from companion.media.aiortc_internals import codec_table

# aiortc matches H.264 offers only for (constrained) baseline, but OBS and most hardware
# encoders send main or high profile; its H.264 decoder (FFmpeg) decodes them all.
EXTRA_H264_PROFILES = ("4d001f", "640c1f", "64001f")

VIEWER_VIDEO = "video/vp8"  # what the shared encoder produces (see encoder.VideoEncoder)
VIEWER_AUDIO = "audio/opus"


def accept_publisher_codecs() -> None:
    """Let publishers negotiate H.264 main and high profiles too (idempotent).

    aiortc keeps its codec table in a module-level list, so this is process-wide; it only
    adds entries, with payload types after the existing ones.
    """
    video = codec_table("video")
    have = {
        c.parameters.get("profile-level-id") for c in video if c.mimeType.lower() == "video/h264"
    }
    payload_type = max(c.payloadType or 0 for c in video) + 1
    for profile in EXTRA_H264_PROFILES:
        if profile in have:
            continue
        video.append(
            RTCRtpCodecParameters(
                mimeType="video/H264",
                clockRate=90000,
                payloadType=payload_type,
                rtcpFeedback=[
                    RTCRtcpFeedback(type="nack"),
                    RTCRtcpFeedback(type="nack", parameter="pli"),
                    RTCRtcpFeedback(type="goog-remb"),
                ],
                parameters={
                    "level-asymmetry-allowed": "1",
                    "packetization-mode": "1",
                    "profile-level-id": profile,
                },
            )
        )
        video.append(
            RTCRtpCodecParameters(
                mimeType="video/rtx",
                clockRate=90000,
                payloadType=payload_type + 1,
                parameters={"apt": payload_type},
            )
        )
        payload_type += 2


def viewer_codecs(kind: str) -> list[RTCRtpCodecCapability]:
    """Codec preferences for a viewer's transceiver: only what the shared encoders produce."""
    wanted = VIEWER_VIDEO if kind == "video" else VIEWER_AUDIO
    return [
        c
        for c in RTCRtpSender.getCapabilities(kind).codecs
        if c.mimeType.lower() in (wanted, f"{kind}/rtx")
    ]
