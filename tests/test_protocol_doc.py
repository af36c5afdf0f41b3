"""docs/protocol.md against the server: its message lists and error table are read from
the document and compared with what the code declares and raises, in both directions.

Nothing here is a hand-written list of types or codes: client types come from the
protocol's table, server types from the message bodies the code builds, error codes from
the errors the code raises.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from companion.realtime.protocol import CLIENT_TYPES, parse
from companion.services.commands import COMMANDS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "protocol.md"
PACKAGE = ROOT / "companion"
# The code a WebSocket client can reach: the transport, the services and the domain rules.
WIRE_CODE = ("realtime", "services", "domain")
# Raised in the reachable code but never sent on the WebSocket, each for a stated reason.
NOT_ON_THE_WIRE = {
    # The server records attendance peaks itself and drops this answer (realtime/server.py).
    "no_change",
}
# Domain errors take (message, code); their class names end so.
_ERROR_NAMES = ("Error", "NotFound", "InvalidState", "InvalidText", "InvalidAnswer")
ROLE_LETTERS = {"P": "participant", "M": "moderator", "S": "screen"}
EVERY_ROLE = frozenset(ROLE_LETTERS.values())


def doc_text() -> str:
    return DOC.read_text("utf-8")


def section(text: str, heading: str) -> str:
    """The text of the `## heading` section, up to the next `## `."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/protocol.md has no section {heading!r}"
    return match.group(1)


