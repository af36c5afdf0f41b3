"""The member list's rules: a member's fields, the participant id a personal link gives,
and reading a CSV file as Swedish Excel and LibreOffice write it."""

from __future__ import annotations

import pytest

from companion.domain.members import (
    MAX_MEMBERS,
    CsvProblem,
    CsvRefused,
    MemberInvalid,
    NetworkMember,
    check_member,
    member_participant,
    parse_member_participant,
    parse_members_csv,
)


def refused(text: str) -> list[CsvProblem]:
    with pytest.raises(CsvRefused) as caught:
        parse_members_csv(text)
    return caught.value.problems


def test_excel_semicolons_with_a_bom_and_crlf() -> None:
    text = (
        "\ufeffNamn;E-post;Organisation;Språk\r\n"
        "Anna Andersson;Anna.Andersson@Kommun.se ;Exempels kommun;\r\n"
        '"Öberg, Åsa";asa@region.se;"Region Östergötland; staben";en\r\n'
        ";;;\r\n"
    )
    rows = parse_members_csv(text)
    assert [(r.row, r.fields.name, r.fields.email) for r in rows] == [
        (2, "Anna Andersson", "anna.andersson@kommun.se"),
        (3, "Öberg, Åsa", "asa@region.se"),
    ]
    assert rows[1].fields.organisation == "Region Östergötland; staben"
    assert [r.fields.lang for r in rows] == ["sv", "en"]


def test_commas_and_english_headings_in_any_order() -> None:
    rows = parse_members_csv("Email,Organization,Name\nbo@x.se,Myndigheten,Bo Ek\nce@x.se,,Ce Ek\n")
    assert [(r.fields.name, r.fields.organisation) for r in rows] == [
        ("Bo Ek", "Myndigheten"),
        ("Ce Ek", ""),
    ]


def test_every_bad_row_is_named_with_what_is_wrong() -> None:
    problems = refused(
        "Namn;E-post\n"
        "Anna;anna@kommun.se\n"
        ";utan.namn@kommun.se\n"
        "Bo;inte-en-adress\n"
        "Ce;\n"
        f"{'x' * 101};lang@kommun.se\n"
        "Anna igen;ANNA@kommun.se\n"
    )
    assert problems == [
        CsvProblem(3, "members.error_name_missing", "Namn"),
        CsvProblem(4, "members.error_email", "E-post"),
        CsvProblem(5, "members.error_email_missing", "E-post"),
        CsvProblem(6, "members.error_name_long", "Namn"),
        CsvProblem(7, "members.csv_duplicate", "E-post", other_row=2),
    ]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Namn;Organisation\nAnna;X\n", "members.csv_no_email"),
        ("E-post\na@b.se\n", "members.csv_no_name"),
        ("\n\nNamn;E-post\n", "members.csv_no_header"),
        ("Namn;E-post\n;\n", "members.csv_empty"),
        ("Namn;E-post;Språk\nAnna;a@b.se;tyska\n", "members.error_lang"),
    ],
)
def test_file_level_and_language_problems(text: str, key: str) -> None:
    assert refused(text)[0].key == key


def test_too_many_rows_is_refused_before_any_is_read() -> None:
    body = "".join(f"M{i};m{i}@kommun.se\n" for i in range(MAX_MEMBERS + 1))
    assert refused("Namn;E-post\n" + body) == [CsvProblem(0, "members.csv_too_many")]


def test_fields_are_cleaned_and_checked() -> None:
    fields = check_member("  Åsa \u0301  Öberg ", " ASA@X.SE ", None, "English")
    assert (fields.email, fields.lang) == ("asa@x.se", "en")
    with pytest.raises(MemberInvalid) as caught:
        check_member("Åsa", "asa@x.se", "o" * 151, "sv")
    assert caught.value.field == "organisation"


def test_a_participant_id_names_the_member_and_the_link() -> None:
    member = NetworkMember("0123456789abcdef", "net", "A", "a@x.se", token_hash="f" * 64)
    participant = member_participant(member)
    assert parse_member_participant(participant) == ("0123456789abcdef", "f" * 12)
    for other in ("0123456789abcdef", "m-0123456789abcdef", "m-xyz-ffffffffffff", None, 5):
        assert parse_member_participant(other) is None
