"""The meeting report over HTTP: JSON, zipped CSV and a printable summary page.

Only the session's moderator token opens it, sent either as `Authorization: Bearer
<token>` (scripts, `curl`) or as the form field `key` of a POST (the console, which keeps
the token in the browser and never puts it in a URL, where it would end up in history,
logs and Referer headers). A cross-site form cannot forge the POST without the token.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from companion.services import report as reports
from companion.services.sessions import SessionService
from companion.settings import Settings
from companion.web.i18n import COOKIE, choose_language, translator
from companion.web.pages import make_environment

FORMATS = ("html", "json", "zip")
MAX_FORM_BYTES = 4096
# Bar widths in the summary come from classes in steps of 5 %, because the page's
# Content-Security-Policy allows no inline styles.
BAR_STEP = 5


def bar_class(percent: float) -> str:
    """The width class of a result bar: `w-0`, `w-5`, ... `w-100`."""
    step = round(max(0.0, min(100.0, percent)) / BAR_STEP) * BAR_STEP
    return f"w-{step}"


def cloud_class(count: int, highest: int) -> str:
    """The size class of a word in the summary's word list: `cloud-1` (small) to `cloud-5`."""
    return f"cloud-{1 + round(4 * count / highest) if highest else 1}"


class ReportPages:
    """Request handler of /moderate/{session_id}/report.{html,json,zip}."""

    def __init__(self, settings: Settings, service: SessionService) -> None:
        self.settings = settings
        self.service = service
        self.env = make_environment()
        self.env.globals.update(bar_class=bar_class, cloud_class=cloud_class)

    async def _token(self, request: Request) -> str | None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        if request.method == "POST":
            # Read at most MAX_FORM_BYTES: anyone may POST here, so never buffer a huge body.
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_FORM_BYTES:
                    return None
            values = parse_qs(body.decode("utf-8", "replace")).get("key")
            return values[0] if values else None
        return None

    async def report(self, request: Request) -> Response:
        """The report of one session in the format the path names."""
        session_id = request.path_params["session_id"]
        fmt = request.path_params["fmt"]
        if fmt not in FORMATS or session_id not in self.service.states:
            return _error(404, "not_found", "No such report.")
        token = await self._token(request)
        if token is None:
            response = _error(401, "forbidden", "Send the moderator token to get the report.")
            response.headers["www-authenticate"] = 'Bearer realm="companion"'
            return response
        if not self.service.is_moderator(session_id, token):
            return _error(403, "forbidden", "The moderator token is not valid for this session.")

        network, _, event, _ = self.service.programme.find_session(session_id) or (None,) * 4
        state = self.service.state(session_id)
        data = reports.build_report(state, network, event, time.time())
        stamp = time.strftime("%Y%m%d-%H%M")
        name = f"companion-{session_id}-{stamp}"
        if fmt == "json":
            return _download(reports.to_json(data), "application/json", f"{name}.json")
        # The CSV headers and words, like the summary, follow the moderator's language.
        lang = choose_language(request.cookies.get(COOKIE), request.headers.get("accept-language"))
        if fmt == "zip":
            zipped = reports.to_zip(data, translator(lang))
            return _download(zipped, "application/zip", f"{name}.zip")
        html = self.env.get_template("report.html").render(
            lang=lang,
            t=translator(lang),
            report=data,
            top=reports.top_questions(data),
            by_item=reports.questions_by_item(data),
            titles={a["id"]: a["title"] for a in data["agenda"]},
        )
        return HTMLResponse(html, headers=_private())


def _private() -> dict[str, str]:
    # The report is the moderator's: never cached, never indexed.
    return {"cache-control": "no-store", "x-robots-tag": "noindex"}


def _download(body: bytes, media_type: str, filename: str) -> Response:
    headers = {**_private(), "content-disposition": f'attachment; filename="{filename}"'}
    if media_type == "application/json":
        media_type += "; charset=utf-8"
    return Response(body, media_type=media_type, headers=headers)


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=_private())
