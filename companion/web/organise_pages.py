"""The organiser's front door: sign in and out, one-time links, password, the networks
overview. Transport only; the rules are in `companion.services.organisers` and every
check of who may do what in `companion.web.organiser_auth`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from companion.services.organisers import AccountError, OrganiserService
from companion.settings import Settings
from companion.web.organiser_auth import OrganiserAccess, Refused, safe_next
from companion.web.pages import Pages


class AccountPages:
    """Sign-in, links, password and the overview of an organiser's networks."""

    def __init__(self, settings: Settings, access: OrganiserAccess) -> None:
        self.settings = settings
        self.access = access
        self.organisers: OrganiserService = access.organisers
        self.pages: Pages = access.pages

    def _address(self, request: Request) -> str:
        if self.settings.trust_proxy:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                return forwarded.split(",")[-1].strip()
        return request.client.host if request.client else "unknown"

    async def _render(self, request: Request, name: str, status: int = 200, **c: Any) -> Response:
        return await self.access.render(request, name, status, **c)

    async def index(self, request: Request) -> Response:
        """The networks the organiser belongs to, with their events and sessions."""
        await self.access.require_organiser(request)
        return await self._render(request, "organise/index.html")

    async def signin(self, request: Request) -> Response:
        """The sign-in form (GET) and signing in (POST)."""
        next_url = safe_next(request.query_params.get("next"))
        if request.method == "GET":
            return await self._render(request, "organise/signin.html", next=next_url, email="")
        form = await self.access.read_form(request)
        next_url = safe_next(form.get("next"))
        email = form.get("email", "")[:254]
        try:
            organiser = await self.organisers.authenticate(
                email, form.get("password", ""), self._address(request)
            )
        except AccountError as exc:
            status = 429 if exc.key == "organise.error_too_many" else 401
            return await self._render(
                request, "organise/signin.html", status, next=next_url, email=email, error=exc.key
            )
        secret, _ = await self.organisers.start_signin(organiser)
        return self.access.sign_in(self.access.redirect(next_url), secret)

    async def signout(self, request: Request) -> Response:
        """Sign out (POST with the CSRF token)."""
        await self.access.form(request)
        return await self.access.sign_out(request, self.access.redirect("/organise/signin"))

    async def signin_link(self, request: Request) -> Response:
        """A one-time sign-in link: a button (so link scanners cannot use it up), then
        signed in and on to choose a password."""
        secret = request.path_params["secret"]
        if request.method == "GET":
            return await self._render(
                request,
                "organise/link.html",
                heading="organise.link_title",
                intro="organise.link_intro",
                action=f"/organise/link/{secret}",
                valid=True,
            )
        await self.access.read_form(request)
        organiser = await self.organisers.use_signin_link(secret)
        if organiser is None:
            return await self._render(
                request, "organise/link.html", 410, heading="organise.link_title", valid=False
            )
        cookie, _ = await self.organisers.start_signin(organiser, via_link=True)
        return self.access.sign_in(self.access.redirect("/organise/password"), cookie)

    async def password(self, request: Request) -> Response:
        """Set or change the password; after a one-time link no current one is asked."""
        found = await self.access.signed_in(request)
        if found is None:
            raise Refused(401, "organise.refused_signin")
        organiser, signin = found
        need_current = bool(organiser.password_hash) and not signin.via_link
        if request.method == "GET":
            return await self._render(
                request,
                "organise/password.html",
                need_current=need_current,
                errors={},
                saved=request.query_params.get("saved") == "1",
            )
        form = await self.access.form(request)
        errors: dict[str, str] = {}
        if need_current:
            try:
                await self.organisers.authenticate(
                    organiser.email, form.get("current", ""), self._address(request)
                )
            except AccountError as exc:
                key = exc.key if exc.key == "organise.error_too_many" else "organise.error_current"
                errors["current"] = key
        if form.get("password", "") != form.get("again", ""):
            errors["again"] = "organise.error_password_again"
        if not errors:
            try:
                changed = await self.organisers.set_password(organiser, form.get("password"))
            except AccountError as exc:
                errors[exc.field] = exc.key
        if errors:
            return await self._render(
                request,
                "organise/password.html",
                400,
                need_current=need_current,
                errors=errors,
                saved=False,
            )
        # The new password ended every earlier sign-in; this browser stays signed in.
        await self.organisers.sign_out_quietly(signin)
        cookie, _ = await self.organisers.start_signin(changed)
        return self.access.sign_in(self.access.redirect("/organise/password?saved=1"), cookie)


def account_routes(access: OrganiserAccess, settings: Settings) -> list[BaseRoute]:
    """The routes of the organiser's front door."""
    pages = AccountPages(settings, access)
    return [
        Route("/organise", pages.index),
        Route("/organise/signin", pages.signin, methods=["GET", "POST"]),
        Route("/organise/signout", pages.signout, methods=["POST"]),
        Route("/organise/link/{secret}", pages.signin_link, methods=["GET", "POST"]),
        Route("/organise/password", pages.password, methods=["GET", "POST"]),
    ]
