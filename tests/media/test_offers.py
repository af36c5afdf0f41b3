"""What the WHIP and WHEP endpoints make of offers: a valid offer without a direction
attribute is answered, and 1,000 mutated offers never get a 5xx or internals back."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from companion.media.codecs import accept_publisher_codecs
from companion.media.offers import with_directions
from tests.media.conftest import Stage
from tests.media.peers import HttpAnswer, http, prefer
from tests.serverproc import ServerProcess
from tests.wsclient import Client

pytestmark = pytest.mark.timeout(120)

DIRECTION = re.compile(r"a=(sendonly|recvonly|sendrecv|inactive)\r\n")
# What would give away the server's insides in an answer.
INTERNALS = re.compile(
    r"Traceback|File \"|Error\b|Exception|invalid literal|NoneType|object has no|"
    r"aiortc|\.py\b|line \d+|assert",
    re.IGNORECASE,
)


async def offer(kinds: tuple[str, ...], direction: str, h264: bool = False) -> str:
    """A real offer from aiortc (its connection is closed at once)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    for kind in kinds:
        transceiver = pc.addTransceiver(kind, direction=direction)
        if h264 and kind == "video":
            prefer(transceiver, "video/H264")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


def problems(answer: HttpAnswer) -> list[str]:
    """What is wrong with an answer: a 5xx, internals in the body, a refusal not `{code, message}`."""
    found = []
    if answer.status >= 500:
        found.append(f"status {answer.status}")
    if INTERNALS.search(answer.text):
        found.append("internals in the body")
    if answer.status != 201:
        body = json.loads(answer.body)
        if set(body) != {"code", "message"} or not body["message"]:
            found.append("not a {code, message} refusal")
    return found


