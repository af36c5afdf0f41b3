"""On-stage voices with real aiortc peers on a real server (companion.media.stage_voices).

A participant's token alone does not publish: before the invitation, after the end, or
for someone never invited, `/whip-stage` answers 403 and the room hears nothing. An
invited participant's 440 Hz tone reaches a room-audio listener (`/whep-room-audio`, the
moderator key), found by FFT of the decoded audio; after `hand.end` (or a mute) the tone
is gone within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.media.conftest import Stage
from tests.media.peers import TONE_HZ, HttpAnswer, Publisher, ToneTrack, http, wait_until
from tests.serverproc import ServerProcess
from tests.wsclient import Client

SESSION = "ledarskap-2020-05-05"
WINDOW = 0.2  # seconds of audio one FFT looks at


@dataclass
class Listener:
    """An aiortc WHEP peer on the room-audio endpoint that keeps what it decodes, timed."""

    base: str
    session: str
    token: str
    pc: RTCPeerConnection | None = None
    location: str | None = None
    heard: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (monotonic, left)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> HttpAnswer:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self._task = asyncio.ensure_future(self._read(track))

        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await http(
            "POST",
            f"{self.base}/whep-room-audio/{self.session}",
            self.pc.localDescription.sdp,
            self.token,
        )
        if answer.status == 201:
            self.location = answer.headers["location"]
            await self.pc.setRemoteDescription(RTCSessionDescription(answer.text, "answer"))
        else:
            await self.pc.close()
        return answer

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                pcm = frame.to_ndarray().reshape(-1).astype(np.float64)
                self.heard.append((time.monotonic(), pcm[0::2]))  # interleaved stereo

    def since(self, start: float, end: float | None = None) -> np.ndarray:
        chunks = [p for at, p in self.heard if at >= start and (end is None or at < end)]
        return np.concatenate(chunks) if chunks else np.zeros(0)

    def tone_level(self, start: float, end: float | None = None) -> float:
        """How much of the 440 Hz tone is in the audio heard between two moments: the
        spectrum's magnitude at 440 Hz (0 for silence), and only when 440 Hz dominates."""
        pcm = self.since(start, end)
        if len(pcm) < 2048:
            return 0.0
        spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
        peak = int(np.argmax(spectrum))
        if abs(peak * 48000 / len(pcm) - TONE_HZ) > 15:
            return 0.0
        return float(spectrum[peak] / len(pcm))

    def hears_tone(self, seconds: float = WINDOW) -> bool:
        return self.tone_level(time.monotonic() - seconds) > 100

    def silent_since(self, start: float) -> float | None:
        """When the audio heard after `start` went quiet for good (RMS under 30), if it did."""
        frames = [(at, p) for at, p in self.heard if at >= start]
        quiet_from = None
        for at, pcm in frames:
            loud = float(np.sqrt(np.mean(pcm**2))) >= 30
            if loud:
                quiet_from = None
            elif quiet_from is None:
                quiet_from = at
        return quiet_from

    async def stop(self) -> None:
        if self.location:
            await http("DELETE", self.location, token=self.token, content_type=None)
        if self.pc is not None:
            await self.pc.close()
        if self._task is not None:
            self._task.cancel()


async def speaker(stage: Stage, name: str) -> tuple[Client, str]:
    client = await Client.open(stage.server.ws)
    stage.opened.append(client)
    welcome = await client.join(code=stage.code, where="remote", name=name)
    assert welcome["type"] == "welcome", welcome
    return client, welcome["participant"]["token"]


def voice(stage: Stage, token: str) -> Publisher:
    return Publisher(
        stage.server.http, stage.session, token, audio=ToneTrack(), endpoint="whip-stage"
    )


async def test_only_an_invited_participant_is_heard_and_the_end_silences_them(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    stage = Stage(media_server, SESSION, opened)
    moderator = await stage.moderator()
    eva, eva_token = await speaker(stage, "Eva")
    _, other_token = await speaker(stage, "Olle")

    # Room audio is the moderator's: a participant token gets 403, none 401.
    assert (await Listener(media_server.http, SESSION, eva_token).start()).status == 403
    assert (await Listener(media_server.http, SESSION, "").start()).status == 401
    room = Listener(media_server.http, SESSION, stage.moderator_token)
    assert (await room.start()).status == 201, "room audio refused"
    assert await wait_until(lambda: len(room.heard) > 10, 10), "no audio frames at all"

    # Not invited: raised hand or not, the token does not publish.
    refused = voice(stage, eva_token)
    answer = await refused.start()
    assert answer.status == 403 and json.loads(answer.body)["code"] == "not_on_stage", answer.text
    hand = (await eva.request({"type": "hand.raise", "topic": "Budget"}))["hand"]
    answer = await voice(stage, eva_token).start()
    assert answer.status == 403, answer.text
    # The moderator key and the stream key are not a participant on stage either.
    assert (await voice(stage, stage.moderator_token).start()).status == 403
    started = time.monotonic()
    await asyncio.sleep(0.6)
    assert room.tone_level(started) == 0.0, "a tone reached the room before any invitation"

    # Invited: the tone reaches the room.
    assert (await moderator.request({"type": "hand.invite", "hand": hand}))["type"] == "ack"
    # Someone else's token is still refused while Eva is on stage.
    assert (await voice(stage, other_token).start()).status == 403
    publisher = voice(stage, eva_token)
    assert (await publisher.start()).status == 201
    invited = time.monotonic()
    assert await wait_until(room.hears_tone, 10), "the invited voice never reached the room"
    print(f"tone heard in the room {time.monotonic() - invited:.2f} s after publishing")

    # Muted: silent within a second; unmuted: heard again on the same connections.
    muted_at = time.monotonic()
    assert (await moderator.request({"type": "hand.mute", "hand": hand, "on": True}))[
        "type"
    ] == "ack"
    await asyncio.sleep(1.5)
    quiet = room.silent_since(muted_at)
    assert quiet is not None and quiet - muted_at < 1.0, (quiet, muted_at)
    assert (await moderator.request({"type": "hand.mute", "hand": hand, "on": False}))[
        "type"
    ] == "ack"
    assert await wait_until(room.hears_tone, 3), "unmuted, the voice did not come back"

    # Ended: the tone is gone within a second, and the server closes the connection.
    ended_at = time.monotonic()
    assert (await moderator.request({"type": "hand.end", "hand": hand}))["type"] == "ack"
    await asyncio.sleep(1.5)
    quiet = room.silent_since(ended_at)
    assert quiet is not None and quiet - ended_at < 1.0, (quiet, ended_at)
    print(f"tone gone {quiet - ended_at:.2f} s after hand.end")
    assert room.tone_level(ended_at + 1.0) == 0.0
    assert publisher.pc is not None
    assert await wait_until(lambda: publisher.pc.connectionState in ("closed", "failed"), 10)

    # After the end the same token is refused again.
    assert (await voice(stage, eva_token).start()).status == 403
    await publisher.stop()
    await room.stop()
    await refused.stop(delete=False)
