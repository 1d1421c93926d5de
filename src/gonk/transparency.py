"""The verifiable log's answers (issue 17): a dataset's signed checkpoint, and RFC 9162
inclusion and consistency proofs from its Merkle tree (domain/merkle.py, storage/merkle.py),
each read without a transaction (`Database.single_statement`): the dataset's event count is
read first, and every node of the tree of that size was committed with its events and is never
changed by an append, so later statements agree with it without a snapshot (two round trips
fewer on PostgreSQL). Only rebuilding a tree (`migrate` from before the tree, or an operator by
hand) rewrites nodes: a proof read meanwhile fails verification, it cannot pass a wrong one.

Sizes count events: the tree of size n holds the dataset's first n events, and the event of
seq s is leaf s - 1 (`index` in a proof). Hashes are base64, as in checkpoints."""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import Connection

from . import log_signing
from .domain import merkle
from .domain.errors import Invalid, NotFound
from .installation import Installation
from .storage import datasets, reads
from .storage import merkle as stored_tree


def _encoded(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _size(value: int | None, count: int, what: str) -> int:
    """A tree size a request names: 1 to the dataset's event count (None: the count)."""
    if value is None:
        return count
    if not 1 <= value <= count:
        raise Invalid(f"'{what}' must be a tree size from 1 to the dataset's {count} events; "
                      f"{value} is not.")
    return value


def log_key(installation: Installation) -> str:
    """The installation's verifier key (C2SP), one line."""
    with installation.db.single_statement() as conn:
        return log_signing.verifier_key(log_signing.current_key(conn))


def _readable(conn: Connection, dataset: str, reader: str | None) -> datasets.Dataset:
    """The dataset, if `reader` (None: anyone) may read it; NotFound as for an unknown one."""
    if reader is not None and not datasets.readable(conn, dataset, reader):
        raise NotFound(f"No dataset named {dataset}.")
    return datasets.get(conn, dataset)


def checkpoint(installation: Installation, dataset: str, reader: str | None = None) -> str:
    """The dataset's current signed checkpoint (a C2SP signed note); `reader`: the user asking
    (a private dataset is NotFound to a non-member, as everywhere)."""
    with installation.db.single_statement() as conn:
        ds = _readable(conn, dataset, reader)
        return log_signing.checkpoint(conn, ds.id, ds.name, ds.event_count)


def inclusion_proof(installation: Installation, dataset: str, event_uuid: str,
                    size: int | None, reader: str | None = None) -> dict[str, Any]:
    """{"index", "size", "hashes", "event"}: the proof that the event is leaf `index` of the
    tree of `size` events (default: all of them), and the event as stored, so that a client
    that holds only its uuid can hash it (a verifier trusts nothing of it: the leaf hash it
    computes from those bytes must lead to the signed root)."""
    with installation.db.single_statement() as conn:
        ds = _readable(conn, dataset, reader)
        tree_size = _size(size, ds.event_count, "size")
        found = reads.event_with_body(conn, ds.id, event_uuid)
        if found is None:
            raise NotFound(f"'event' names no event of dataset {dataset}: {event_uuid}.")
        seq, body = found
        index = seq - 1
        if index >= tree_size:
            raise Invalid(f"Event {event_uuid} is event #{seq} of the log, not in the tree "
                          f"of its first {tree_size} events.")
        return {"index": index, "size": tree_size,
                "hashes": _encoded(stored_tree.hashes(conn, ds.id,
                                                      merkle.inclusion_plan(index, tree_size))),
                "event": json.loads(body)}


def consistency_proof(installation: Installation, dataset: str, old: int,
                      new: int | None, reader: str | None = None) -> dict[str, Any]:
    """{"from", "to", "hashes"}: the proof that the tree of `old` events is a prefix of the tree
    of `new` (default: all of them)."""
    with installation.db.single_statement() as conn:
        ds = _readable(conn, dataset, reader)
        to = _size(new, ds.event_count, "to")
        start = _size(old, ds.event_count, "from")
        if start > to:
            raise Invalid(f"'from' ({start}) must not be greater than 'to' ({to}).")
        return {"from": start, "to": to,
                "hashes": _encoded(stored_tree.hashes(conn, ds.id,
                                                      merkle.consistency_plan(start, to)))}

