"""docs/security.md and docs/privacy.md are contracts: every guarantee in their tables
names the test that proves it, and every test named there exists.

A row whose proof column is empty, or that names a test renamed or deleted since, is a
promise nobody checks any longer; this test fails on either.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ("docs/security.md", "docs/privacy.md")
PROOF_COLUMNS = {"proven by", "test"}
# `tests/x.py::test_name`, `tests/x.py::Class::test_name` or a whole file, `tests/x.py`
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)((?:::\w+)*)`")
SAME_AS_ABOVE = re.compile(r"\bsame\b|\babove\b")


def _cells(line: str) -> list[str]:
    # A `|` inside backticks is text, not a column border.
    cells, cell, quoted = [], "", False
    for char in line.strip()[1:-1]:
        if char == "`":
            quoted = not quoted
        if char == "|" and not quoted:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
    cells.append(cell.strip())
    return cells


def contract_rows(doc: str) -> list[tuple[int, str, str]]:
    """(line number, guarantee, proof cell) of every row of the doc's proof tables."""
    rows: list[tuple[int, str, str]] = []
    proof: int | None = None
    previous = ""
    for number, line in enumerate((ROOT / doc).read_text().splitlines(), start=1):
        if not line.startswith("|"):
            proof = None
        elif not previous.startswith("|"):  # a table's header
            names = [c.lower() for c in _cells(line)]
            proof = next((k for k, n in enumerate(names) if n in PROOF_COLUMNS), None)
        elif proof is not None and not set(line) <= set("|-: "):
            cells = _cells(line)
            cell = cells[proof] if proof < len(cells) else ""
            if rows and not REFERENCE.search(cell) and SAME_AS_ABOVE.search(cell):
                cell = rows[-1][2]  # "same", "the tests above": the previous row's proof
            rows.append((number, cells[0], cell))
        previous = line
    return rows


@cache
def _defined(path: str) -> frozenset[str]:
    """The test functions and classes of a test file, as `name` and `Class::name`."""
    tree = ast.parse((ROOT / path).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            for inner in node.body:
                if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}::{inner.name}")
    return frozenset(names)


def missing_references(proof: str) -> list[str]:
    """The references in a proof cell that name no existing file or test."""
    missing = []
    for path, name in REFERENCE.findall(proof):
        if not (ROOT / path).is_file():
            missing.append(path)
        elif name and name[2:] not in _defined(path):
            missing.append(path + name)
    return missing


@pytest.mark.parametrize("doc", CONTRACTS)
def test_every_guarantee_names_tests_that_exist(doc: str) -> None:
    rows = contract_rows(doc)
    assert len(rows) > 20, f"{doc}: the proof tables were not found"
    unproven = [f"line {n}: {g[:70]}" for n, g, proof in rows if not REFERENCE.search(proof)]
    assert unproven == [], f"{doc}: guarantees that name no test"
    broken = {f"line {n}": missing_references(proof) for n, _, proof in rows}
    assert {k: v for k, v in broken.items() if v} == {}, f"{doc}: tests that do not exist"


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner itself: a row without a proof and a renamed test are both caught."""
    assert (
        missing_references("`tests/test_doc_tables.py::test_the_check_finds_what_it_looks_for`")
        == []
    )
    assert missing_references("`tests/test_doc_tables.py::no_such_test`") == [
        "tests/test_doc_tables.py::no_such_test"
    ]
    assert missing_references("`tests/no_such_file.py`") == ["tests/no_such_file.py"]
    assert _cells("| a `x | y` | `tests/t.py` |") == ["a `x | y`", "`tests/t.py`"]
    assert not REFERENCE.search("seen in the field")
    assert SAME_AS_ABOVE.search("same test") and not SAME_AS_ABOVE.search("—")
