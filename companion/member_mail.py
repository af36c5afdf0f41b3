"""A member's personal link by e-mail, when an SMTP server is configured.

The standard library's `smtplib` on a worker thread (it blocks), with a timeout, so a
slow mail server never holds the event loop. The text is the member's language from the
catalogues (Swedish unless the member's language is English).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from companion.domain.members import NetworkMember
from companion.settings import Settings
from companion.web.i18n import translator

SMTP_TIMEOUT = 15.0


class MailError(Exception):
    """The mail server did not take the message (refused, unreachable, timed out)."""


class MemberMail:
    """Sends personal links through the configured SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        """Whether links can be sent at all (a server and a sender address)."""
        return bool(self.settings.smtp_host and self.settings.smtp_from)

    def message(self, member: NetworkMember, network_title: str, link: str) -> EmailMessage:
        """The mail with the link, in the member's language."""
        t = translator(member.lang)
        msg = EmailMessage()
        msg["Subject"] = t("members.mail_subject", network=network_title)
        msg["From"] = formataddr((network_title, self.settings.smtp_from))
        msg["To"] = formataddr((member.name, member.email))
        msg["Message-ID"] = make_msgid(domain=self.settings.smtp_from.rpartition("@")[2] or None)
        paragraphs = [
            t("members.mail_greeting", name=member.name),
            t("members.mail_intro", network=network_title),
            link,
            t("members.mail_personal"),
            t("members.mail_regards", network=network_title),
        ]
        msg.set_content("\n\n".join(paragraphs) + "\n")
        return msg

    async def send(self, member: NetworkMember, network_title: str, link: str) -> None:
        """Hand the mail to the server; MailError when it does not take it."""
        msg = self.message(member, network_title, link)
        try:
            await asyncio.to_thread(self._send, msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"{type(exc).__name__}: {exc}") from None

    def _send(self, msg: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SMTP_TIMEOUT)
        with smtp:
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)  # refused by the server: not sent in clear
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(msg)
