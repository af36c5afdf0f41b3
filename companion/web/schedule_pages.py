"""Schedules in and out on the organiser pages: download a network's programme as YAML,
upload one (the same checks and line-numbered errors as `companion import`), and import a
conference schedule (pretalx/frab `schedule.json` or `schedule.xml`) into one event.

Transport only: the file format is `companion.programme_file` / `programme_export`, the
import itself `companion.services.schedule_import`. Every route checks the membership of
the network its path names; an upload also the origin and the CSRF token (a field of the
multipart form). A refused upload shows its error on the page and changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from companion.conference_schedule import ScheduleError, laid_out, parse_schedule
from companion.domain import programme_edits as edits
from companion.domain.errors import DomainError, NotFound
from companion.domain.programme import Programme
from companion.domain.programme_edits import FormError, Where
from companion.programme_export import dump_programme
from companion.programme_file import ProgrammeError, parse_programme
from companion.services.programme import ProgrammeService
from companion.services.schedule_import import (
    ImportSummary,
    ScheduleRefused,
    replace_event,
    replace_network,
)
from companion.web.i18n import Translator, translator
from companion.web.organiser_auth import OrganiserAccess, Refused
from companion.web.programme_pages import domain_key
from companion.web.uploads import Upload, UploadError, read_upload

ROOT = "/organise/networks/{network}"


class SchedulePages:
    """Request handlers of schedule import and export."""

    def __init__(self, access: OrganiserAccess, programme: ProgrammeService) -> None:
        self.access = access
        self.programme = programme
        self.sessions = programme.sessions

    def _network(self, network_id: str) -> Any:
        try:
            return edits.network(self.sessions.programme, network_id)
        except NotFound:
            raise Refused(404, "organise.refused_not_found") from None

    async def upload(self, request: Request) -> Upload:
        """The posted file as text: origin, size, CSRF and UTF-8 checked (UploadError)."""
        return await read_upload(self.access, request)

    # -- pages -------------------------------------------------------------------------
    async def page(
        self,
        request: Request,
        status: int = 200,
        error: str | None = None,
        detail: str = "",
        summary: ImportSummary | None = None,
    ) -> Response:
        """The import and export page of a network."""
        network = self._network(request.path_params["network"])
        return await self.access.render(
            request,
            "organise/programme_import.html",
            status,
            network=network,
            error=error,
            detail=detail,
            summary=summary,
            limit="1 MB",
        )

    async def show(self, request: Request) -> Response:
        """GET: the page, with the summary of the import just done."""
        await self.access.require_network_member(request, request.path_params["network"])
        q = request.query_params
        summary = None
        if all(q.get(k, "").isdigit() for k in ("added", "revised", "removed")):
            summary = ImportSummary(int(q["added"]), int(q["revised"]), int(q["removed"]))
        return await self.page(request, summary=summary)

    async def download(self, request: Request) -> Response:
        """The network's programme as the YAML file the import reads."""
        network_id = request.path_params["network"]
        await self.access.require_network_member(request, network_id)
        network = self._network(network_id)
        body = dump_programme(Programme(networks=(network,)))
        return Response(
            body.encode("utf-8"),
            media_type="application/yaml; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="{network.id}.yaml"',
                "cache-control": "no-store",
                "x-robots-tag": "noindex",
            },
        )

    async def import_yaml(self, request: Request) -> Response:
        """POST: a YAML file for this network replaces it; nothing changes on an error."""
        network_id = request.path_params["network"]
        who = await self.access.require_network_member(request, network_id)
        self._network(network_id)
        try:
            upload = await self.upload(request)
            programme = parse_programme(upload.text, upload.filename)
            network = only_network(programme, network_id, upload)
            summary = await replace_network(self.programme, who.email, network)
        except UploadError as exc:
            t = self._t(request)
            return await self.page(request, exc.status, t(exc.key, **exc.params))
        except ProgrammeError as exc:
            return await self.page(request, 400, self._t(request)("schedule.error_file"), str(exc))
        except ScheduleRefused as exc:
            t = self._t(request)
            return await self.page(request, 409, t(f"schedule.error_{exc.code}", **exc.params))
        except DomainError as exc:
            return await self.page(request, 409, self._t(request)(domain_key(exc)))
        await self.access.audit(request, network_id, "programme.import", upload.filename)
        return self.done(network_id, summary)

    async def import_schedule(self, request: Request) -> Response:
        """POST: a pretalx/frab `schedule.json` or `schedule.xml` into one of this network's
        events (field `event`: "season/event"); nothing changes on an error."""
        network_id = request.path_params["network"]
        who = await self.access.require_network_member(request, network_id)
        network = self._network(network_id)
        t = self._t(request)
        try:
            upload = await self.upload(request)
            season_id, _, event_id = upload.fields.get("event", "").partition("/")
            try:
                edits.event(self.sessions.programme, network.id, season_id, event_id)
            except NotFound:
                raise UploadError("schedule.error_no_event") from None
            schedule = parse_schedule(upload.text, upload.filename)
            summary = await replace_event(
                self.programme,
                who.email,
                Where(network.id, season_id),
                event_id,
                lambda event: laid_out(event, schedule),
            )
        except UploadError as exc:
            return await self.page(request, exc.status, t(exc.key, **exc.params))
        except ScheduleError as exc:
            return await self.page(request, 400, t("schedule.error_file"), str(exc))
        except ScheduleRefused as exc:
            return await self.page(request, 409, t(f"schedule.error_{exc.code}", **exc.params))
        except FormError as exc:
            detail = "; ".join(f"{k}: {e.message}" for k, e in exc.errors.items())
            return await self.page(request, 400, t("schedule.error_file"), detail)
        except DomainError as exc:
            return await self.page(request, 409, t(domain_key(exc)))
        await self.access.audit(
            request, network.id, "event.schedule_import", f"{event_id} ← {upload.filename}"
        )
        return self.done(network.id, summary)

    def done(self, network_id: str, summary: ImportSummary) -> Response:
        """See-other to the import page, which shows what the import did."""
        return self.access.redirect(
            f"/organise/networks/{quote(network_id, safe='')}/import"
            f"?added={summary.added}&revised={summary.revised}&removed={summary.removed}"
        )

    def _t(self, request: Request) -> Translator:
        return translator(self.access.pages._lang(request))

    def routes(self) -> list[BaseRoute]:
        """The routes of schedule import and export."""
        return [
            Route(ROOT + "/programme.yaml", self.download),
            Route(ROOT + "/import", self.show),
            Route(ROOT + "/import/yaml", self.import_yaml, methods=["POST"]),
            Route(ROOT + "/import/schedule", self.import_schedule, methods=["POST"]),
        ]


def only_network(programme: Programme, network_id: str, upload: Upload) -> Any:
    """The file's one network, which must be this page's; ProgrammeError otherwise."""
    ids = [n.id for n in programme.networks]
    if ids != [network_id]:
        line = _line_of(upload.text, "id:") if ids else 1
        found = ", ".join(repr(i) for i in ids) or "none"
        raise ProgrammeError(
            upload.filename,
            line,
            "networks",
            f"expected exactly the network {network_id!r} of this page, found {found}",
        )
    return programme.networks[0]


def _line_of(text: str, needle: str) -> int:
    """The first line holding `needle` (1 when none does)."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return 1


def schedule_routes(access: OrganiserAccess, programme: ProgrammeService) -> list[BaseRoute]:
    """The routes of schedule import and export."""
    return SchedulePages(access, programme).routes()
