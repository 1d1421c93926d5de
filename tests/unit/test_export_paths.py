"""The paths `gonk-api export` gives objects and schemas (gonk/exporting.py): safe names are
kept, unsafe or clashing ones go to _gonk_renamed/<uuid>.<version>[.<ext>], the first in
manifest order keeping a contested name."""

from __future__ import annotations

import unicodedata

import pytest

from gonk.exporting import PathPlanner, canonical_line, renamed_path, unsafe_reason

U1 = "0b8f8e4c-1f3a-4c0e-9d43-6f1d2a3b4c5d"
U2 = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"

SAFE = ["cat.jpg", "a/b/c.txt", "ünïcødé/日本.png", "space inside.txt", ".hidden", "a..b",
        "x" * 255, "é" * 127, "CONSOLE.txt", "com10", "lpt", "_gonk_renamed2/x", "a/_gonk_renamed"]

UNSAFE = {
    "": "empty",
    "/etc/passwd": "starts with '/'",
    "a//b": "empty component",
    "a/": "empty component",
    ".": "'.' component",
    "..": "'..' component",
    "../x": "'..' component",
    "a/./b": "'.' component",
    "a\\b": "'\\\\'",
    "tab\there": "control character",
    "del\x7f": "control character",
    "c1\x85": "control character",
    "a<b": "'<'", "a>b": "'>'", "a:b": "':'", 'a"b': "'\"'", "a|b": "'|'", "a?b": "'?'",
    "a*b": "'*'",
    "x" * 256: "longer than 255 bytes",
    "é" * 128: "longer than 255 bytes",
    "dir./x": "ends with '.'",
    "x.": "ends with '.'",
    "x ": "ends with '.' or ' '",
    "CON": "device name", "con.txt": "device name", "a/Nul.tar.gz": "device name",
    "COM1": "device name", "lpt9.log": "device name", "aux": "device name", "prn.": "ends",
    "_gonk_renamed/x.bin": "reserved", "_GONK_Renamed": "reserved",
    "\ud800.txt": "not valid UTF-8",
}


@pytest.mark.parametrize("name", SAFE)
def test_safe_names_are_kept(name: str) -> None:
    assert unsafe_reason(name) is None
    assert PathPlanner().place(name, U1, 0).path == name


@pytest.mark.parametrize("name,why", UNSAFE.items())
def test_unsafe_names_are_renamed_with_a_reason(name: str, why: str) -> None:
    reason = unsafe_reason(name)
    assert reason is not None and why in reason, (name, reason)
    placed = PathPlanner().place(name, U1, 3)
    assert placed.renamed == reason
    assert placed.path.startswith(f"_gonk_renamed/{U1}.3")


@pytest.mark.parametrize("name,path", [
    ("../cat.jpg", f"_gonk_renamed/{U1}.2.jpg"),
    ("a:b.JPEG", f"_gonk_renamed/{U1}.2.JPEG"),
    ("x/../archive.tar.gz", f"_gonk_renamed/{U1}.2.gz"),
    ("noext/", f"_gonk_renamed/{U1}.2"),
    ("dir.d/", f"_gonk_renamed/{U1}.2"),  # the '.' is in a folder's name, not the last one
    ("a.b/c", f"_gonk_renamed/{U1}.2"),
    ("trailing.", f"_gonk_renamed/{U1}.2"),
    ("x.tóolong", f"_gonk_renamed/{U1}.2"),  # not ASCII letters and digits
    ("x." + "a" * 17, f"_gonk_renamed/{U1}.2"),  # longer than 16
    ("x." + "a" * 16 + "?", f"_gonk_renamed/{U1}.2"),
    ("CON.txt", f"_gonk_renamed/{U1}.2.txt"),
    ("x.a" + "b" * 15, f"_gonk_renamed/{U1}.2.a" + "b" * 15),
])
def test_the_renamed_path_keeps_a_simple_extension(name: str, path: str) -> None:
    assert renamed_path(name, U1, 2) == path
    if unsafe_reason(name) is not None:  # (some of these names are safe, and kept)
        assert PathPlanner().place(name, U1, 2).path == path


