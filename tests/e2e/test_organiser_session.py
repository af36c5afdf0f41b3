"""The organiser's session page against a real server: the camera/OBS details it shows
are the ones the stream endpoints take, and "live stream off" refuses publishing."""

from __future__ import annotations

import re

import requests

from tests.e2e.organisers import signed_in
from tests.serverproc import ServerProcess

NETWORK = "ledarskap-och-innovation"
SID = "ledarskap-2020-05-05"


def shown(page: str, field: str) -> str:
    """The value of a read-only field of the session page."""
    found = re.search(rf'id="{field}" type="text" readonly value="([^"]+)"', page)
    assert found, field
    return found.group(1)


def whip(server: ServerProcess, key: str) -> requests.Response:
    """A publish attempt with a stream key (the offer is not SDP: refusals come first)."""
    return requests.post(
        f"{server.http}/whip/{SID}",
        data="v=0\r\n",
        headers={"authorization": f"Bearer {key}", "content-type": "application/sdp"},
        timeout=20,
    )


def test_camera_details_and_stream_off(server: ServerProcess) -> None:
    """The page's WHIP URL and stream key are the console's (`/api/stream`); after a new
    moderator link both show the new key. With the live stream off a publish with the
    right key is refused (403 `stream_disabled`); on again, the key is taken (the offer
    itself is then what is refused)."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    page = anna.get(f"/organise/sessions/{SID}").text
    token = server.access()[SID][1]
    api = requests.get(
        f"{server.http}/api/stream/{SID}", headers={"authorization": f"Bearer {token}"}, timeout=20
    ).json()
    assert shown(page, "whip-url") == api["whip_url"]
    key = shown(page, "stream-key")
    assert key == api["stream_key"] and key.startswith("sk_")
    assert shown(page, "moderator-link").endswith(f"/moderate/{SID}#key={token}")

    assert anna.post(f"/organise/sessions/{SID}/settings", {"anonymous": "on"}).status_code == 303
    off = whip(server, key)
    assert (off.status_code, off.json()["code"]) == (403, "stream_disabled")
    on = {"anonymous": "on", "word_filter": "on", "stream": "on"}
    assert anna.post(f"/organise/sessions/{SID}/settings", on).status_code == 303
    taken = whip(server, key)
    assert taken.status_code == 400 and taken.json()["code"] == "bad_offer", taken.text

    assert anna.post(f"/organise/sessions/{SID}/moderator-link").status_code == 303
    page = anna.get(f"/organise/sessions/{SID}").text
    new_token = server.access()[SID][1]
    api = requests.get(
        f"{server.http}/api/stream/{SID}",
        headers={"authorization": f"Bearer {new_token}"},
        timeout=20,
    ).json()
    assert shown(page, "stream-key") == api["stream_key"] != key
    assert whip(server, key).status_code == 403