def table_first_column(text: str, header: str) -> list[str]:
    """The backquoted names in the first column of the table whose header row starts with
    `| header |`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    names = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        first = line.split("|")[1].strip()
        match = re.fullmatch(r"`([^`]+)`", first)
        assert match, f"unexpected first cell {first!r} in the {header!r} table"
        names.append(match.group(1))
    return names


def documented_client_types() -> dict[str, frozenset[str]]:
    """Client message type -> the roles the document says may send it."""
    text = section(doc_text(), "3. Client messages")
    found: dict[str, frozenset[str]] = {}
    for name, who in re.findall(r"^### 3\.\w+ `([^`]+)` \(([^)]*)\)", text, re.M):
        if who.startswith("any"):
            found[name] = EVERY_ROLE
        else:
            found[name] = frozenset(ROLE_LETTERS[letter] for letter in who.split(", "))
    moderator = text[text.index("### 3.5 Moderator actions (M)") :]
    for name in table_first_column(moderator, "type"):
        assert name not in found, f"{name} documented twice"
        found[name] = frozenset({"moderator"})
    return found


def documented_server_types() -> set[str]:
    text = section(doc_text(), "4. Server messages")
    return set(re.findall(r"^### `([^`]+)`", text, re.M))


def documented_error_codes() -> list[str]:
    return table_first_column(section(doc_text(), "5. Errors"), "code")


def documented_reserved_codes() -> list[str]:
    """Codes section 5 lists as "not produced by any message today"."""
    rows = re.findall(r"^\| `([a-z_]+)` \|(.*)\|$", section(doc_text(), "5. Errors"), re.M)
    return [code for code, text in rows if "not produced by any message" in text]


def _module_path(name: str) -> Path | None:
    path = ROOT / (name.replace(".", "/") + ".py")
    return path if path.exists() else None


def _modules() -> list[tuple[Path, ast.Module]]:
    """The modules the realtime server imports, directly or not, from the transport, the
    services and the domain (pages and media raise their own HTTP errors elsewhere)."""
    todo, seen = [PACKAGE / "realtime" / "server.py"], {}
    while todo:
        path = todo.pop()
        if path in seen or path.parent.name not in WIRE_CODE:
            continue
        seen[path] = tree = ast.parse(path.read_text("utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            todo += [p for n in names if n.startswith("companion.") and (p := _module_path(n))]
    return sorted(seen.items())


def _called(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def _reachable() -> list[ast.AST]:
    """What a client message can run: every function of the transport and every top-level
    statement (the rule tables), then, by name, every function they call, and so on."""
    modules = _modules()
    functions: dict[str, list[ast.AST]] = {}
    roots: list[ast.AST] = []
    for path, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions.setdefault(node.name, []).append(node)
                if path.parent.name == "realtime":
                    roots.append(node)
        roots += [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
    reached, names = list(roots), set().union(*map(_called, roots))
    done: set[str] = set()
    while names - done:
        name = (names - done).pop()
        done.add(name)
        for function in functions.get(name, []):
            reached.append(function)
            names |= _called(function)
    return reached


def _class_codes() -> dict[str, str]:
    """Error class name -> its default code (`code = "..."` in the class body)."""
    codes = {}
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if (
                        isinstance(item, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "code" for t in item.targets)
                        and isinstance(item.value, ast.Constant)
                    ):
                        codes[node.name] = item.value.value
    return codes


def _strings(node: ast.AST) -> list[str]:
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def raised_error_codes() -> set[str]:
    """Every error code a client message can meet, read from the syntax tree of what it can
    run: `code="..."` arguments and `code = ...` assignments, the second argument of a
    domain error, the first of a protocol or token error, and the class's own code of an
    error made without one."""
    defaults = _class_codes()
    codes: set[str] = set()
    for root in _reachable():
        for node in ast.walk(root):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "code" for t in node.targets
            ):
                codes.update(_strings(node.value))
            if not isinstance(node, ast.Call):
                continue
            callee = node.func.id if isinstance(node.func, ast.Name) else ""
            given = [k for k in node.keywords if k.arg == "code"]
            for keyword in given:
                codes.update(_strings(keyword.value))
            args = [a.value if isinstance(a, ast.Constant) else None for a in node.args[:2]]
            if callee in ("ProtocolError", "TokenError") and args and isinstance(args[0], str):
                codes.add(args[0])
            elif callee.endswith(_ERROR_NAMES) and len(args) == 2 and isinstance(args[1], str):
                codes.add(args[1])
            elif callee in defaults and not given and len(node.args) < 2:
                codes.add(defaults[callee])
    return {c for c in codes if re.fullmatch(r"[a-z_]+", c)}


def built_server_types() -> set[str]:
    """The `type` of every message body the reachable code builds (`{"type": "...", ...}`)."""
    types: set[str] = set()
    for path, tree in _modules():
        if path.name == "events.py":  # the stored form of events, not a message
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "type"
                        and isinstance(value, ast.Constant)
                    ):
                        types.add(value.value)
    return types


def json_examples() -> list[dict[str, Any]]:
    """Every complete JSON object in the document: in ```json blocks, in the worked
    example's lines (`A< {...}`) and inline (`{"type": ...}`)."""
    text = doc_text()
    found: list[dict[str, Any]] = []
    candidates = re.findall(r"```json\n(.*?)```", text, re.S)
    candidates += re.findall(r"^[A-Z<>, ]*[<>] (\{.*\})$", text, re.M)
    candidates += re.findall(r"`(\{\"type\".*?\})`", text, re.S)
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue  # examples shortened with "..." are not checked
        if isinstance(value, dict) and "type" in value:
            found.append(value)
    return found


def test_the_doc_parser_reads_what_it_should() -> None:
    """Guard: the readers above find the tables (a renamed heading would empty them)."""
    assert len(documented_client_types()) >= 30
    assert {"welcome", "snapshot", "presence", "error"} <= documented_server_types()
    assert len(documented_error_codes()) >= 30
    assert {"rate_limited", "forbidden", "invalid_rating", "busy"} <= raised_error_codes()
    assert {"ack", "error", "presence", "snapshot", "questions"} <= built_server_types()
    assert sum(e["type"] == "presence" for e in json_examples()) >= 4


def test_every_documented_client_type_is_a_client_type_and_back() -> None:
    """The document's client messages are exactly the ones the server accepts."""
    documented = set(documented_client_types())
    assert documented == set(CLIENT_TYPES), (
        f"documented only: {sorted(documented - CLIENT_TYPES)}, "
        f"accepted only: {sorted(CLIENT_TYPES - documented)}"
    )
    for kind in documented:
        assert parse(json.dumps({"type": kind}), 8192)["type"] == kind


def test_who_may_send_each_message_is_what_the_command_table_says() -> None:
    """The roles of section 3 (P, M, S, any) are the senders of each command."""
    for kind, roles in documented_client_types().items():
        assert COMMANDS[kind].senders == roles, kind


def test_every_server_message_type_is_documented_and_back() -> None:
    """Every message type the server builds has its section in 4, and every section is built."""
    built, documented = built_server_types(), documented_server_types()
    assert built == documented, (
        f"sent, undocumented: {sorted(built - documented)}; "
        f"documented, never sent: {sorted(documented - built)}"
    )


def test_every_error_code_is_documented_and_every_documented_code_is_raised() -> None:
    """Section 5's table names each code the server can send once, and no code it cannot."""
    documented = documented_error_codes()
    assert len(documented) == len(set(documented)), "a code is listed twice"
    raised = raised_error_codes() - NOT_ON_THE_WIRE
    reserved = set(documented_reserved_codes())
    assert raised == set(documented) - reserved, (
        f"raised, undocumented: {sorted(raised - set(documented))}; "
        f"documented, never raised: {sorted(set(documented) - reserved - raised)}"
    )
    assert not reserved & raised, "a code documented as never produced is raised"


def test_the_codes_kept_off_the_wire_are_raised_and_not_documented() -> None:
    """The exceptions above stay true: each is raised somewhere, none is in section 5."""
    assert raised_error_codes() >= NOT_ON_THE_WIRE
    assert not NOT_ON_THE_WIRE & set(documented_error_codes())


@pytest.mark.parametrize("kind", ["presence"])
def test_every_example_of_a_message_has_the_same_fields(kind: str) -> None:
    """Examples of one message type all carry the same fields (the section-4 example is
    checked against the live server in tests/e2e/test_protocol_conformance.py)."""
    examples = [e for e in json_examples() if e["type"] == kind]
    shapes = {tuple(sorted(e)) for e in examples}
    assert len(shapes) == 1, shapes
