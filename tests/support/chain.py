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


def rewrite_history(conn: Any, dataset: str, seq: int, rebuild_tree: bool) -> None:
    """What an operator with write access to the database could do to hide a change: alter
    event #`seq` of `dataset` (its timestamp), recompute the whole hash chain after it (and the
    dataset's head), so that a replay of the chain finds nothing wrong; with `rebuild_tree`,
    also rebuild the dataset's Merkle tree from the altered events, so that the server's own
    proofs and checkpoints agree with them."""
    import json

    from sqlalchemy import select, update

    from gonk.client.log_proofs import event_leaf_hash
    from gonk.domain import integrity
    from gonk.storage import merkle
    from gonk.storage import tables as t

    dataset_id = conn.execute(select(t.datasets.c.id).where(
        t.datasets.c.name == dataset)).scalar_one()
    rows = conn.execute(select(t.events.c.seq, t.events.c.body).where(
        t.events.c.dataset_id == dataset_id).order_by(t.events.c.seq)).all()
    head, leaves = "", []
    for number, body in rows:
        event = json.loads(body)
        if number == seq:
            event["timestamp"] = "2020-01-01T00:00:00Z"
        event["integrity"] = integrity.link(head, event)
        head = event["integrity"]
        leaves.append(event_leaf_hash(event))
        conn.execute(update(t.events).where(t.events.c.dataset_id == dataset_id,
                                            t.events.c.seq == number)
                     .values(body=json.dumps(event), integrity=head))
    conn.execute(update(t.datasets).where(t.datasets.c.id == dataset_id)
                 .values(head_integrity=head))
    if rebuild_tree:
        merkle.build(conn, dataset_id, leaves)
