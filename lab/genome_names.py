"""``names.json``: the names, tags and notes users gave a genome after its file was written.

A genome's id is the hash of its genes and its file is written once, so a second name for the same
genes (a Gene Forge save, an import) cannot go into that file. The registry keeps such metadata here,
per genome id, and :func:`with_names` lays it over the stored genome: tags joined, notes appended,
other names kept as aliases (``Registry.names``). Reading is strict about shape, since the file may
have been edited or planted by hand: a bad record is left out and named, never trusted.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lab.genome import Genome
from lab.safe_read import FileProblem, load_json

NAMES_SCHEMA_VERSION = 1
NAME_FIELDS = ("names", "tags", "notes")   # what names.json keeps per genome id
MAX_NAME_CHARS = 200                      # a name or tag in names.json (notes: MAX_NOTES_CHARS)
MAX_NOTES_CHARS = 20_000
_ID = re.compile(r"^[0-9a-f]{16}$")


def with_names(genome: Genome, record: dict[str, list[str]]) -> Genome:
    """``genome`` with a names.json record added: tags joined, notes appended (and the first name
    given as the name of a genome stored without one)."""
    name = genome.name or (record["names"][0] if record["names"] else "")
    tags = tuple(dict.fromkeys((*genome.tags, *record["tags"])))
    notes = "\n\n".join(n for n in (genome.notes, *record["notes"]) if n)
    if (name, tags, notes) == (genome.name, genome.tags, genome.notes):
        return genome
    return genome.replace(name=name, tags=tags, notes=notes)


def parse_names(path: Path, size: int, max_bytes: int) -> tuple[dict[str, dict[str, list[str]]], list[str]]:
    """The valid records of a names.json file and one line per problem (a bad record is left out)."""
    try:
        data = load_json(path, what="names file", max_bytes=max_bytes, inside=path.parent)
    except FileProblem as exc:
        return {}, [exc.problem]
    if not isinstance(data, dict) or data.get("schema_version") != NAMES_SCHEMA_VERSION \
            or not isinstance(data.get("genomes"), dict):
        return {}, [f"not a names file of schema_version {NAMES_SCHEMA_VERSION}"]
    records, bad = {}, []
    for gid, record in data["genomes"].items():
        if _ID.match(gid) and isinstance(record, dict) and set(record) <= set(NAME_FIELDS) and all(
                isinstance(record.get(k, []), list) and all(_good_text(x, k) for x in record.get(k, []))
                for k in NAME_FIELDS):
            records[gid] = {k: list(record.get(k, [])) for k in NAME_FIELDS}
        else:
            bad.append(repr(gid[:20]))
    if bad:
        return records, [f"{len(bad)} record(s) are not {{names, tags, notes}} lists of text: {', '.join(bad[:3])}"]
    return records, []


def _good_text(value: Any, field: str) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    if field == "notes":
        return len(value) <= MAX_NOTES_CHARS
    return len(value) <= MAX_NAME_CHARS and value.isprintable()
