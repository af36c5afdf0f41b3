"""A member's personal link by e-mail, through a real local SMTP server (aiosmtpd) and a
real server process: the mail arrives with the right link (which opens the member's
remote page), in Swedish, or in English when the member's language says so; a mail
server that is down leaves the new link on the page to copy instead."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.e2e.conftest import started
from tests.e2e.members import MEMBERS, NETWORK, SESSION, MemberBrowser, add_member, set_members_only
from tests.e2e.organisers import signed_in
from tests.serverproc import ServerProcess, free_port


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def mail_server(tmp_path: Path, port: int) -> ServerProcess:
    return ServerProcess(
        tmp_path,
        extra_env={
            "COMPANION_SMTP_HOST": "127.0.0.1",
            "COMPANION_SMTP_PORT": str(port),
            "COMPANION_SMTP_SECURITY": "none",
            "COMPANION_SMTP_FROM": "natverket@example.org",
        },
    )


def test_the_link_arrives_by_mail_in_the_members_language(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    with started(mail_server(tmp_path, port)) as server:
        anna = signed_in(server, "anna@kommun.se", NETWORK)
        set_members_only(anna)
        code = server.access()[SESSION][0]
        asa = add_member(anna, "Åsa Öberg", "asa@region.se", "sv")
        john = add_member(anna, "John Smith", "john@example.com", "en")
        for member_id in (asa, john):
            sent = anna.post(f"{MEMBERS}/{member_id}/send")
            assert sent.status_code == 303 and sent.headers["location"].endswith("?done=sent")
        assert len(inbox.messages) == 2
        (env_sv, sv), (env_en, en) = inbox.messages
        assert env_sv.rcpt_tos == ["asa@region.se"] and env_en.rcpt_tos == ["john@example.com"]
        network = "Ledarskap och innovation i offentlig sektor"
        assert sv["Subject"] == f"Din personliga länk till {network}", sv["Subject"]
        assert en["Subject"] == f"Your personal link to {network}", en["Subject"]
        assert sv["To"] == "Åsa Öberg <asa@region.se>"
        assert "natverket@example.org" in sv["From"]
        body_sv, body_en = sv.get_content(), en.get_content()
        assert body_sv.startswith("Hej Åsa Öberg!") and "Länken är personlig." in body_sv
        assert body_en.startswith("Hello John Smith,") and "The link is personal." in body_en
        links = [
            re.search(rf"{re.escape(server.http)}/m/\S+", b).group(0) for b in (body_sv, body_en)
        ]
        # The mailed link is the member's: it opens the members-only remote page.
        browser = MemberBrowser(server)
        assert browser.open_link(links[0]).status_code == 303
        assert browser.member_token(code)
        # Sending again makes a new link: the one in the first mail no longer opens.
        assert anna.post(f"{MEMBERS}/{asa}/send").status_code == 303
        assert MemberBrowser(server).open_link(links[0]).status_code == 404
        assert browser.remote_page(code).status_code == 403
        audit = anna.get(f"/organise/networks/{NETWORK}/audit", headers={"accept-language": "sv"})
        assert audit.text.count('data-what="member.sent"') == 3


def test_a_mail_server_that_is_down_leaves_the_link_to_copy(tmp_path: Path) -> None:
    with started(mail_server(tmp_path, free_port())) as server:  # nothing listens there
        anna = signed_in(server, "anna@kommun.se", NETWORK)
        member_id = add_member(anna, "Bo Ek", "bo@kommun.se")
        sent = anna.post(f"{MEMBERS}/{member_id}/send", headers={"accept-language": "sv"})
        assert sent.status_code == 502
        assert "E-posten till Bo Ek kunde inte skickas." in sent.text
        link = re.search(r'id="member-link" type="text" readonly value="([^"]+)"', sent.text)
        assert link and MemberBrowser(server).open_link(link.group(1)).status_code == 303
        assert "Traceback" not in sent.text


def test_without_a_mail_server_there_is_no_send_button(server: ServerProcess) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    member_id = add_member(anna, "Ce Ek", "ce@kommun.se")
    page = anna.get(MEMBERS, headers={"accept-language": "sv"}).text
    assert f"/members/{member_id}/send" not in page
    assert "E-post är inte inställt på servern" in page
    assert anna.post(f"{MEMBERS}/{member_id}/send").status_code == 409
