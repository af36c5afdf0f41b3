"""Helpers for members-only tests against a real server: mark a session members only in
the programme editor, put a member on the list and make their personal link, and open
that link in a browser-like client (cookie jar)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import requests

from tests.e2e.organisers import Organiser
from tests.serverproc import ServerProcess

NETWORK = "ledarskap-och-innovation"
SESSION = "ledarskap-2020-05-05"
SESSION_PAGE = (
    f"/organise/networks/{NETWORK}/seasons/varen-2020/events/forandringsresa/sessions/{SESSION}"
)
MEMBERS = f"/organise/networks/{NETWORK}/members"


class _EditForm(HTMLParser):
    """The fields of the session page's own edit form, as a browser would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.fields: dict[str, str] = {}
        self._area: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "h2" and a.get("id") == "edit-session":
            self.inside = True
        elif not self.inside:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._area = a["name"]
            self.fields[self._area] = ""
        elif tag == "select":
            self._area = None

    def handle_data(self, data: str) -> None:
        if self._area is not None:
            self.fields[self._area] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._area = None
        if tag == "form" and self.inside and self.fields:
            self.inside = False


def set_members_only(organiser: Organiser, on: bool = True) -> None:
    """Tick (or clear) "Bara för medlemmar" in the session editor and save."""
    page = organiser.get(SESSION_PAGE)
    assert page.status_code == 200, page.status_code
    form = _EditForm()
    form.feed(page.text)
    fields = {k: v for k, v in form.fields.items() if k != "members_only"}
    if on:
        fields["members_only"] = "on"
    saved = organiser.post(SESSION_PAGE, fields)
    assert saved.status_code == 303, saved.text[:2000]
    assert (
        'name="members_only" type="checkbox" value="on" checked' in organiser.get(SESSION_PAGE).text
    ) == on


def add_member(organiser: Organiser, name: str, email: str, lang: str = "sv") -> str:
    """Put a member on the list; their id."""
    added = organiser.post(MEMBERS + "/add", {"name": name, "email": email, "lang": lang})
    assert added.status_code == 303, added.text[:2000]
    page = organiser.get(MEMBERS).text
    found = re.search(
        rf'<tr data-member="([0-9a-f]{{16}})">\s*<th scope="row"><a [^>]*>{re.escape(html.escape(name))}</a>',
        page,
    )
    assert found, page[:3000]
    return found.group(1)


def new_link(organiser: Organiser, member_id: str) -> str:
    """Make the member's personal link (shown once on the page); the link."""
    made = organiser.post(f"{MEMBERS}/{member_id}/link")
    assert made.status_code == 200, made.text[:2000]
    found = re.search(r'id="member-link" type="text" readonly value="([^"]+)"', made.text)
    assert found, made.text[:3000]
    return html.unescape(found.group(1))


def revoke(organiser: Organiser, member_id: str) -> None:
    """Revoke the member's link on the members page."""
    done = organiser.post(f"{MEMBERS}/{member_id}/revoke")
    assert done.status_code == 303, done.text[:2000]


class MemberBrowser:
    """A member's browser: opens the personal link, then the remote page."""

    def __init__(self, server: ServerProcess, lang: str = "sv") -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers["accept-language"] = "sv-SE,sv;q=0.9" if lang == "sv" else "en"

    def open_link(self, link: str) -> requests.Response:
        """GET the personal link (not following the redirect)."""
        path = link[link.index("/m/") :]
        return self.http.get(self.server.http + path, allow_redirects=False, timeout=20)

    def remote_page(self, code: str, server: ServerProcess | None = None) -> requests.Response:
        """The remote page of a session (of this or another process)."""
        base = (server or self.server).http
        return self.http.get(f"{base}/remote/{code}", allow_redirects=False, timeout=20)

    def member_token(self, code: str, server: ServerProcess | None = None) -> str:
        """The participant token the remote page carries for this member."""
        page = self.remote_page(code, server)
        assert page.status_code == 200, (page.status_code, page.text[:1000])
        found = re.search(r'data-member-token="([^"]+)"', page.text)
        assert found, page.text[:2000]
        return found.group(1)
