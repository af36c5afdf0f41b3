"""The organiser's front door against a real server process: the one-time link from
`companion organiser add`, choosing a password, signing in and out, the cookie, CSRF,
origin checks and the sign-in rate limit."""

from __future__ import annotations

import re
import sqlite3
import statistics
import time
from contextlib import closing
from pathlib import Path

from tests.e2e.conftest import started
from tests.e2e.organisers import PASSWORD, Organiser, add_organiser, signed_in
from tests.serverproc import ServerProcess

NETWORK = "ledarskap-och-innovation"


def test_first_account_link_password_signin_signout(server: ServerProcess) -> None:
    """The printed link opens once; the organiser chooses a password, sees only their
    network's sessions, signs out, and signs in again with email and password."""
    link = add_organiser(server, "Anna@Kommun.se", NETWORK)
    assert "/organise/link/" in link
    anna = Organiser(server).use_link(link)
    overview = anna.get("/organise")
    assert overview.status_code == 200
    assert "/organise/sessions/ledarskap-2020-05-05" in overview.text
    assert "/organise/sessions/tema-1-session-1" not in overview.text  # another network
    assert Organiser(server).post(link.removeprefix(server.http), csrf=False).status_code == 410
    assert anna.post("/organise/signout").status_code == 303
    assert anna.get("/organise").status_code == 303  # to the sign-in page
    assert anna.sign_in("anna@kommun.se").headers["location"] == "/organise"
    assert anna.get("/organise").status_code == 200
    # No password in anything the server wrote.
    assert PASSWORD not in server.log()


def test_the_signin_cookie_is_signed_httponly_lax_and_expires(server: ServerProcess) -> None:
    """HttpOnly, SameSite=Lax, Path=/, a Max-Age; a tampered cookie is not signed in."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    answer = anna.sign_in("anna@kommun.se")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("organiser=")
    for flag in ("HttpOnly", "SameSite=lax", "Path=/", "Max-Age=43200"):
        assert flag in cookie, cookie
    assert "Secure" not in cookie  # the public URL is http here
    value = anna.http.cookies["organiser"]
    anna.http.cookies.set("organiser", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert anna.get("/organise").status_code == 303


def test_https_public_url_makes_the_cookie_secure(tmp_path: Path) -> None:
    """With an https public URL the cookie is Secure and named with the __Host- prefix."""
    env = {"COMPANION_PUBLIC_URL": "https://moten.example.org"}
    with started(ServerProcess(tmp_path, extra_env=env)) as server:
        link = add_organiser(server, "anna@kommun.se", NETWORK)
        assert link.startswith("https://moten.example.org/organise/link/")
        client = Organiser(server)
        client.http.headers["origin"] = "https://moten.example.org"
        used = client.post(link.removeprefix("https://moten.example.org"), csrf=False)
        cookie = used.headers["set-cookie"]
        assert cookie.startswith("__Host-organiser=")
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_missing_or_wrong_csrf_or_foreign_origin_changes_nothing(server: ServerProcess) -> None:
    """A POST without the CSRF token, with another sign-in's token, or from another
    origin is refused with 403, and the password stays as it was."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    bo = signed_in(server, "bo@region.se", NETWORK)
    new = {
        "current": PASSWORD,
        "password": "ett helt nytt lösenord",
        "again": "ett helt nytt lösenord",
    }
    assert anna.post("/organise/password", new, csrf=False).status_code == 403
    assert anna.post("/organise/password", {**new, "csrf": ""}).status_code == 403
    assert anna.post("/organise/password", {**new, "csrf": bo.csrf}).status_code == 403
    anna.http.headers["origin"] = "https://evil.example"
    assert anna.post("/organise/password", new).status_code == 403
    assert anna.post("/organise/signout").status_code == 403
    anna.http.headers["origin"] = server.http
    assert anna.get("/organise").status_code == 200  # still signed in
    assert Organiser(server).sign_in("anna@kommun.se").status_code == 303  # old password


def test_an_expired_signin_link_opens_nothing(server: ServerProcess) -> None:
    """A link past its 24 hours is refused (410) and signs nobody in."""
    link = add_organiser(server, "anna@kommun.se", NETWORK)
    with closing(sqlite3.connect(server.data_dir / "companion.db")) as db:
        db.execute("UPDATE one_time_links SET expires = ?", (time.time() - 1,))
        db.commit()
    client = Organiser(server)
    answer = client.post(link.removeprefix(server.http), csrf=False)
    assert answer.status_code == 410
    assert "set-cookie" not in answer.headers
    assert client.get("/organise").status_code == 303


