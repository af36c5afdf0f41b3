"""Who may use the organiser pages: every `/organise/…` route and action tried with no
sign-in, with a participant token, with a moderator token, as an organiser of another
network, and with a missing or wrong CSRF token — all refused, and nothing changed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.conftest import started
from tests.e2e.organisers import PASSWORD, Organiser, signed_in
from tests.serverproc import ServerProcess
from tests.wsclient import Client

NETWORK = "ledarskap-och-innovation"
OTHER_NETWORK = "temasessioner"
SID = "ledarskap-2020-05-05"

GETS = [
    "/organise",
    "/organise/password",
    f"/organise/sessions/{SID}",
    f"/organise/sessions/{SID}/qr.svg",
    f"/organise/sessions/{SID}/qr.png",
    f"/organise/networks/{NETWORK}/organisers",
    f"/organise/networks/{NETWORK}/audit",
]
# Actions with a form that would change something if it were let through.
POSTS = {
    f"/organise/sessions/{SID}/settings": {"anonymous": "", "stream": "", "extra_words": "x"},
    f"/organise/sessions/{SID}/join-code": {},
    f"/organise/sessions/{SID}/moderator-link": {},
    f"/organise/networks/{NETWORK}/invite": {"email": "intruder@example.org"},
    f"/organise/networks/{NETWORK}/organisers/OWNER/remove": {},
    "/organise/password": {"password": "intrångsförsök 123", "again": "intrångsförsök 123"},
    "/organise/signout": {},
}
# Pages for one network only (the overview and the password page are every organiser's).
NETWORK_GETS = [p for p in GETS if p.startswith(("/organise/sessions", "/organise/networks"))]
NETWORK_POSTS = [p for p in POSTS if p.startswith(("/organise/sessions", "/organise/networks"))]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module, with the demo programme."""
    with started(ServerProcess(tmp_path_factory.mktemp("organiser-access"))) as proc:
        yield proc
    assert "Traceback" not in proc.log(), proc.log()


@pytest.fixture(scope="module")
def owner(server: ServerProcess) -> Organiser:
    """The organiser of the network under attack, with a member on its member list."""
    organiser = signed_in(server, "anna@kommun.se", NETWORK)
    member_id(organiser)
    return organiser


@pytest.fixture(scope="module")
def outsider(server: ServerProcess) -> Organiser:
    """An organiser of the other network only."""
    return signed_in(server, "bo@region.se", OTHER_NETWORK)


def owner_id(owner: Organiser) -> str:
    """The owner's organiser id, from the organisers page."""
    page = owner.get(f"/organise/networks/{NETWORK}/organisers")
    found = re.search(r"/organisers/([0-9a-f]+)/remove", page.text)
    assert found
    return found.group(1)


def state(server: ServerProcess, owner: Organiser) -> dict[str, object]:
    """What an intruder must not change: secrets, settings, members, audit, password."""
    page = owner.get(f"/organise/sessions/{SID}").text
    members = owner.get(f"/organise/networks/{NETWORK}/organisers").text
    member_list = owner.get(f"/organise/networks/{NETWORK}/members").text
    audit = owner.get(f"/organise/networks/{NETWORK}/audit").text
    return {
        "access": server.access()[SID],
        "checked": re.findall(r'name="(\w+)" type="checkbox" value="on"( checked)?', page),
        "words": re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S).group(1),
        "members": re.findall(r'class="member-email">([^<]+)<', members),
        "member_list": re.findall(
            r'<tr data-member="(\w+)">|class="member-link-state">([^<]+)<', member_list
        ),
        "audit": audit.count("<tr data-what"),
        "signin": Organiser(server).sign_in("anna@kommun.se").status_code,
    }


def paths(owner: Organiser) -> dict[str, dict[str, str]]:
    """The POST actions with the owner's id filled in."""
    oid = owner_id(owner)
    return {p.replace("OWNER", oid): form for p, form in POSTS.items()}


async def participant_and_moderator(server: ServerProcess) -> tuple[str, str]:
    """A real participant token (from joining) and the session's moderator token."""
    code, moderator_token = server.access()[SID]
    client = await Client.open(server.ws)
    try:
        welcome = await client.join(code=code, where="room")
        return welcome["participant"]["token"], moderator_token
    finally:
        await client.close()


