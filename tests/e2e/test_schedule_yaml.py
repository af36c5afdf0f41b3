"""A network's programme downloaded as YAML and uploaded again on the organiser pages,
against a real server: the same programme back, the same line-numbered errors as
`companion import`, nothing changed by a refused file, questions and votes kept."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import requests

from companion.programme_file import parse_programme
from tests.e2e.conftest import Room
from tests.e2e.organisers import Organiser, signed_in
from tests.e2e.test_programme_editor import stored
from tests.serverproc import ROOT, ServerProcess

NETWORK = "ledarskap-och-innovation"
IMPORT = f"/organise/networks/{NETWORK}/import"
EXPORT = f"/organise/networks/{NETWORK}/programme.yaml"
SV = {"accept-language": "sv-SE,sv;q=0.9"}


def upload(
    who: Organiser, content: bytes, name: str = "program.yaml", path: str = IMPORT + "/yaml"
) -> requests.Response:
    return who.http.post(
        who.server.http + path,
        data={"csrf": who.csrf},
        files={"file": (name, content, "application/yaml")},
        allow_redirects=False,
        timeout=30,
    )


def shown_error(page: str) -> str:
    found = re.search(r'id="import-error">(.*?)</div>', page, re.S)
    assert found, page[:3000]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def cli_error(server: ServerProcess, path: Path) -> str:
    """What `companion import FILE` prints for the same file."""
    done = subprocess.run(
        [sys.executable, "-m", "companion.cli", "import", str(path)],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stdout
    return done.stderr.strip().removeprefix("error: ")


def test_download_then_upload_gives_the_same_programme(server: ServerProcess) -> None:
    """The download is the network as YAML (reads back as the network on the server); the
    same file uploaded changes no session and no agenda, and is in the audit."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    anna.http.headers.update(SV)
    answer = anna.get(EXPORT)
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == f'attachment; filename="{NETWORK}.yaml"'
    assert answer.headers["content-type"] == "application/yaml; charset=utf-8"
    exported = parse_programme(answer.text, "download.yaml")
    demo = parse_programme((ROOT / "companion/demo/programme.yaml").read_text(), "demo.yaml")
    assert exported.networks == demo.networks[:1]
    before, version = stored(server)
    done = upload(anna, answer.content)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{IMPORT}?added=0&revised=0&removed=0"
    page = anna.get(done.headers["location"]).text
    assert "Programmet är inläst." in page and "0 nya sessioner" in page
    after, new_version = stored(server)
    assert after == before and new_version == version + 1
    assert parse_programme(anna.get(EXPORT).text, "again.yaml") == exported
    audit = anna.get(f"/organise/networks/{NETWORK}/audit").text
    assert "Program inläst från fil" in audit and "program.yaml" in audit


async def test_an_edited_file_updates_agendas_and_keeps_questions(room: Room) -> None:
    """A meeting moved and an agenda item dropped in the file: the meeting moves, the
    running session's agenda changes live, and the item a question was asked under stays
    (postponed) with its question and vote."""
    server = room.server
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    text = anna.get(EXPORT).text
    assert "- id: fika\n" in text
    moderator = await room.moderator()
    phone = await room.participant(name="Eva")
    await moderator.request({"type": "agenda.goto", "item": "fika"})
    await moderator.request({"type": "agenda.goto", "item": "samtal-olsson"})
    qid = (await phone.request({"type": "ask", "text": "Hur mäter ni kulturen?"}))["question"]
    await moderator.request({"type": "question.approve", "question": qid})
    assert (await phone.request({"type": "vote", "question": qid}))["type"] == "ack"
    await moderator.request({"type": "agenda.goto", "item": "fika"})
    start = len(phone.messages)
    day = "date: '2020-05-05'"
    assert text.count(day) == 1
    edited = text.replace(day, "date: '2020-05-06'")
    # Drop the talk the question was asked under from the 5 May session's agenda.
    block = re.search(r"\n( +)- id: samtal-olsson\n(?:\1  .*\n)+", edited)
    assert block is not None
    edited = edited[: block.start()] + "\n" + edited[block.end() :]
    done = upload(anna, edited.encode())
    assert done.status_code == 303, done.text
    assert "revised=1" in done.headers["location"]
    got = await phone.wait_for(lambda m: m["type"] == "agenda", start=start)
    items = {i["id"]: i for i in got["agenda"]["items"]}
    assert items["samtal-olsson"]["status"] == "postponed"  # kept: a question belongs to it
    assert list(items)[-1] == "samtal-olsson"
    late = await room.moderator()
    snap = await late.wait_for(lambda m: m["type"] == "snapshot")
    kept = next(q for q in snap["questions"] if q["id"] == qid)
    assert kept["votes"] == 1 and kept["text"] == "Hur mäter ni kulturen?"
    page = requests.get(f"{server.http}/networks/{NETWORK}", headers=SV, timeout=10).text
    assert "onsdag 6 maj 2020" in page
    assert "Traceback" not in server.log()