async def test_an_offer_without_direction_attributes_is_answered(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """RFC 3264: a media section without a direction is sendrecv; WHIP and WHEP answer it."""
    stage = Stage(media_server, "tema-1-session-2", opened)
    await stage.load_settings()
    token = await stage.participant_token()
    base = await stage.stats()
    for endpoint, bearer, direction in (
        ("whip", stage.stream_key, "sendonly"),
        ("whep", token, "recvonly"),
    ):
        sdp = DIRECTION.sub("", await offer(("video", "audio"), direction))
        assert "a=sendonly" not in sdp and "a=recvonly" not in sdp
        answer = await http("POST", f"{media_server.http}/{endpoint}/{stage.session}", sdp, bearer)
        assert answer.status == 201, (endpoint, answer.status, answer.text)
        assert answer.text.startswith("v=0")
        # The answer's sections say what Companion does: receive from a publisher, send to a viewer.
        wanted = "a=recvonly" if endpoint == "whip" else "a=sendonly"
        assert answer.text.count(wanted) == 2, answer.text
        gone = await http("DELETE", answer.headers["location"], token=bearer, content_type=None)
        assert gone.status == 200
    assert (await stage.stats())["peer_connections"] == base["peer_connections"]


def mutate(sdp: str, rng: random.Random) -> str:
    """One offer changed in one to three random ways: lines dropped, doubled, swapped,
    values replaced by garbage, sections cut, directions removed."""
    lines = sdp.split("\r\n")
    garbage = [
        "åä",
        "",
        "-1",
        "99999999999999999999",
        "0",
        "a b c",
        "\x00",
        "💥",
        "256",
        ":::",
        "%s",
    ]
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(10)
        i = rng.randrange(len(lines))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op in (3, 4, 5):  # replace one token of a line
            tokens = re.split(r"([ :/=])", lines[i])
            k = rng.randrange(len(tokens))
            tokens[k] = rng.choice(garbage)
            lines[i] = "".join(tokens)
        elif op == 6:
            lines = [line for line in lines if not DIRECTION.match(line + "\r\n")]
        elif op == 7:
            lines = lines[: rng.randrange(1, len(lines) + 1)]
        elif op == 8:  # a whole media section doubled or dropped
            starts = [n for n, line in enumerate(lines) if line.startswith("m=")]
            if starts:
                s = rng.choice(starts)
                e = next((n for n in starts if n > s), len(lines))
                section = lines[s:e]
                lines[s:e] = section * 2 if rng.random() < 0.5 else []
        else:
            lines.insert(
                i,
                rng.choice(
                    [
                        "a=sendrecv",
                        "a=inactive",
                        "a=recvonly",
                        "a=sendonly",
                        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                        "m=video 9 UDP/TLS/RTP/SAVPF 200",
                        "a=rtpmap:96 VP8/åä",
                        "a=setup:bogus",
                        "a=mid:",
                        "a=group:BUNDLE x y",
                        "a=ssrc:x cname:y",
                        "a=extmap:a/b c",
                        "c=IN IP4 åä",
                        "a=rtcp:x",
                    ]
                ),
            )
    text = "\r\n".join(lines)
    return text if text.startswith("v=0") else "v=0\r\n" + text


async def test_a_thousand_mutated_offers_get_no_5xx_and_no_internals(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """1,000 mutated offers (500 WHIP, 500 WHEP) through the real endpoints: 0 answers
    >= 500, no exception text in any body, every created resource deletable, nothing left open."""
    accept_publisher_codecs()
    # One session per worker: a publisher worker's own 201s never make another's 409s.
    stages = [
        Stage(media_server, session, opened)
        for session in ("tema-2-session-2", "tema-3-session-2", "tema-4-session-2")
    ]
    for stage in stages:
        await stage.load_settings()
    tokens = [await stage.participant_token() for stage in stages]
    base = await stages[0].stats()
    seeds = {
        "whip": [
            await offer(("video", "audio"), "sendonly"),
            await offer(("video", "audio"), "sendonly", h264=True),
            await offer(("audio",), "sendrecv"),
        ],
        "whep": [
            await offer(("video", "audio"), "recvonly"),
            await offer(("video",), "sendrecv"),
        ],
    }
    rng = random.Random(20261130)
    cases = {
        endpoint: [mutate(rng.choice(seeds[endpoint]), rng) for _ in range(500)]
        for endpoint in ("whip", "whep")
    }
    statuses: dict[int, int] = {}
    failures: list[str] = []
    started = time.monotonic()

    async def worker(endpoint: str, stage: Stage, bearer: str, offers: list[str]) -> None:
        for n, sdp in enumerate(offers):
            answer = await http(
                "POST", f"{media_server.http}/{endpoint}/{stage.session}", sdp, bearer
            )
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            wrong = problems(answer)
            if wrong:
                failures.append(f"{endpoint} offer {n}: {wrong} {answer.text}\n{sdp}")
            if answer.status == 201:  # end it, so the next publish is not a 409
                gone = await http(
                    "DELETE", answer.headers["location"], token=bearer, content_type=None
                )
                assert gone.status == 200, gone.text

    await asyncio.gather(
        *(
            worker("whip", stage, stage.stream_key, cases["whip"][i::3])
            for i, stage in enumerate(stages)
        ),
        *(worker("whep", stage, tokens[i], cases["whep"][i::3]) for i, stage in enumerate(stages)),
    )
    elapsed = time.monotonic() - started
    print(f"1000 mutated offers in {elapsed:.1f} s: {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) == 1000
    assert not failures, f"{len(failures)} bad answers; the first ones:\n" + "\n".join(failures[:3])
    assert not [s for s in statuses if s >= 500]
    # Both sides of the parser are exercised: many mutations leave a valid offer.
    assert statuses.get(201, 0) > 200 and statuses.get(400, 0) > 200, statuses
    assert statuses.get(409, 0) == 0, statuses
    await asyncio.sleep(0.5)
    assert (await stages[0].stats())["peer_connections"] == base["peer_connections"]
    log = (media_server.data_dir / "server.log").read_text(errors="replace")
    assert "Traceback" not in log


async def test_mutated_trickle_fragments_get_no_5xx_and_no_internals(
    media_server: ServerProcess, opened: list[Client]
) -> None:
    """300 mutated trickle PATCHes on a live viewer resource: 204, 400 or 422, never 5xx."""
    stage = Stage(media_server, "ledarskap-2020-05-05", opened)
    token = await stage.participant_token()
    sdp = await offer(("video", "audio"), "recvonly")
    created = await http("POST", f"{media_server.http}/whep/{stage.session}", sdp, token)
    assert created.status == 201, created.text
    ufrag = re.search(r"a=ice-ufrag:(\S+)", sdp).group(1)  # type: ignore[union-attr]
    pwd = re.search(r"a=ice-pwd:(\S+)", sdp).group(1)  # type: ignore[union-attr]
    seed = (
        f"a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
        "a=candidate:1 1 udp 2130706431 192.0.2.2 9 typ host\r\n"
        "a=candidate:2 1 tcp 1518280447 192.0.2.3 9 typ srflx raddr 0.0.0.0 rport 0 tcptype passive\r\n"
        "a=end-of-candidates\r\n"
    )
    rng = random.Random(7)
    statuses: dict[int, int] = {}
    failures: list[str] = []
    for n in range(300):
        fragment = mutate("v=0\r\n" + seed, rng).removeprefix("v=0\r\n")
        answer = await http(
            "PATCH",
            created.headers["location"],
            fragment,
            token=token,
            content_type="application/trickle-ice-sdpfrag",
            headers={"If-Match": "*"},
        )
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        if answer.status >= 500 or INTERNALS.search(answer.text):
            failures.append(f"fragment {n}: {answer.status} {answer.text}\n{fragment}")
    print(f"300 mutated trickle fragments: {dict(sorted(statuses.items()))}")
    assert not failures, f"{len(failures)} bad answers; the first ones:\n" + "\n".join(failures[:3])
    assert statuses.get(204, 0) > 50 and statuses.get(400, 0) > 10, statuses
    gone = await http("DELETE", created.headers["location"], token=token, content_type=None)
    assert gone.status == 200


def test_an_absent_direction_is_the_session_level_one_else_sendrecv() -> None:
    """RFC 3264/4566: a section without a direction takes the session's, else sendrecv;
    a section's own direction stays."""
    offer = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n{session}"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=inactive\r\n"
    )
    plain = with_directions(offer.format(session=""))
    assert plain.split("m=")[1].endswith("a=sendrecv\r\n")
    assert plain.split("m=")[2].count("a=") == 2 and "a=inactive" in plain.split("m=")[2]
    session_level = with_directions(offer.format(session="a=sendonly\r\n"))
    assert session_level.split("m=")[1].endswith("a=sendonly\r\n")
    assert "a=inactive" in session_level.split("m=")[2]
    assert with_directions("v=0\r\n") == "v=0\r\n"  # nothing to add without media
