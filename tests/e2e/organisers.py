"""Organiser helpers for end-to-end tests: accounts made with the real command, a
signed-in HTTP client (requests, with its cookie jar) against a real server process."""

from __future__ import annotations

import re
import subprocess
import sys

import requests

from tests.serverproc import ROOT, ServerProcess

PASSWORD = "ett långt lösenord för test"


def add_organiser(server: ServerProcess, email: str, *networks: str) -> str:
    """`companion organiser add EMAIL --network …`: the printed one-time sign-in link."""
    args = [sys.executable, "-m", "companion.cli", "organiser", "add", email]
    for network in networks:
        args += ["--network", network]
    done = subprocess.run(
        args, env=server.env, capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


class Organiser:
    """A browser-like client of one organiser: cookie jar, Origin header, CSRF token."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers["origin"] = server.http
        self.csrf = ""

    def get(self, path: str, **kw: object) -> requests.Response:
        """GET a page (redirects not followed)."""
        return self.http.get(self.server.http + path, allow_redirects=False, timeout=20, **kw)

    def post(
        self, path: str, data: dict[str, str] | None = None, csrf: bool = True, **kw: object
    ) -> requests.Response:
        """POST a form, with this sign-in's CSRF token unless told not to."""
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf", self.csrf)
        return self.http.post(
            self.server.http + path, data=form, allow_redirects=False, timeout=20, **kw
        )

    def use_link(self, link: str, password: str = PASSWORD) -> Organiser:
        """Open a one-time sign-in link and choose a password."""
        path = link.removeprefix(self.server.http)
        assert self.get(path).status_code == 200
        used = self.post(path, csrf=False)
        assert used.status_code == 303, used.text
        self.refresh_csrf()
        saved = self.post("/organise/password", {"password": password, "again": password})
        assert saved.status_code == 303, saved.text
        self.refresh_csrf()
        return self

    def sign_in(self, email: str, password: str = PASSWORD) -> requests.Response:
        """Sign in with email and password."""
        answer = self.post("/organise/signin", {"email": email, "password": password}, csrf=False)
        if answer.status_code == 303:
            self.refresh_csrf()
        return answer

    def refresh_csrf(self) -> None:
        """Read this sign-in's CSRF token from a page."""
        page = self.get("/organise/password")
        assert page.status_code == 200, page.status_code
        self.csrf = csrf_of(page.text)


def signed_in(server: ServerProcess, email: str, *networks: str) -> Organiser:
    """A new organiser of these networks, signed in with a password."""
    return Organiser(server).use_link(add_organiser(server, email, *networks))