def _attempt(client: Organiser, email: str, password: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    answer = client.post("/organise/signin", {"email": email, "password": password}, csrf=False)
    # The page repeats the typed email; compare the rest.
    return answer.status_code, answer.text.replace(email, "EMAIL"), time.perf_counter() - started


def test_unknown_email_and_wrong_password_look_alike(server: ServerProcess) -> None:
    """Same status, same page and similar time for an unknown email and a wrong password."""
    signed_in(server, "anna@kommun.se", NETWORK)
    client = Organiser(server)
    unknown = [_attempt(client, f"okand{i}@kommun.se", "fel lösenord") for i in range(4)]
    wrong = [_attempt(client, "anna@kommun.se", "fel lösenord") for _ in range(4)]
    assert {(s, text) for s, text, _ in unknown} == {(s, text) for s, text, _ in wrong}
    assert unknown[0][0] == 401
    fast, slow = sorted(
        [statistics.median(t for *_, t in unknown), statistics.median(t for *_, t in wrong)]
    )
    assert slow < fast * 2 + 0.05, (fast, slow)


def test_signin_attempts_are_rate_limited(server: ServerProcess) -> None:
    """After five failed attempts on one account even the right password gets 429."""
    signed_in(server, "anna@kommun.se", NETWORK)
    client = Organiser(server)
    for _ in range(5):
        assert client.sign_in("anna@kommun.se", "fel lösenord").status_code == 401
    limited = client.sign_in("anna@kommun.se")
    assert limited.status_code == 429
    assert "set-cookie" not in limited.headers
    unknown = Organiser(server)
    for _ in range(5):
        unknown.sign_in("finns.inte@kommun.se", "fel")
    assert unknown.sign_in("finns.inte@kommun.se", "fel").status_code == 429


def test_organiser_pages_keep_the_origin_header_within_the_site(server: ServerProcess) -> None:
    """Organiser pages say Referrer-Policy: same-origin (under no-referrer Chromium sends
    `Origin: null` on our own form posts, which the origin check must refuse); every other
    page keeps no-referrer; both get the same CSP. A POST with `Origin: null` is refused."""
    client = Organiser(server)
    organise = client.get("/organise/signin")
    landing = client.get("/")
    assert organise.headers["referrer-policy"] == "same-origin"
    assert landing.headers["referrer-policy"] == "no-referrer"
    assert organise.headers["content-security-policy"] == landing.headers["content-security-policy"]
    assert "'unsafe-inline'" not in organise.headers["content-security-policy"]
    client.http.headers["origin"] = "null"
    refused = client.post("/organise/signin", {"email": "a@b.se", "password": "x"}, csrf=False)
    assert refused.status_code == 403


def test_removing_an_organiser_ends_their_access_at_once(server: ServerProcess) -> None:
    """Anna removes Bo: Bo's next request to the network is refused, the audit says who
    removed whom; the last organiser of a network cannot be removed."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    bo = signed_in(server, "bo@region.se", NETWORK)
    assert bo.get(f"/organise/networks/{NETWORK}/audit").status_code == 200
    page = anna.get(f"/organise/networks/{NETWORK}/organisers").text
    ids = dict(
        re.findall(r'class="member-email">([^<]+)<.*?/organisers/([0-9a-f]+)/remove', page, re.S)
    )
    assert set(ids) == {"anna@kommun.se", "bo@region.se"}
    assert (
        anna.post(
            f"/organise/networks/{NETWORK}/organisers/{ids['bo@region.se']}/remove"
        ).status_code
        == 303
    )
    assert bo.get(f"/organise/networks/{NETWORK}/audit").status_code == 403
    assert bo.post("/organise/sessions/ledarskap-2020-05-05/join-code").status_code == 403
    audit = anna.get(f"/organise/networks/{NETWORK}/audit").text
    assert re.search(r'data-what="organiser.removed">.*?anna@kommun.se.*?bo@region.se', audit, re.S)
    last = anna.post(f"/organise/networks/{NETWORK}/organisers/{ids['anna@kommun.se']}/remove")
    assert last.status_code == 400
    assert anna.get(f"/organise/networks/{NETWORK}/audit").status_code == 200
