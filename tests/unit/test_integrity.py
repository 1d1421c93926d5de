"""Unit tests of the hash chain (SPEC section 5, Integrity)."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
import rfc8785

from gonk.domain import events as ev
from gonk.domain import integrity


def by_hand(previous_hex: str, event: dict[str, Any]) -> str:
    """The SPEC formula, written out independently of gonk.domain.integrity."""
    body = {k: v for k, v in event.items() if k != "integrity"}
    previous = bytes.fromhex(previous_hex) if previous_hex else b""
    assert len(previous) in (0, 32)
    return hashlib.sha256(previous + rfc8785.dumps(body)).hexdigest()


def sample_events() -> list[dict[str, Any]]:
    """A small, realistic log: owner add, object create, schema create, review, annotation."""
    data = b"\x89PNG..."
    obj = ev.object_write("alice", ev.object_metadata(
        ev.new_uuid(), 0, "cat.png", "image/png", len(data), hashlib.sha256(data).hexdigest()))
    schema_bytes = b'{"type": "object"}'
    schema = ev.object_write("bob", ev.object_metadata(
        ev.new_uuid(), 0, "schema-x", ev.SCHEMA_FORMAT, len(schema_bytes),
        hashlib.sha256(schema_bytes).hexdigest()))
    ann_bytes = "{\"label\": \"caf\u00e9 \U0001f408\"}".encode()
    annotation = ev.annotation_create("bob", ev.annotation_metadata(
        ev.new_uuid(), 0, schema["object"]["uuid"], 0, len(ann_bytes),
        hashlib.sha256(ann_bytes).hexdigest()),
        [ev.identifier(obj["object"]["uuid"], 0)])
    return [
        ev.owner_event("alice", "alice", add=True),
        obj,
        schema,
        ev.review("alice", obj["uuid"], accept=True),
        annotation,
        ev.object_delete("bob", obj["object"]["uuid"], 0),
    ]


def chained(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    head = ""
    out = []
    for event in events:
        event = dict(event)
        event["integrity"] = integrity.link(head, event)
        head = event["integrity"]
        out.append(event)
    return out


@pytest.fixture
def chain() -> list[dict[str, Any]]:
    return chained(sample_events())


# --- canonical bytes ------------------------------------------------------------------------


def test_canonical_bytes_exclude_integrity() -> None:
    event = ev.owner_event("alice", "alice", add=True)
    without = integrity.canonical_bytes(event)
    event["integrity"] = "ab" * 32
    assert integrity.canonical_bytes(event) == without
    assert b"integrity" not in without
    assert json.loads(without) == {k: v for k, v in event.items() if k != "integrity"}


def test_canonical_bytes_are_rfc8785() -> None:
    event = {"type": "X", "b": 1, "a": [1.0, "\u00e9"], "uuid": "u"}
    assert integrity.canonical_bytes(event) == rfc8785.dumps(event)
    # Keys sorted, no whitespace, numbers in shortest form, non-ASCII as UTF-8.
    expected = '{"a":[1,"\u00e9"],"b":1,"type":"X","uuid":"u"}'.encode()
    assert integrity.canonical_bytes(event) == expected


def test_canonical_bytes_ignore_key_order() -> None:
    event = ev.object_delete("bob", ev.new_uuid(), 3)
    reordered = dict(reversed(list(event.items())))
    assert list(reordered) != list(event)
    assert integrity.canonical_bytes(reordered) == integrity.canonical_bytes(event)


def test_canonical_bytes_cover_every_field() -> None:
    event = ev.owner_event("alice", "bob", add=True)
    base = integrity.canonical_bytes(event)
    for key in event:
        changed = dict(event)
        changed[key] = "something else"
        assert integrity.canonical_bytes(changed) != base, key


# --- link -----------------------------------------------------------------------------------


def test_first_event_has_empty_prev() -> None:
    event = ev.owner_event("alice", "alice", add=True)
    expected = hashlib.sha256(rfc8785.dumps(event)).hexdigest()
    assert integrity.link("", event) == expected


def test_link_matches_formula_by_hand(chain: list[dict[str, Any]]) -> None:
    previous = ""
    for event in chain:
        assert event["integrity"] == by_hand(previous, event)
        previous = event["integrity"]


def test_link_uses_raw_digest_not_hex_text() -> None:
    first, second = chained(sample_events()[:2])
    hex_text = first["integrity"]
    body = {k: v for k, v in second.items() if k != "integrity"}
    assert second["integrity"] == hashlib.sha256(
        bytes.fromhex(hex_text) + rfc8785.dumps(body)).hexdigest()
    assert second["integrity"] != hashlib.sha256(
        hex_text.encode() + rfc8785.dumps(body)).hexdigest()


def test_link_is_lowercase_hex_sha256(chain: list[dict[str, Any]]) -> None:
    for event in chain:
        assert len(event["integrity"]) == 64
        assert event["integrity"] == event["integrity"].lower()
        int(event["integrity"], 16)


def test_link_ignores_existing_integrity_key() -> None:
    event = ev.owner_event("alice", "alice", add=True)
    plain = integrity.link("", event)
    event["integrity"] = "00" * 32
    assert integrity.link("", event) == plain


def test_link_depends_on_previous() -> None:
    event = ev.owner_event("alice", "bob", add=True)
    assert integrity.link("", event) != integrity.link("00" * 32, event)
    assert integrity.link("00" * 32, event) != integrity.link("11" * 32, event)


def test_same_event_in_different_positions_links_differently() -> None:
    event = ev.owner_event("alice", "alice", add=True)
    first = integrity.link("", event)
    assert integrity.link(first, event) != first


# --- check_chain ----------------------------------------------------------------------------


def test_check_chain_accepts_and_returns_head(chain: list[dict[str, Any]]) -> None:
    assert integrity.check_chain(chain) == chain[-1]["integrity"]


def test_check_chain_of_empty_log_is_empty_head() -> None:
    assert integrity.check_chain([]) == ""


def test_check_chain_survives_json_round_trip(chain: list[dict[str, Any]]) -> None:
    assert integrity.check_chain(json.loads(json.dumps(chain))) == chain[-1]["integrity"]


@pytest.mark.parametrize("position", [1, 2, 4, 6])
def test_check_chain_detects_edited_field(chain: list[dict[str, Any]], position: int) -> None:
    tampered = copy.deepcopy(chain)
    tampered[position - 1]["timestamp"] = "2000-01-01T00:00:00.000000Z"
    with pytest.raises(integrity.ChainBroken) as info:
        integrity.check_chain(tampered)
    assert info.value.position == position
    assert info.value.event_uuid == chain[position - 1]["uuid"]
    assert f"position {position}" in str(info.value)


def test_check_chain_detects_edited_nested_field(chain: list[dict[str, Any]]) -> None:
    tampered = copy.deepcopy(chain)
    tampered[1]["object"]["hash"] = "0" * 64
    with pytest.raises(integrity.ChainBroken) as info:
        integrity.check_chain(tampered)
    assert info.value.position == 2


def test_check_chain_detects_changed_author(chain: list[dict[str, Any]]) -> None:
    tampered = copy.deepcopy(chain)
    tampered[3]["author"] = "mallory"
    with pytest.raises(integrity.ChainBroken) as info:
        integrity.check_chain(tampered)
    assert info.value.position == 4
    assert info.value.event_uuid == chain[3]["uuid"]


def test_check_chain_detects_added_field(chain: list[dict[str, Any]]) -> None:
    tampered = copy.deepcopy(chain)
    tampered[2]["review"] = "ACCEPTED"
    with pytest.raises(integrity.ChainBroken) as info:
        integrity.check_chain(tampered)
    assert info.value.position == 3


def test_check_chain_detects_reordered_events(chain: list[dict[str, Any]]) -> None:
    tampered = copy.deepcopy(chain)
    tampered[2], tampered[3] = tampered[3], tampered[2]
    with pytest.raises(integrity.ChainBroken) as info:
        integrity.check_chain(tampered)
    assert info.value.position == 3
    assert info.value.event_uuid == chain[3]["uuid"]


def test_check_chain_detects_removed_event(chain: list[dict[str, Any]]) -> None:
    tampered = copy.deepcopy(chain)
    del tampered[1]
    with pytest.raises(integrity.ChainBroken) as info:
        integrity.check_chain(tampered)
    assert info.value.position == 2


def test_check_chain_detects_missing_integrity(chain: list[dict[str, Any]]) -> None:
    tampered = copy.deepcopy(chain)
    del tampered[4]["integrity"]
    with pytest.raises(integrity.ChainBroken) as info:
        integrity.check_chain(tampered)
    assert info.value.position == 5


def test_rechained_tampering_breaks_following_event(chain: list[dict[str, Any]]) -> None:
    """Re-hashing an edited event is not enough: the next event's link no longer matches."""
    tampered = copy.deepcopy(chain)
    tampered[1]["author"] = "mallory"
    tampered[1]["integrity"] = integrity.link(tampered[0]["integrity"], tampered[1])
    with pytest.raises(integrity.ChainBroken) as info:
        integrity.check_chain(tampered)
    assert info.value.position == 3