def assert_refused(answer: requests.Response, statuses: tuple[int, ...]) -> None:
    """Refused with one of the statuses, with no trace of the server's insides."""
    assert answer.status_code in statuses, (answer.url, answer.status_code, answer.text[:300])
    assert "Traceback" not in answer.text and 'File "' not in answer.text
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/organise/signin")


async def test_without_signin_or_with_participant_or_moderator_tokens(
    server: ServerProcess, owner: Organiser
) -> None:
    """No sign-in, a participant token or the moderator token (as Bearer, as the cookie,
    as a form field): GETs go to the sign-in page, POSTs get 401/403, nothing changes."""
    before = state(server, owner)
    participant, moderator = await participant_and_moderator(server)
    attempts: list[tuple[dict[str, str], dict[str, str], dict[str, str]]] = [({}, {}, {})]
    for token in (participant, moderator):
        attempts += [
            ({"authorization": f"Bearer {token}"}, {}, {}),
            ({}, {"organiser": token}, {}),
            ({}, {"organiser": f"{token}.{token[:24]}"}, {}),
            ({}, {}, {"key": token, "csrf": token}),
        ]
    for headers, cookies, extra in attempts:
        client = Organiser(server)
        client.http.headers.update(headers)
        client.http.cookies.update(cookies)
        for path in GETS:
            assert_refused(client.get(path), (303,))
        for path, form in paths(owner).items():
            assert_refused(client.post(path, {**form, **extra}, csrf=False), (401, 403))
    assert state(server, owner) == before


def test_an_organiser_of_another_network_is_refused(
    server: ServerProcess, owner: Organiser, outsider: Organiser
) -> None:
    """Signed in, with a valid CSRF token, but not of this network: 403 everywhere."""
    before = state(server, owner)
    assert outsider.get("/organise").status_code == 200
    assert f"/organise/sessions/{SID}" not in outsider.get("/organise").text
    for path in NETWORK_GETS:
        assert_refused(outsider.get(path), (403,))
    for path, form in paths(owner).items():
        if path in NETWORK_POSTS or "/remove" in path:
            assert_refused(outsider.post(path, form), (403,))
    assert state(server, owner) == before


def test_missing_or_wrong_csrf_or_foreign_origin_is_refused(
    server: ServerProcess, owner: Organiser, outsider: Organiser
) -> None:
    """The network's own organiser, without the CSRF token, with another sign-in's token,
    or from another origin: 403 for every action, and nothing changes."""
    before = state(server, owner)
    for path, form in paths(owner).items():
        assert_refused(owner.post(path, form, csrf=False), (403,))
        assert_refused(owner.post(path, {**form, "csrf": outsider.csrf}), (403,))
        assert_refused(owner.post(path, {**form, "csrf": owner.csrf + "x"}), (403,))
        owner.http.headers["origin"] = "https://evil.example"
        assert_refused(owner.post(path, form), (403,))
        owner.http.headers["origin"] = server.http
    assert state(server, owner) == before


def test_an_expired_or_used_invitation_joins_nobody(
    server: ServerProcess, owner: Organiser
) -> None:
    """An invitation works once; used again, or for an account with a password that is
    not the one signed in, it joins nobody."""
    made = owner.post(f"/organise/networks/{NETWORK}/invite", {"email": "cecilia@kommun.se"})
    link = re.search(r'id="invitation-link" type="text" readonly value="([^"]+)"', made.text)
    assert link
    path = link.group(1).removeprefix(server.http)
    cecilia = Organiser(server)
    assert cecilia.post(path, csrf=False).status_code == 303
    assert Organiser(server).post(path, csrf=False).status_code == 410
    # An invitation for anna (who has a password), used by someone not signed in as anna.
    made = owner.post(f"/organise/networks/{OTHER_NETWORK}/invite", {"email": "anna@kommun.se"})
    assert made.status_code == 403  # anna is not of the other network
    bo = signed_in(server, "bo.b@region.se", OTHER_NETWORK)
    made = bo.post(f"/organise/networks/{OTHER_NETWORK}/invite", {"email": "anna@kommun.se"})
    path = re.search(r'id="invitation-link" type="text" readonly value="([^"]+)"', made.text)
    assert path
    taker = Organiser(server)
    refused = taker.post(path.group(1).removeprefix(server.http), csrf=False)
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    # Anna herself, signed in, can still use it.
    assert owner.post(path.group(1).removeprefix(server.http), csrf=False).status_code == 303
    assert f"/organise/networks/{OTHER_NETWORK}/audit" in owner.get("/organise").text
    assert Organiser(server).sign_in("anna@kommun.se", PASSWORD).status_code == 303