def test_renamed_path_of_no_name() -> None:
    assert renamed_path(None, U1, 0) == f"_gonk_renamed/{U1}.0"
    assert PathPlanner().place(None, U1, 0).renamed == "the name is empty"


@pytest.mark.parametrize("first,second", [
    ("cat.jpg", "cat.jpg"),
    ("cat.jpg", "CAT.JPG"),
    ("Dir/x", "dir/X"),
    ("straße", "STRASSE"),  # case folding, as case-insensitive file systems may compare
    ("caf\u00e9", "cafe\u0301"),  # one name in NFC and in NFD (macOS normalises)
    ("a", "a/b"),  # a file where a folder is needed
    ("a/b", "a"),  # a folder where a file is needed
    ("a/b/c", "A/B"),
    ("A/b", "a/b/c/d"),
])
def test_the_first_of_two_clashing_names_keeps_it(first: str, second: str) -> None:
    planner = PathPlanner()
    assert planner.place(first, U1, 0).path == first
    clash = planner.place(second, U2, 5)
    assert clash.path.startswith(f"_gonk_renamed/{U2}.5") and clash.renamed
    # a third with the first's name is renamed too; a name that clashes with nothing is kept
    assert planner.place(first, "9" * 8 + U1[8:], 0).renamed
    assert planner.place("other/thing", U2, 6).path == "other/thing"


def test_siblings_and_prefixes_that_are_not_folders_do_not_clash() -> None:
    planner = PathPlanner()
    for name in ("a/b", "a/c", "ab", "a.txt", "a/b.txt", "b/a"):
        assert planner.place(name, U1, 0).renamed is None, name


def test_renamed_items_claim_no_name() -> None:
    planner = PathPlanner()
    assert planner.place("../x", U1, 0).renamed
    assert planner.place("x", U2, 0).path == "x"


def test_the_plan_depends_on_the_order_only() -> None:
    names = ["b/c", "B", "a", "A/x", "../z.bin", "a", "Q?.png", "q"]
    uuids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(len(names))]

    def plan() -> list[str]:
        planner = PathPlanner()
        return [planner.place(n, u, 1).path for n, u in zip(names, uuids, strict=True)]

    assert plan() == plan() == [
        "b/c", f"_gonk_renamed/{uuids[1]}.1", "a", f"_gonk_renamed/{uuids[3]}.1",
        f"_gonk_renamed/{uuids[4]}.1.bin", f"_gonk_renamed/{uuids[5]}.1",
        f"_gonk_renamed/{uuids[6]}.1.png", "q"]


def test_canonical_lines() -> None:
    assert canonical_line({"b": 1, "a": "é", "c": [1.0, 1e21]}) == \
        '{"a":"é","b":1,"c":[1,1e+21]}\n'.encode()
    # beyond RFC 8785's integers: sorted keys, compact, exact
    assert canonical_line({"z": 2**60, "a": 1}) == b'{"a":1,"z":1152921504606846976}\n'


def test_the_plain_component_shortcut_holds_exactly_the_unchecked_characters() -> None:
    """unsafe_reason skips its per-character checks for components of PLAIN_COMPONENT: that
    class must be printable ASCII less the characters Windows reserves and '/'; fold_name's
    ASCII shortcut must agree with case folding and NFC."""
    from gonk.exporting import PLAIN_COMPONENT, WINDOWS_RESERVED, fold_name

    allowed = {chr(c) for c in range(0x20, 0x7F)} - set(WINDOWS_RESERVED) - {"/"}
    assert {chr(c) for c in range(0x100) if PLAIN_COMPONENT.fullmatch(chr(c))} == allowed
    for text in ("Cat.JPG", "a/B/c", "x_Y-z.~ #"):
        assert fold_name(text) == unicodedata.normalize("NFC", text.casefold())
