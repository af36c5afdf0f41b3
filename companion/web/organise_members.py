"""A network's member list on the organiser pages: add, edit and remove members by hand,
read a CSV file, and make, send and revoke their personal links.

Transport only: the rules are `companion.domain.members` and
`companion.services.members`. Only organisers of the network see or change it; every
change is in the network's audit. A personal link is shown once, when it is made (the
store keeps only its digest).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from companion.backends.base import StoreUnavailable
from companion.domain.members import LANGUAGES, CsvRefused, NetworkMember, parse_members_csv
from companion.domain.programme import Network
from companion.member_mail import MailError, MemberMail
from companion.services.members import MemberError, MemberService
from companion.settings import Settings
from companion.web.organiser_auth import OrganiserAccess, Refused
from companion.web.uploads import UploadError, read_upload


class MemberPages:
    """Handlers of /organise/networks/{network_id}/members…"""

    def __init__(self, settings: Settings, access: OrganiserAccess) -> None:
        self.settings = settings
        self.access = access
        self.members: MemberService = access.pages.members
        self.mail = MemberMail(settings)

    async def _allowed(self, request: Request) -> Network:
        programme = self.access.pages.service.programme
        network_id = request.path_params["network_id"]
        network = next((n for n in programme.networks if n.id == network_id), None)
        if network is None:
            await self.access.require_organiser(request)
            raise Refused(404, "organise.refused_not_found")
        await self.access.require_network_member(request, network.id)
        return network

    def _url(self, network: Network, query: str = "") -> str:
        return f"/organise/networks/{network.id}/members{query}"

    def link(self, secret: str) -> str:
        """A personal link as people open it."""
        return f"{self.settings.base_url}/m/{secret}"

    async def _page(
        self, request: Request, network: Network, status: int = 200, **extra: Any
    ) -> Response:
        try:
            members = await self.members.members(network.id)
        except StoreUnavailable:
            raise Refused(503, "organise.error_not_saved") from None
        return await self.access.render(
            request,
            "organise/members.html",
            status,
            network=network,
            members=members,
            languages=LANGUAGES,
            mail=self.mail.configured,
            errors=extra.pop("errors", {}),
            values=extra.pop("values", {}),
            done=request.query_params.get("done", ""),
            **extra,
        )

    async def page(self, request: Request) -> Response:
        """The list, the add form and the CSV upload."""
        network = await self._allowed(request)
        return await self._page(request, network)

    async def add(self, request: Request) -> Response:
        """Add one member by hand."""
        network = await self._allowed(request)
        form = await self.access.form(request)
        values = _fields(form)
        try:
            member = await self.members.add(network.id, **values)
        except MemberError as exc:
            return await self._page(
                request, network, 400, errors={exc.field or "form": exc.key}, values=values
            )
        await self.access.audit(request, network.id, "member.added", member.email)
        return self.access.redirect(self._url(network, "?done=added"))

    async def import_csv(self, request: Request) -> Response:
        """Read a CSV file: every row is checked first; one bad row and nothing is stored."""
        network = await self._allowed(request)
        try:
            upload = await read_upload(self.access, request)
        except UploadError as exc:
            return await self._page(request, network, exc.status, upload_error=exc)
        try:
            rows = parse_members_csv(upload.text)
            added, updated = await self.members.import_rows(network.id, rows)
        except CsvRefused as exc:
            return await self._page(
                request, network, 400, csv_problems=exc.problems, filename=upload.filename
            )
        except MemberError as exc:
            return await self._page(request, network, 400, errors={"csv": exc.key})
        await self.access.audit(
            request, network.id, "member.imported", f"{upload.filename}: +{added}, ~{updated}"
        )
        return await self._page(request, network, imported=(added, updated))

    async def _member(self, request: Request, network: Network) -> NetworkMember:
        member = await self.members.get(network.id, request.path_params["member_id"])
        if member is None:
            raise Refused(404, "organise.refused_not_found")
        return member

    async def edit(self, request: Request) -> Response:
        """One member's fields (GET) and saving them (POST)."""
        network = await self._allowed(request)
        member = await self._member(request, network)
        if request.method == "GET":
            return await self._edit_page(request, network, member)
        form = await self.access.form(request)
        values = _fields(form)
        try:
            changed = await self.members.edit(network.id, member.id, **values)
        except MemberError as exc:
            return await self._edit_page(
                request, network, member, 400, errors={exc.field or "form": exc.key}, values=values
            )
        await self.access.audit(request, network.id, "member.updated", changed.email)
        return self.access.redirect(self._url(network, "?done=updated"))

    async def _edit_page(
        self, request: Request, network: Network, member: NetworkMember, status: int = 200, **c: Any
    ) -> Response:
        values = c.pop("values", None) or {
            "name": member.name,
            "email": member.email,
            "organisation": member.organisation,
            "lang": member.lang,
        }
        return await self.access.render(
            request,
            "organise/member.html",
            status,
            network=network,
            member=member,
            values=values,
            languages=LANGUAGES,
            errors=c.pop("errors", {}),
        )

    async def remove(self, request: Request) -> Response:
        """Take a member off the list (their link stops at once)."""
        network = await self._allowed(request)
        await self.access.form(request)
        try:
            member = await self.members.remove(network.id, request.path_params["member_id"])
        except MemberError:
            raise Refused(404, "organise.refused_not_found") from None
        await self.access.audit(request, network.id, "member.removed", member.email)
        return self.access.redirect(self._url(network, "?done=removed"))

    async def new_link(self, request: Request) -> Response:
        """Make a personal link (any earlier one stops) and show it once, to copy."""
        network = await self._allowed(request)
        await self.access.form(request)
        member = await self._member(request, network)
        fresh, secret = await self.members.new_link(network.id, member.id)
        await self.access.audit(request, network.id, "member.link", fresh.email)
        return await self._page(request, network, made=(fresh, self.link(secret)))

    async def send_link(self, request: Request) -> Response:
        """Make a personal link and send it to the member by e-mail (any earlier one
        stops: the store cannot show an old link again)."""
        network = await self._allowed(request)
        await self.access.form(request)
        member = await self._member(request, network)
        if not self.mail.configured:
            raise Refused(409, "members.mail_not_configured")
        fresh, secret = await self.members.new_link(network.id, member.id)
        try:
            await self.mail.send(fresh, network.title, self.link(secret))
        except MailError:
            # The new link stands; it is shown so it can be copied instead.
            return await self._page(
                request, network, 502, made=(fresh, self.link(secret)), mail_failed=True
            )
        await self.access.audit(request, network.id, "member.sent", fresh.email)
        return self.access.redirect(self._url(network, "?done=sent"))

    async def revoke(self, request: Request) -> Response:
        """End a member's link on every process at once; they stay on the list."""
        network = await self._allowed(request)
        await self.access.form(request)
        member = await self._member(request, network)
        await self.members.revoke(network.id, member.id)
        await self.access.audit(request, network.id, "member.revoked", member.email)
        return self.access.redirect(self._url(network, "?done=revoked"))


def _fields(form: dict[str, str]) -> dict[str, Any]:
    return {
        "name": form.get("name", "")[:500],
        "email": form.get("email", "")[:500],
        "organisation": form.get("organisation", "")[:500],
        "lang": form.get("lang", "sv")[:20],
    }


def member_routes(access: OrganiserAccess, settings: Settings) -> list[BaseRoute]:
    """The routes of a network's member list."""
    pages = MemberPages(settings, access)
    base = "/organise/networks/{network_id}/members"
    one = base + "/{member_id}"
    return [
        Route(base, pages.page),
        Route(base + "/add", pages.add, methods=["POST"]),
        Route(base + "/import", pages.import_csv, methods=["POST"]),
        Route(one, pages.edit, methods=["GET", "POST"]),
        Route(one + "/remove", pages.remove, methods=["POST"]),
        Route(one + "/link", pages.new_link, methods=["POST"]),
        Route(one + "/send", pages.send_link, methods=["POST"]),
        Route(one + "/revoke", pages.revoke, methods=["POST"]),
    ]
