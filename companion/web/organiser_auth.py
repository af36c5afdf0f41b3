"""Who may use the organiser pages (`/organise/…`): sign-in cookie, CSRF, origin, audit.

How a route uses it (every `/organise/…` handler, GET and POST alike)::

    async def edit_event(self, request: Request) -> Response:
        network_id = ...                                   # from the path or the form
        who = await self.access.require_network_member(request, network_id)  # 401/403
        form = await self.access.form(request)             # POST: origin + CSRF, size limit
        ...                                                # change things
        await self.access.audit(request, network_id, "event.updated", event.title)
        return self.access.redirect("/organise/...")      # 303 after every POST

    # GET pages render through the shell (templates/organise/base.html):
    return await self.access.render(request, "organise/page.html", network=..., ...)

Refusals are `Refused` exceptions, which the app turns into a page: a GET without a
sign-in goes to the sign-in page, everything else gets 401/403 with a plain message,
and nothing has changed. Templates put `{{ csrf_field() }}` inside every POST form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, quote

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from companion.domain.organisers import Organiser, Signin
from companion.services.organisers import SIGNIN_SECONDS, OrganiserService
from companion.settings import Settings
from companion.web import dates
from companion.web.pages import Pages
from companion.web.security import OriginPolicy

MAX_FORM_BYTES = 64 * 1024
CSRF_FIELD = "csrf"


class Refused(Exception):
    """A request the organiser pages refuse; `key` is the catalogue key of the message."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


class OrganiserAccess:
    """The sign-in cookie, the CSRF token, origin checks and the audit, for one app."""

    def __init__(self, settings: Settings, organisers: OrganiserService, pages: Pages) -> None:
        self.settings = settings
        self.organisers = organisers
        self.pages = pages
        self.secure = settings.base_url.startswith("https://")
        # The __Host- prefix (Secure, no Domain, Path=/) is only honoured over https.
        self.cookie = "__Host-organiser" if self.secure else "organiser"
        self.origins = OriginPolicy(settings)

    # -- the cookie --------------------------------------------------------------------
    def _mac(self, value: str) -> str:
        key = hashlib.sha256(f"organiser-cookie\0{self.settings.secret_key}".encode()).digest()
        mac = hmac.new(key, value.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(mac).decode()

    def _secret(self, request: Request) -> str | None:
        raw = request.cookies.get(self.cookie, "")
        value, _, mac = raw.rpartition(".")
        if not value or len(raw) > 200 or not hmac.compare_digest(mac, self._mac(value)):
            return None
        return value

    def sign_in(self, response: Response, secret: str) -> Response:
        """Put a new sign-in session's secret in a signed, HttpOnly, SameSite=Lax cookie."""
        response.set_cookie(
            self.cookie,
            f"{secret}.{self._mac(secret)}",
            max_age=SIGNIN_SECONDS,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
        return response

    async def sign_out(self, request: Request, response: Response) -> Response:
        """End this browser's sign-in session, in the store and in the browser."""
        secret = self._secret(request)
        if secret:
            await self.organisers.sign_out(secret)
        response.delete_cookie(self.cookie, path="/", secure=self.secure, httponly=True)
        return response

    # -- who is asking -----------------------------------------------------------------
    async def signed_in(self, request: Request) -> tuple[Organiser, Signin] | None:
        """The organiser and sign-in session of this request (looked up once per request)."""
        if "organiser" not in request.scope:
            secret = self._secret(request)
            request.scope["organiser"] = await self.organisers.signed_in(secret) if secret else None
        found: tuple[Organiser, Signin] | None = request.scope["organiser"]
        return found

    async def current_organiser(self, request: Request) -> Organiser | None:
        """The signed-in organiser, or None."""
        found = await self.signed_in(request)
        return found[0] if found else None

    async def require_organiser(self, request: Request) -> Organiser:
        """The signed-in organiser; Refused(401) otherwise."""
        organiser = await self.current_organiser(request)
        if organiser is None:
            raise Refused(401, "organise.refused_signin")
        return organiser

    async def require_network_member(self, request: Request, network_id: str) -> Organiser:
        """The signed-in organiser when a member of the network; Refused(401/403) otherwise."""
        organiser = await self.require_organiser(request)
        if not await self.organisers.is_member(organiser.id, network_id):
            raise Refused(403, "organise.refused_network")
        return organiser

    # -- forms -------------------------------------------------------------------------
    def origin_allowed(self, request: Request) -> bool:
        """A state-changing request must come from our own pages (when the browser says)."""
        return self.origins.allows_form(request.headers.get("origin"), str(request.base_url))

    async def read_form(self, request: Request) -> dict[str, str]:
        """The url-encoded body of a POST (at most MAX_FORM_BYTES), origin checked, no CSRF."""
        if request.method != "POST":
            raise Refused(405, "organise.refused_method")
        if not self.origin_allowed(request):
            raise Refused(403, "organise.refused_origin")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise Refused(413, "organise.refused_too_large")
        text = body.decode("utf-8", "replace")
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=500)
        except ValueError:
            raise Refused(400, "organise.refused_bad_form") from None
        # Lone surrogates and NULs never reach the store.
        return {k: v.replace("\x00", "") for k, v in pairs}

    async def form(self, request: Request) -> dict[str, str]:
        """A signed-in organiser's POSTed form, with its CSRF token checked; Refused otherwise."""
        found = await self.signed_in(request)
        if found is None:
            raise Refused(401, "organise.refused_signin")
        form = await self.read_form(request)
        given = form.pop(CSRF_FIELD, "")
        if not hmac.compare_digest(given.encode(), found[1].csrf.encode()):
            raise Refused(403, "organise.refused_csrf")
        return form

    # -- answers -----------------------------------------------------------------------
    async def audit(self, request: Request, network_id: str, what: str, detail: str = "") -> None:
        """Record in the network's audit that the signed-in organiser did `what`."""
        organiser = await self.require_organiser(request)
        await self.organisers.record_audit(network_id, organiser.email, what, detail)

    @staticmethod
    def redirect(url: str) -> Response:
        """See-other after a POST, so a reload never repeats it."""
        return RedirectResponse(url, status_code=303)

    async def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> Response:
        """An organiser page in the shell, with the organiser, their networks and the CSRF field."""
        found = await self.signed_in(request)
        organiser, signin = found if found else (None, None)
        csrf = signin.csrf if signin else ""
        network_ids = await self.organisers.networks_of(organiser.id) if organiser else set()
        my_networks = [n for n in self.pages.service.programme.networks if n.id in network_ids]
        lang = self.pages._lang(request)
        response = self.pages.render(
            request,
            name,
            status,
            when=lambda event: dates.when(event, lang),
            moment=lambda at: dates.moment(at, lang),
            organiser=organiser,
            my_networks=my_networks,
            csrf_field=lambda: Markup(
                f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf)}">'
            ),
            path=request.url.path,
            **context,
        )
        response.headers["x-robots-tag"] = "noindex"
        return response

    async def refused(self, request: Request, exc: Exception) -> Response:
        """The answer to a Refused: the sign-in page for a GET without sign-in, else a page."""
        assert isinstance(exc, Refused)
        if exc.status == 401 and request.method == "GET":
            return RedirectResponse(f"/organise/signin?next={quote(request.url.path)}", 303)
        return await self.render(request, "organise/refused.html", exc.status, reason=exc.key)


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path under /organise, never another site."""
    if raw and raw.startswith("/organise") and "//" not in raw and "\\" not in raw:
        return raw
    return "/organise"
