"""The hash chain of a dataset's event log, checked the way a client checks it."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def recompute_chain(events: list[dict[str, Any]]) -> str:
    """SPEC section 5, independently of Gonk's own code: sha256(previous raw digest +
    RFC 8785 bytes of the event without `integrity`). Returns the head; asserts every link."""
    previous = b""
    for event in events:
        body = {k: v for k, v in event.items() if k != "integrity"}
        digest = hashlib.sha256(previous + rfc8785.dumps(body)).digest()
        assert event["integrity"] == digest.hex(), f"chain broken at {event['uuid']}"
        previous = digest
    return previous.hex()


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH of leaf hashes, written out recursively, independently of Gonk's tree
    code: split at the largest power of two below the size."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:k]) + merkle_root(leaves[k:])).digest()
