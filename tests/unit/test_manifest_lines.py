"""A manifest line is RFC 8785 canonical JSON (releases.manifest_line): compared with the rfc8785
package on the names and values a version can have."""

from __future__ import annotations

import json

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from gonk.domain import rules
from gonk.domain.rules import Version
from gonk.releases import manifest_line
from gonk.storage.points import Entry

UUID = "0d21d5a7-fe93-4618-a122-7ca9a2ee5116"
# Object names: any text without control characters (domain.validation.object_name) and
# without lone surrogates (refused on the way in).
NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
# Sizes and version numbers are counts, far below 2**53, where RFC 8785 (IEEE doubles) ends.
@given(name=NAMES, mimetype=NAMES, size=st.integers(0, 2**53 - 1),
       version=st.integers(0, 2**53 - 1))
def test_object_lines_are_rfc8785(name: str, mimetype: str, size: int, version: int) -> None:
    entry = Entry(Version(UUID, version, rules.OBJECT, name, mimetype, size, "ab" * 32), 1)
    line = manifest_line(entry)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert line[:-1] == rfc8785.dumps(json.loads(line))
    assert json.loads(line) == {"kind": "object", "uuid": UUID, "version": version,
                                "name": name, "mimetype": mimetype, "size": size,
                                "sha256": "ab" * 32}


def test_annotation_lines_carry_schema_and_sorted_objects() -> None:
    version = Version(UUID, 2, rules.ANNOTATION, None, None, 10, "cd" * 32, UUID, 1)
    objects = (("00000000-0000-4000-8000-000000000001", 0),
               ("00000000-0000-4000-8000-000000000002", 3))
    line = manifest_line(Entry(version, 5, objects))
    assert line[:-1] == rfc8785.dumps(json.loads(line))
    assert json.loads(line) == {
        "kind": "annotation", "uuid": UUID, "version": 2, "name": None,
        "mimetype": "application/json", "size": 10, "sha256": "cd" * 32,
        "schema": {"uuid": UUID, "version": 1},
        "objects": [{"uuid": o, "version": n} for o, n in objects]}
