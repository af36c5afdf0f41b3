"""The one module that touches aiortc's private parts: each reach-in still does its job
with the installed aiortc."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCSessionDescription
from aiortc.exceptions import InvalidStateError

from companion.media.aiortc_internals import (
    codec_table,
    negotiated_codecs,
    quiet_closed_while_connecting,
    route_keyframe_requests,
)
from companion.media.codecs import accept_publisher_codecs

pytestmark = pytest.mark.timeout(30)


class RTCPeerConnection:
    """Named like aiortc's, so the failing task looks the same to asyncio."""

    async def __connect(self) -> None:
        # What aiortc 1.16's connect task raises when the connection was closed while a
        # second ICE transport was about to start (seen in the SDP fuzz test's server log
        # after a DELETE right after the answer; aiortc issue #429).
        raise InvalidStateError("RTCIceTransport is closed")

    def connect(self) -> None:
        """Start the task the way aiortc does: nobody keeps or awaits it."""
        asyncio.ensure_future(self.__connect())  # noqa: RUF006 - unkept on purpose


async def _run_and_free_a_failing_connect_task() -> None:
    RTCPeerConnection().connect()
    await asyncio.sleep(0.05)
    gc.collect()  # asyncio reports an unretrieved task exception when the task is freed
    await asyncio.sleep(0.05)


async def test_a_connection_closed_while_connecting_leaves_no_traceback() -> None:
    """aiortc's connect task failing because its connection closed mid-ICE is one log
    line, not a "Task exception was never retrieved" traceback; other errors still are."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        await _run_and_free_a_failing_connect_task()
        assert any("__connect" in repr(c.get("future")) for c in reported), reported
        reported.clear()
        quiet_closed_while_connecting(loop)
        await _run_and_free_a_failing_connect_task()
        assert reported == []
        loop.call_exception_handler({"message": "something else"})
        assert reported == [{"message": "something else"}]
    finally:
        loop.set_exception_handler(None)


async def test_keyframe_requests_and_negotiated_codecs_reach_aiortc() -> None:
    """A viewer's PLI path calls our hook; the negotiated codecs are readable; the codec
    table is aiortc's own list (so adding H.264 profiles changes what it negotiates)."""
    accept_publisher_codecs()
    assert any(c.parameters.get("profile-level-id") == "640c1f" for c in codec_table("video"))
    offerer = aiortc.RTCPeerConnection(RTCConfiguration(iceServers=[]))
    offerer.addTransceiver("video", direction="recvonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    pc = aiortc.RTCPeerConnection(RTCConfiguration(iceServers=[]))
    await pc.setRemoteDescription(RTCSessionDescription(offerer.localDescription.sdp, "offer"))
    transceiver = pc.getTransceivers()[0]
    assert negotiated_codecs(transceiver)[0].mimeType == "video/VP8"
    requests: list[int] = []
    route_keyframe_requests(transceiver.sender, lambda: requests.append(1))
    transceiver.sender._send_keyframe()  # what aiortc calls on an incoming PLI/FIR
    assert requests == [1]
    await pc.close()
    await offerer.close()
