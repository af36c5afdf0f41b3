"""The `companion` command: demo prints every session's links; import refuses bad files whole."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.serverproc import DEMO, ServerProcess, free_port


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "companion.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_import_of_a_malformed_file_names_file_line_and_field_and_imports_nothing(
    tmp_path: Path,
) -> None:
    """A bad minutes value stops the import with file:line: field, and the stored programme stays as it was."""
    lines = DEMO.read_text("utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if re.match(r"\s+minutes: \d+", line))
    lines[index] = re.sub(r"minutes: \d+", "minutes: tio", lines[index])
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join(lines) + "\n", "utf-8")
    server = ServerProcess(tmp_path)
    result = run(["import", str(bad)], server.env)
    assert result.returncode == 2
    assert f"{bad}:{index + 1}:" in result.stderr and ".minutes" in result.stderr
    assert not (tmp_path / "companion.db").exists()

    assert server.import_programme().returncode == 0
    with sqlite3.connect(tmp_path / "companion.db") as db:
        before = db.execute("SELECT data FROM programme").fetchall()
    bad_again = run(["import", str(bad)], server.env)
    assert bad_again.returncode == 2
    with sqlite3.connect(tmp_path / "companion.db") as db:
        assert db.execute("SELECT data FROM programme").fetchall() == before


def test_reimport_keeps_join_codes(tmp_path: Path) -> None:
    """Importing the same programme again keeps every session's join code and moderator token."""
    server = ServerProcess(tmp_path)
    assert server.import_programme().returncode == 0
    first = server.access()
    assert server.import_programme().returncode == 0
    assert server.access() == first and len(first) == 8


def test_demo_starts_the_service_and_prints_every_sessions_links(tmp_path: Path) -> None:
    """`companion demo` on an empty data directory loads the demo and prints codes and links."""
    port, ws_port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        COMPANION_DATA_DIR=str(tmp_path),
        COMPANION_PORT=str(port),
        COMPANION_WS_PORT=str(ws_port),
        PYTHONUNBUFFERED="1",
    )
    out = tmp_path / "demo.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "companion.cli", "demo"], env=env, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(out.read_text())
        # The links are printed once the pages answer, which may be a moment after.
        while "one-time sign-in" not in out.read_text() and time.monotonic() < deadline + 10:
            time.sleep(0.05)
        text = out.read_text()
        codes = re.findall(r"join code:\s+([A-Z2-9]{6})", text)
        assert len(codes) == 8
        assert (
            len(re.findall(rf"moderator:\s+http://127.0.0.1:{port}/moderate/\S+#key=\S+", text))
            == 8
        )
        assert f"http://127.0.0.1:{port}/j/{codes[0]}" in text
        assert "Klarahuset" in body.decode() and "Leda för tillit" in body.decode()
        assert (tmp_path / "secret_key").exists()  # generated, kept in the data directory
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def demo_running(env: dict[str, str], log: Path, until: str) -> Iterator[str]:
    """`companion demo` running until the block ends; yields its output once it says `until`
    (or after 30 s)."""
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "companion.cli", "demo"], env=env, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + 30
        while until not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield log.read_text()
    finally:
        proc.terminate()
        proc.wait(10)


def own_programme(tmp_path: Path) -> Path:
    """A programme that is not the demo's: every id renamed."""
    path = tmp_path / "egen.yaml"
    text = re.sub(r"\b(id|track): ", r"\1: egen-", DEMO.read_text("utf-8"))
    path.write_text(text, "utf-8")
    return path


def test_serve_and_import_print_no_moderator_token(tmp_path: Path) -> None:
    """`serve` (whose output lands in service logs) and `import` print join codes and
    public links but no moderator link or token; `companion links` prints them on request."""
    server = ServerProcess(tmp_path)
    imported = server.import_programme()
    assert imported.returncode == 0
    server.start()
    try:
        log = server.log_once("Moderator links (8) are not printed here")
    finally:
        server.stop()
    tokens = [token for _, token in server.access().values()]
    assert len(tokens) == 8
    for output in (log, imported.stdout + imported.stderr):
        assert len(re.findall(r"join code:\s+[A-Z2-9]{6}", output)) == 8, output
        assert "#key=" not in output and "moderator:" not in output
        assert not [t for t in tokens if t in output]
        assert "Moderator links (8) are not printed here: run `companion links`." in output
    links = run(["links"], server.env)
    assert links.returncode == 0
    for session, (_, token) in server.access().items():
        assert f"/moderate/{session}#key={token}" in links.stdout


def test_demo_prints_moderator_links_of_the_demo_data_only(tmp_path: Path) -> None:
    """On a database that holds a real programme, `demo` serves it without printing any of
    its moderator links."""
    server = ServerProcess(tmp_path)
    assert run(["import", str(own_programme(tmp_path))], server.env).returncode == 0
    tokens = [token for _, token in server.access().values()]
    assert len(tokens) == 8
    with demo_running(server.env, tmp_path / "demo.out", "Moderator links") as text:
        pass
    assert len(re.findall(r"join code:\s+[A-Z2-9]{6}", text)) == 8, text
    assert "#key=" not in text and not [t for t in tokens if t in text]


def test_demo_prints_a_working_signin_link_for_the_demo_organiser(tmp_path: Path) -> None:
    """`companion demo` makes a demo organiser of the demo networks and prints its one-time
    sign-in link beside the other links; the link signs in and shows the demo sessions."""
    server = ServerProcess(tmp_path)
    with demo_running(server.env, tmp_path / "demo.out", "one-time sign-in") as text:
        found = re.search(r"organiser \(demo@example.org\), one-time sign-in: (\S+)", text)
        assert found, text
        http = requests.Session()
        used = http.post(found.group(1), headers={"origin": server.http}, allow_redirects=False)
        assert (used.status_code, used.headers["location"]) == (303, "/organise/password")
        overview = http.get(f"{server.http}/organise", allow_redirects=False)
        assert overview.status_code == 200
        assert "/organise/sessions/ledarskap-2020-05-05" in overview.text
        assert "/organise/sessions/tema-4-session-2" in overview.text
