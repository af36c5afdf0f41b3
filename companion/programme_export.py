"""Write a programme as the YAML file `companion.programme_file` reads.

The file is for people as much as for the import: keys in the documented order, text as
written (UTF-8, not escaped), and fields that hold nothing (no date, an empty note, no
speakers) left out, as someone writing the file by hand would. Reading it back with
`parse_programme` gives the same programme (tests/test_programme_export.py).
"""

from __future__ import annotations

from typing import Any

import yaml

from companion.domain.programme import Programme
from companion.domain.programme_codec import programme_to_data

HEADER = (
    "# Programme exported by Companion; `companion import FILE` or the organiser pages read it.\n"
)


def _pruned(value: Any) -> Any:
    """The value without keys that hold nothing (None, "", [] or {})."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Long texts with newlines as `|` blocks, so paragraphs stay readable."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and all(line == line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)


def dump_programme(programme: Programme) -> str:
    """The programme as YAML text, in the shape of the import file."""
    data = _pruned(programme_to_data(programme))
    data.setdefault("networks", [])
    body = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100, indent=2)
    return HEADER + body
