"""A network's member list on the organiser pages, against a real server: added, edited
and removed by hand; a CSV file with a bad row names each bad row and stores nothing; a
good one (Swedish Excel: BOM, semicolons) is stored; strangers, forged forms and other
networks' organisers change nothing."""

from __future__ import annotations

import html
import re

import requests

from tests.e2e.organisers import Organiser, signed_in
from tests.serverproc import ServerProcess

NETWORK = "ledarskap-och-innovation"
MEMBERS = f"/organise/networks/{NETWORK}/members"
SV = {"accept-language": "sv-SE,sv;q=0.9"}


def upload(who: Organiser, content: bytes, name: str = "medlemmar.csv") -> requests.Response:
    return who.http.post(
        who.server.http + MEMBERS + "/import",
        data={"csrf": who.csrf},
        files={"file": (name, content, "text/csv")},
        allow_redirects=False,
        timeout=30,
        headers=SV,
    )


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def listed(who: Organiser) -> list[str]:
    """The emails on the member list, as the page shows them."""
    page = who.get(MEMBERS, headers=SV)
    assert page.status_code == 200, page.status_code
    return re.findall(r'<td class="member-email">([^<]*)</td>', page.text)


def test_members_by_hand(server: ServerProcess) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    assert listed(anna) == []
    added = anna.post(
        MEMBERS + "/add",
        {
            "name": "  Åsa Öberg ",
            "email": "Asa.Oberg@Region.se",
            "organisation": "Region",
            "lang": "en",
        },
    )
    assert added.status_code == 303, added.text
    assert listed(anna) == ["asa.oberg@region.se"]
    again = anna.post(MEMBERS + "/add", {"name": "Åsa", "email": "asa.oberg@region.se"}, headers=SV)
    assert again.status_code == 400
    assert "Den e-postadressen finns redan på medlemslistan." in text_of(again.text)
    bad = anna.post(MEMBERS + "/add", {"name": "Bo", "email": "bo-at-kommun"}, headers=SV)
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
    member_id = re.search(r'data-member="([0-9a-f]{16})"', anna.get(MEMBERS).text).group(1)
    edited = anna.post(
        f"{MEMBERS}/{member_id}",
        {"name": "Åsa Öberg-Ländström", "email": "asa@region.se", "organisation": "", "lang": "sv"},
    )
    assert edited.status_code == 303, edited.text
    assert listed(anna) == ["asa@region.se"]
    removed = anna.post(f"{MEMBERS}/{member_id}/remove")
    assert removed.status_code == 303
    assert listed(anna) == []
    audit = text_of(anna.get(f"/organise/networks/{NETWORK}/audit", headers=SV).text)
    for what in ("Medlem tillagd", "Medlem ändrad", "Medlem borttagen"):
        assert what in audit, what


def test_a_csv_with_bad_rows_names_them_and_stores_nothing(server: ServerProcess) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    bad = (
        "\ufeffNamn;E-post;Organisation\r\n"
        "Anna Andersson;anna.andersson@kommun.se;Exempels kommun\r\n"
        "Bo Ek;bo.ek-kommun.se;Kommunen\r\n"
        ";ce@kommun.se;\r\n"
        "Anna A;ANNA.ANDERSSON@kommun.se;\r\n"
    ).encode()
    answer = upload(anna, bad)
    assert answer.status_code == 400
    shown = text_of(re.search(r'id="csv-error">(.*?)</div>', answer.text, re.S).group(1))
    assert "medlemmar.csv har 3 fel. Ingenting lästes in." in shown, shown
    assert "Rad 3 (E-post): Det är inte en e-postadress." in shown, shown
    assert "Rad 4 (Namn): Skriv medlemmens namn." in shown, shown
    assert "Rad 5 (E-post): Samma e-postadress som på rad 2." in shown, shown
    assert listed(anna) == []  # the good row was not stored either
    for content, message in [
        ("Namn,E-post\nAnna,a@b.se\n".encode("utf-16"), "UTF-8"),
        (b"", ""),
        (b"Namn;Org\nAnna;X\n", "Filen saknar kolumnen E-post."),
    ]:
        answer = upload(anna, content)
        assert answer.status_code in (400, 413), answer.status_code
        assert message in text_of(answer.text)
        assert listed(anna) == []


def test_a_good_csv_is_stored_and_a_second_updates_by_email(server: ServerProcess) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    first = "\ufeffNamn;E-post;Organisation;Språk\r\n" + "".join(
        f"Medlem {i};m{i}@kommun.se;Kommun {i};{'en' if i == 3 else ''}\r\n" for i in range(1, 6)
    )
    answer = upload(anna, first.encode())
    assert answer.status_code == 200, answer.text
    assert "5 nya medlemmar." in text_of(answer.text)
    second = "Name,Email\nMedlem Ett,M1@kommun.se\nNy Person,ny@kommun.se\n"
    answer = upload(anna, second.encode(), "members.csv")
    assert "1 ny medlem. 1 medlem uppdaterad." in text_of(answer.text)
    assert sorted(listed(anna)) == sorted(
        [f"m{i}@kommun.se" for i in range(1, 6)] + ["ny@kommun.se"]
    )
    page = anna.get(MEMBERS, headers=SV).text
    assert "Medlem Ett" in page and "Engelska" in page


def test_strangers_and_forged_forms_change_nothing(server: ServerProcess) -> None:
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    other = signed_in(server, "other@kommun.se", "temasessioner")
    assert other.get(MEMBERS).status_code == 403
    assert other.post(MEMBERS + "/add", {"name": "X", "email": "x@x.se"}).status_code == 403
    assert upload(other, b"Namn;E-post\nX;x@x.se\n").status_code == 403
    stranger = requests.get(server.http + MEMBERS, allow_redirects=False, timeout=10)
    assert stranger.status_code == 303  # to the sign-in page
    forged = anna.post(MEMBERS + "/add", {"name": "X", "email": "x@x.se", "csrf": "wrong"})
    assert forged.status_code == 403
    anna.http.headers["origin"] = "https://evil.example"
    assert anna.post(MEMBERS + "/add", {"name": "X", "email": "x@x.se"}).status_code == 403
    anna.http.headers["origin"] = server.http
    assert listed(anna) == []
