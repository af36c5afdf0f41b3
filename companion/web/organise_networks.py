"""A network's organisers (invite, remove) and its audit, and accepting an invitation.

Only organisers of the network see or change these; every access change is audited.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from companion.domain.programme import Network
from companion.services.organisers import AccountError
from companion.settings import Settings
from companion.web.organiser_auth import OrganiserAccess, Refused

AUDIT_SHOWN = 500


class NetworkPages:
    """Handlers of /organise/networks/{network_id}/… and /organise/invitation/{secret}."""

    def __init__(self, settings: Settings, access: OrganiserAccess) -> None:
        self.settings = settings
        self.access = access
        self.organisers = access.organisers

    def _network(self, network_id: str) -> Network | None:
        programme = self.access.pages.service.programme
        return next((n for n in programme.networks if n.id == network_id), None)

    async def _allowed(self, request: Request) -> Network:
        network = self._network(request.path_params["network_id"])
        if network is None:
            await self.access.require_organiser(request)
            raise Refused(404, "organise.refused_not_found")
        await self.access.require_network_member(request, network.id)
        return network

    async def _organisers_page(
        self, request: Request, network: Network, status: int = 200, **extra: object
    ) -> Response:
        return await self.access.render(
            request,
            "organise/organisers.html",
            status,
            network=network,
            members=await self.organisers.members(network.id),
            errors=extra.pop("errors", {}),
            email=extra.pop("email", ""),
            **extra,
        )

    async def organisers_page(self, request: Request) -> Response:
        """Who organises the network, and a form to invite one more."""
        network = await self._allowed(request)
        return await self._organisers_page(
            request, network, removed=request.query_params.get("removed") == "1"
        )

    async def invite(self, request: Request) -> Response:
        """Make a one-time invitation link (shown once, to copy and send)."""
        network = await self._allowed(request)
        who = await self.access.require_organiser(request)
        form = await self.access.form(request)
        email = form.get("email", "")[:254]
        try:
            secret = await self.organisers.invite(network.id, email, who)
        except AccountError as exc:
            return await self._organisers_page(
                request, network, 400, errors={"email": exc.key}, email=email
            )
        return await self._organisers_page(
            request,
            network,
            invitation=f"{self.settings.base_url}/organise/invitation/{secret}",
            invited=email.strip().lower(),
        )

    async def remove(self, request: Request) -> Response:
        """End an organiser's membership; the last organiser of a network stays."""
        network = await self._allowed(request)
        who = await self.access.require_organiser(request)
        await self.access.form(request)
        members = await self.organisers.members(network.id)
        target = next((m for m in members if m.id == request.path_params["organiser_id"]), None)
        if target is None:
            raise Refused(404, "organise.refused_not_found")
        if len(members) == 1:
            return await self._organisers_page(
                request, network, 400, errors={"members": "organise.error_last_organiser"}
            )
        await self.organisers.remove_member(network.id, target, who.email)
        if target.id == who.id:
            return self.access.redirect("/organise")
        return self.access.redirect(f"/organise/networks/{network.id}/organisers?removed=1")

    async def audit(self, request: Request) -> Response:
        """Who changed what, newest first."""
        network = await self._allowed(request)
        entries = await self.organisers.audit(network.id, AUDIT_SHOWN)
        return await self.access.render(
            request, "organise/audit.html", network=network, entries=entries
        )

    async def invitation(self, request: Request) -> Response:
        """An invitation: a button first (link scanners cannot use it up), then joined."""
        secret = request.path_params["secret"]
        action = f"/organise/invitation/{secret}"
        if request.method == "GET":
            return await self.access.render(
                request,
                "organise/link.html",
                heading="organise.invitation_title",
                intro="organise.invitation_intro",
                action=action,
                valid=True,
            )
        await self.access.read_form(request)
        current = await self.access.current_organiser(request)
        try:
            accepted = await self.organisers.accept_invitation(secret, current)
        except AccountError as exc:
            return await self.access.render(
                request,
                "organise/link.html",
                403,
                heading="organise.invitation_title",
                intro=exc.key,
                action=action,
                valid=True,
                problem=True,
            )
        if accepted is None:
            return await self.access.render(
                request, "organise/link.html", 410, heading="organise.invitation_title", valid=False
            )
        organiser, _ = accepted
        if current is not None and current.id == organiser.id:
            return self.access.redirect("/organise")
        cookie, _ = await self.organisers.start_signin(organiser, via_link=True)
        target = "/organise" if organiser.password_hash else "/organise/password"
        return self.access.sign_in(self.access.redirect(target), cookie)


def network_routes(access: OrganiserAccess, settings: Settings) -> list[BaseRoute]:
    """The routes of a network's organisers and audit, and of invitations."""
    pages = NetworkPages(settings, access)
    base = "/organise/networks/{network_id}"
    return [
        Route(base + "/organisers", pages.organisers_page),
        Route(base + "/invite", pages.invite, methods=["POST"]),
        Route(base + "/organisers/{organiser_id}/remove", pages.remove, methods=["POST"]),
        Route(base + "/audit", pages.audit),
        Route("/organise/invitation/{secret}", pages.invitation, methods=["GET", "POST"]),
    ]
