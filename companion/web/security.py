"""Security headers on every HTTP response, including a Content-Security-Policy
that allows no inline script and connects only to this service's own realtime endpoint."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SecurityHeaders:
    """ASGI middleware adding security headers; `connect_src` names the realtime origin."""

    def __init__(self, app: ASGIApp, connect_src: str) -> None:
        self.app = app
        policy = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"media-src 'self' blob:; connect-src 'self' {connect_src}; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        # The organiser pages' forms need the browser's Origin header, which Chromium sends
        # as "null" under no-referrer; same-origin keeps it (and the Referer) within the site.
        self.organise_headers = [
            (name, b"same-origin" if name == b"referrer-policy" else value)
            for name, value in self.headers
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        organise = scope["path"] == "/organise" or scope["path"].startswith("/organise/")
        headers = self.organise_headers if organise else self.headers

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
