"""A file posted from an organiser page (a programme, a schedule, a member list): origin,
size, CSRF token (a field of the multipart form) and UTF-8 checked before anything reads it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from companion.web.organiser_auth import CSRF_FIELD, OrganiserAccess, Refused

MAX_UPLOAD_BYTES = 1024 * 1024  # a season's programme is ~30 KB; a conference's ~300 KB


class UploadError(Exception):
    """An upload refused before its content is read (catalogue key)."""

    def __init__(self, key: str, status: int = 400, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.status = status
        self.params = params


@dataclass(frozen=True, slots=True)
class Upload:
    """A file posted from an organiser page, its CSRF token checked."""

    fields: dict[str, str]
    filename: str
    text: str


async def read_upload(access: OrganiserAccess, request: Request) -> Upload:
    """The posted file as text (a byte-order mark removed); UploadError or Refused."""
    found = await access.signed_in(request)
    if found is None:
        raise Refused(401, "organise.refused_signin")
    if not access.origin_allowed(request):
        raise Refused(403, "organise.refused_origin")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        await access.form(request)  # its CSRF token refused first, as on every route
        raise Refused(400, "organise.refused_bad_form")
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        raise UploadError("schedule.error_no_length", 411)
    if int(length) > MAX_UPLOAD_BYTES + 64 * 1024:
        raise UploadError("schedule.error_too_large", 413, limit="1 MB")
    try:
        form = await request.form(max_files=1, max_fields=20, max_part_size=MAX_UPLOAD_BYTES)
    except (HTTPException, MultiPartException):  # a malformed body or too many parts
        raise Refused(400, "organise.refused_bad_form") from None
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode(), found[1].csrf.encode()
    ):
        raise Refused(403, "organise.refused_csrf")
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        raise UploadError("schedule.error_no_file")
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise UploadError("schedule.error_too_large", 413, limit="1 MB")
    if not raw.strip():
        raise UploadError("schedule.error_empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError("schedule.error_not_utf8", byte=exc.start) from None
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    name = file.filename.replace("\\", "/").rsplit("/", 1)[-1][:100]
    return Upload(fields, name, text.replace("\x00", ""))