def test_bad_input_gets_an_error_beside_the_field_and_changes_nothing(
    server: ServerProcess, owner: Organiser
) -> None:
    """Too many or too long extra words, a bad invitation email, huge or broken forms:
    a clear 4xx, the error beside the field, no 5xx, nothing changed."""
    before = state(server, owner)
    settings = f"/organise/sessions/{SID}/settings"
    for words in ("två ord", "x" * 41, "\n".join(f"ord{i}" for i in range(101))):
        answer = owner.post(settings, {"anonymous": "", "extra_words": words})
        assert answer.status_code == 400
        assert 'id="f-extra_words-error"' in answer.text and 'aria-invalid="true"' in answer.text
    bad = owner.post(f"/organise/networks/{NETWORK}/invite", {"email": "inte en adress"})
    assert bad.status_code == 400 and 'id="f-email-error"' in bad.text
    huge = owner.post(settings, {"extra_words": "x" * 70_000})
    assert huge.status_code == 413
    assert owner.get(f"/organise/sessions/{SID}/qr.gif").status_code == 404
    assert owner.get("/organise/sessions/no-such-session").status_code == 404
    assert owner.get("/organise/networks/no-such-network/audit").status_code == 404
    assert state(server, owner) == before
    # Bytes that are not UTF-8 and a NUL are read as text without them: a change, no 5xx.
    raw = owner.http.post(
        server.http + settings,
        data=b"csrf=" + owner.csrf.encode() + b"&anonymous=on&extra_words=%ff%fe\xffskatt\x00",
        headers={"content-type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert raw.status_code == 303, raw.text[:300]
    words = state(server, owner)["words"]
    assert "\x00" not in words and "skatt" in words


# -- every route of the app under /organise, derived from the app itself ------------------

PUBLIC = {"/organise/signin", "/organise/link/{secret}", "/organise/invitation/{secret}"}
# A real thing of the demo programme for each path parameter, so a refusal is about who
# asks, not about a missing thing.
PARAMS = {
    "network": NETWORK,
    "network_id": NETWORK,
    "season": "varen-2020",
    "event": "forandringsresa",
    "session": SID,
    "session_id": SID,
    "track": "tema-1",
    "item": "valkommen",
    "kind": "svg",
}


def organise_routes() -> list[tuple[str, str]]:
    """(method, path template) of every organiser route the app serves, public ones aside."""
    from companion.app import create_app
    from companion.backends.memory import MemoryBus
    from companion.backends.sqlite import SQLiteStore
    from companion.services.sessions import SessionService
    from companion.settings import Settings

    app = create_app(Settings(secret_key="x"), SessionService(SQLiteStore(":memory:"), MemoryBus()))
    found = []
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/organise") or path in PUBLIC:
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                found.append((method, path))
    return found


def member_id(owner: Organiser) -> str:
    """A member on the owner's network's member list (put there once)."""
    page = owner.get(f"/organise/networks/{NETWORK}/members").text
    found = re.search(r'data-member="([0-9a-f]{16})"', page)
    if found is None:
        added = owner.post(
            f"/organise/networks/{NETWORK}/members/add", {"name": "Medlem", "email": "m@k.se"}
        )
        assert added.status_code == 303, added.text[:500]
        return member_id(owner)
    return found.group(1)


def fill(template: str, owner: Organiser, organiser_id: str | None = None) -> str:
    """A concrete path: demo things for the parameters, the owner for an organiser id."""
    if "{organiser_id}" in template and organiser_id is None:
        organiser_id = owner_id(owner)
    values = {**PARAMS, "organiser_id": organiser_id or ""}
    if "{member_id}" in template:
        values["member_id"] = member_id(owner)
    path = template.replace("{kind:str}", "{kind}")
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no test value for a parameter of {template}"
    return path


def test_the_route_list_covers_the_programme_editor_and_the_session_page() -> None:
    """Guard: the derived list holds routes of every organiser module."""
    paths = {p for _, p in organise_routes()}
    assert "/organise/sessions/{session_id}/moderator-link" in paths
    assert "/organise/networks/{network_id}/invite" in paths
    assert any(p.endswith("/programme") for p in paths), sorted(paths)
    assert len(paths) >= 15


def test_every_organiser_route_refuses_strangers_and_other_networks(
    server: ServerProcess, owner: Organiser, outsider: Organiser
) -> None:
    """Every route under /organise (read from the app, so a new one cannot be forgotten):
    without a sign-in a GET goes to the sign-in page and a POST gets 401/403; an organiser
    of another network gets 403/404 on every route that names this network or its
    sessions; a POST without the CSRF token gets 403 (404 when the path names a thing the
    network lacks). The programme and secrets stay."""
    before = state(server, owner)
    programme = owner.get(f"/organise/networks/{NETWORK}/programme").text
    stranger = Organiser(server)
    for method, template in organise_routes():
        path = fill(template, owner)
        names_network = "{network" in template or "{session" in template
        if method == "GET":
            assert_refused(stranger.get(path), (303,))
            if names_network:
                assert_refused(outsider.get(path), (403, 404))
        else:
            assert_refused(stranger.post(path, {"title": "Intrång"}, csrf=False), (401, 403))
            if names_network:
                assert_refused(outsider.post(path, {"title": "Intrång"}), (403, 404))
            # 404: the path names a thing this network lacks (a track), refused all the same
            assert_refused(owner.post(path, {"title": "Intrång"}, csrf=False), (403, 404))
    assert state(server, owner) == before
    assert owner.get(f"/organise/networks/{NETWORK}/programme").text == programme
    # And the network's own organiser gets every page without a server error.
    for method, template in organise_routes():
        if method == "GET":
            answer = owner.get(fill(template, owner))
            assert answer.status_code < 500, (template, answer.status_code)


NASTY_BODIES: list[tuple[str, bytes]] = [
    ("application/x-www-form-urlencoded", b""),
    ("application/x-www-form-urlencoded", b"%ED%A0%80=%ED%A0%80&title=%ED%A0%80"),
    ("application/x-www-form-urlencoded", b"=&&&==&%&%%%zz&title"),
    ("application/x-www-form-urlencoded", b"&".join(b"f%d=x" % i for i in range(600))),
    ("application/x-www-form-urlencoded", b"title=" + b"\xc3\xa5" * 30_000),
    ("application/json", b'{"title": "JSON i st\\u00e4llet"}'),
    (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nhej\r\n--x--\r\n',
    ),
    ("text/plain", b"\x00\xff\xfe"),
]


def test_malformed_bodies_on_every_post_route_never_fail_the_server(
    server: ServerProcess, owner: Organiser
) -> None:
    """Each organiser POST route (from the app), signed in with the right CSRF token in the
    query-less body plus malformed content — surrogates, broken escapes, 600 fields, a body
    near the limit, JSON, multipart, binary — answers below 500, without a trace."""
    for method, template in organise_routes():
        if method != "POST" or template.endswith(("/signout", "/password")):
            continue
        # Nobody's id for removals: the owner must stay to sign the next requests.
        path = fill(template, owner, organiser_id="0000000000000000")
        for content_type, body in NASTY_BODIES:
            prefix = b"csrf=" + owner.csrf.encode() + b"&" if "urlencoded" in content_type else b""
            answer = owner.http.post(
                server.http + path,
                data=prefix + body,
                headers={"content-type": content_type},
                allow_redirects=False,
                timeout=20,
            )
            assert answer.status_code < 500, (path, content_type, answer.status_code)
            assert "Traceback" not in answer.text and 'File "' not in answer.text
    assert "Traceback" not in server.log(), server.log()[-3000:]
