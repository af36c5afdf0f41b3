"""A network's members: who may follow its members-only sessions from afar.

Pure records and rules, no I/O. A member has a personal link whose secret is kept only as
its SHA-256 digest (`companion.domain.organisers.digest`). A participant who came through
that link gets a participant id that names the member and the link it came through
(`member_participant`), so every later check (realtime, the stream) can ask the store
whether that very link still stands.

The member list is also read from a CSV file as a Swedish Excel or LibreOffice writes it
(UTF-8 with or without a byte-order mark, `;` or `,` between fields): every row is checked
before anything is stored, and each bad row is named with its number and what is wrong.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from companion.domain.organisers import normalise_email

MAX_NAME = 100
MAX_ORGANISATION = 150
MAX_MEMBERS = 2000  # per network, and per CSV file
LANGUAGES = ("sv", "en")
FINGERPRINT = 12  # hex digits of the link's digest in a member's participant id
_PARTICIPANT = re.compile(r"^m-([0-9a-f]{16})-([0-9a-f]{12})$")

# The column names a CSV file may use, Swedish and English, compared in lower case.
COLUMNS = {
    "name": ("namn", "name", "för- och efternamn", "full name"),
    "email": ("e-post", "epost", "e-postadress", "email", "e-mail", "mail"),
    "organisation": ("organisation", "organization", "org", "myndighet", "arbetsplats"),
    "lang": ("språk", "language", "lang"),
}


@dataclass(frozen=True, slots=True)
class NetworkMember:
    """One person on a network's member list. `token_hash` is the digest of the personal
    link's secret ("" when the member has no working link)."""

    id: str
    network_id: str
    name: str
    email: str
    organisation: str = ""
    lang: str = "sv"
    token_hash: str = ""
    link_at: float = 0.0
    added: float = 0.0

    @property
    def fingerprint(self) -> str:
        """What a participant id carries of the current link ("" without one)."""
        return self.token_hash[:FINGERPRINT]

    def to_data(self) -> dict[str, Any]:
        """JSON-compatible form for the stores."""
        return asdict(self)

    @classmethod
    def from_data(cls, d: dict[str, Any]) -> NetworkMember:
        """The inverse of `to_data`."""
        return cls(**d)


class MemberInvalid(Exception):
    """A member's field that is not acceptable: the field and a catalogue key."""

    def __init__(self, field: str, key: str) -> None:
        super().__init__(key)
        self.field = field
        self.key = key


@dataclass(frozen=True, slots=True)
class MemberFields:
    """A member's checked, cleaned fields."""

    name: str
    email: str
    organisation: str = ""
    lang: str = "sv"


def _clean(raw: object) -> str:
    text = unicodedata.normalize("NFC", raw if isinstance(raw, str) else "")
    return " ".join(text.replace("\x00", "").split())


def check_member(name: object, email: object, organisation: object, lang: object) -> MemberFields:
    """The cleaned fields, or MemberInvalid naming the first field that is wrong."""
    clean_name = _clean(name)
    if not clean_name:
        raise MemberInvalid("name", "members.error_name_missing")
    if len(clean_name) > MAX_NAME:
        raise MemberInvalid("name", "members.error_name_long")
    if not _clean(email):
        raise MemberInvalid("email", "members.error_email_missing")
    normal = normalise_email(_clean(email))
    if normal is None:
        raise MemberInvalid("email", "members.error_email")
    clean_org = _clean(organisation)
    if len(clean_org) > MAX_ORGANISATION:
        raise MemberInvalid("organisation", "members.error_organisation_long")
    clean_lang = _clean(lang).lower() or "sv"
    aliases = {"svenska": "sv", "swedish": "sv", "engelska": "en", "english": "en"}
    clean_lang = aliases.get(clean_lang, clean_lang)
    if clean_lang not in LANGUAGES:
        raise MemberInvalid("lang", "members.error_lang")
    return MemberFields(clean_name, normal, clean_org, clean_lang)


def member_participant(member: NetworkMember) -> str:
    """The participant id of a member who came through their current link."""
    return f"m-{member.id}-{member.fingerprint}"


def parse_member_participant(participant: object) -> tuple[str, str] | None:
    """(member id, link fingerprint) of a member's participant id, else None."""
    if not isinstance(participant, str):
        return None
    found = _PARTICIPANT.match(participant)
    return (found.group(1), found.group(2)) if found else None


# -- CSV -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CsvProblem:
    """What is wrong where: `row` as a spreadsheet numbers it (the header is row 1; 0 for
    the file as a whole), `key` a catalogue key, `column` the column's own heading."""

    row: int
    key: str
    column: str = ""
    other_row: int = 0


class CsvRefused(Exception):
    """A CSV file with at least one problem; nothing of it may be stored."""

    def __init__(self, problems: list[CsvProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One good row of a member file, with its row number."""

    row: int
    fields: MemberFields


def _delimiter(header: str) -> str:
    # Swedish Excel writes `;` (the comma is the decimal sign); others write `,`.
    return ";" if header.count(";") >= header.count(",") and ";" in header else ","


def parse_members_csv(text: str) -> list[CsvRow]:
    """Every row of a member file (text already decoded, BOM removed), or CsvRefused with
    the problem of each bad row. Blank rows are skipped."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    if not first.strip():
        raise CsvRefused([CsvProblem(1, "members.csv_no_header")])
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first)))
    header = [_clean(h).lower() for h in rows[0]]
    where: dict[str, int] = {}
    for field, names in COLUMNS.items():
        for i, heading in enumerate(header):
            if heading in names and field not in where:
                where[field] = i
    if "name" not in where:
        raise CsvRefused([CsvProblem(1, "members.csv_no_name")])
    if "email" not in where:
        raise CsvRefused([CsvProblem(1, "members.csv_no_email")])
    body = rows[1:]
    if len(body) > MAX_MEMBERS:
        raise CsvRefused([CsvProblem(0, "members.csv_too_many")])
    problems: list[CsvProblem] = []
    good: list[CsvRow] = []
    first_row_of: dict[str, int] = {}
    headings = {field: rows[0][i].strip() for field, i in where.items()}
    for number, cells in enumerate(body, start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(field: str, cells: list[str] = cells) -> str:
            i = where.get(field)
            return cells[i] if i is not None and i < len(cells) else ""

        try:
            fields = check_member(cell("name"), cell("email"), cell("organisation"), cell("lang"))
        except MemberInvalid as exc:
            problems.append(CsvProblem(number, exc.key, headings.get(exc.field, exc.field)))
            continue
        earlier = first_row_of.get(fields.email)
        if earlier is not None:
            problems.append(
                CsvProblem(number, "members.csv_duplicate", headings["email"], other_row=earlier)
            )
            continue
        first_row_of[fields.email] = number
        good.append(CsvRow(number, fields))
    if problems:
        raise CsvRefused(problems)
    if not good:
        raise CsvRefused([CsvProblem(0, "members.csv_empty")])
    return good
