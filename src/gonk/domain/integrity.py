"""The hash chain: RFC 8785 canonical JSON, sha256, hex (SPEC section 5).

integrity = sha256(previous_integrity_bytes + canonical_bytes(event_without_integrity))
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import rfc8785


def canonical_bytes(event: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of the event's JSON object, leaving out its own `integrity` key."""
    return rfc8785.dumps({k: v for k, v in event.items() if k != "integrity"})


def link(previous_integrity: str, event: Mapping[str, Any]) -> str:
    """The integrity of `event` placed after an event whose integrity is `previous_integrity`.

    `previous_integrity` is "" for the first event of a dataset.
    """
    previous = bytes.fromhex(previous_integrity) if previous_integrity else b""
    return hashlib.sha256(previous + canonical_bytes(event)).hexdigest()


class ChainBroken(Exception):
    """An event whose stored integrity is not the one recomputed from the event before it."""

    def __init__(self, position: int, event: Mapping[str, Any], expected: str) -> None:
        self.position = position  # 1 for a dataset's first event
        self.event = event
        self.event_uuid = str(event.get("uuid"))
        self.stored = event.get("integrity")
        self.expected = expected
        self.message = (f"event {event.get('uuid')} (position {position}) has integrity "
                        f"{self.stored!r}, expected {expected}")
        super().__init__(self.message)


def verified(events: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """The events of a chain from its first, each after its link to the one before it was
    recomputed; raises ChainBroken at the first that does not link. Streams: a long log is never
    held in memory."""
    head = ""
    for position, event in enumerate(events, start=1):
        expected = link(head, event)
        if event.get("integrity") != expected:
            raise ChainBroken(position, event, expected)
        yield event
        head = expected


def check_chain(events: Iterable[Mapping[str, Any]]) -> str:
    """Recompute a chain from its first event; return the head integrity or raise ChainBroken."""
    head = ""
    for event in verified(events):
        head = event["integrity"]
    return head