def test_bad_files_get_their_error_and_change_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Invalid YAML, an unknown key, another shape, another network, an empty file, bytes
    that are not UTF-8, a file over 1 MB, no file: 4xx with the error on the page (the
    same line-numbered text as `companion import`), nothing stored, no trace."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    anna.http.headers.update(SV)
    good = anna.get(EXPORT).text
    before = stored(server)
    line_numbered = {
        "invalid.yaml": good.replace("  title: Ledarskap", "  title: [Ledarskap", 1),
        "unknown-key.yaml": good.replace("  contact:", "  kontakt:", 1),
        "shape.yaml": "- just\n- a list\n",
        "bad-time.yaml": good.replace("start: 09:30", "start: 9.3", 1),
    }
    for name, text in line_numbered.items():
        path = tmp_path / name
        path.write_text(text, "utf-8")
        answer = upload(anna, text.encode(), name)
        assert answer.status_code == 400, (name, answer.status_code)
        expected = cli_error(server, path).replace(str(path), name)
        assert re.match(rf"{re.escape(name)}:\d+: ", expected), expected
        assert shown_error(answer.text) == (
            f"Filen har ett fel och lästes inte in. Ingenting ändrades. {expected}"
        )
    other = good.replace(f"id: {NETWORK}", "id: temasessioner", 1)
    answer = upload(anna, other.encode(), "other.yaml")
    assert answer.status_code == 400
    assert "expected exactly the network 'ledarskap-och-innovation'" in shown_error(answer.text)
    refusals = [
        (b"", "empty.yaml", 400, "Filen är tom."),
        (b"\x89PNG\r\n\x1a\n\xff\xfe", "bild.png", 400, "Filen är inte sparad som UTF-8"),
        (good.encode("utf-16"), "utf16.yaml", 400, "Filen är inte sparad som UTF-8"),
        (b"#" * (1024 * 1024 + 1), "stor.yaml", 413, "Filen är för stor."),
        (b"x" * (3 * 1024 * 1024), "jattestor.yaml", 413, "Filen är för stor."),
    ]
    for content, name, status, message in refusals:
        answer = upload(anna, content, name)
        assert answer.status_code == status, (name, answer.status_code)
        assert message in shown_error(answer.text), name
    no_file = anna.http.post(
        server.http + IMPORT + "/yaml",
        files={"csrf": (None, anna.csrf), "file": ("", b"")},
        allow_redirects=False,
        timeout=10,
    )
    assert no_file.status_code == 400
    assert "Välj en fil att läsa in." in shown_error(no_file.text)
    assert stored(server) == before
    assert "Traceback" not in server.log()


def test_strangers_cannot_download_or_upload(server: ServerProcess) -> None:
    """No sign-in, another network's organiser, no or a wrong CSRF token, another site's
    Origin: refused; nothing downloaded, nothing stored."""
    anna = signed_in(server, "anna@kommun.se", NETWORK)
    good = anna.get(EXPORT).content
    olle = signed_in(server, "olle@region.se", "temasessioner")
    before = stored(server)
    stranger = requests.get(server.http + EXPORT, allow_redirects=False, timeout=10)
    assert stranger.status_code == 303 and "/organise/signin" in stranger.headers["location"]
    assert olle.get(EXPORT).status_code == 403
    assert upload(olle, good).status_code == 403
    anonymous = requests.post(
        server.http + IMPORT + "/yaml",
        files={"file": ("p.yaml", good)},
        headers={"origin": server.http},
        allow_redirects=False,
        timeout=10,
    )
    assert anonymous.status_code == 401
    anna.csrf = "wrong"
    assert upload(anna, good).status_code == 403
    anna.refresh_csrf()
    anna.http.headers["origin"] = "https://evil.example"
    assert upload(anna, good).status_code == 403
    assert stored(server) == before
