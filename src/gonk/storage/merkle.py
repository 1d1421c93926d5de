"""The merkle_nodes table: each dataset's Merkle tree, kept with its events (the math is
domain/merkle.py).

- `append_leaf`: in the append's transaction, under the dataset's write lock (log.DatasetLog):
  one read of the left siblings (none for every other event) and one insert of the leaf and
  the subtrees it completes.
- `hashes`: a root or proof plan's hashes, its stored nodes read in one query.
- `build` and `check`: the whole tree in one pass over the log, for `migrate` and `verify`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, or_, select, text

from ..domain import merkle
from ..domain.merkle import Node
from . import tables as t
from .prepared import Prepared
from .records import MERKLE_NODES

N = t.merkle_nodes.c
_INSERT = MERKLE_NODES.inserter()
_DATASET: Any = bindparam("p_dataset_id")


def _reader(pairs: int) -> Prepared:
    """SELECT of `pairs` nodes by (level, position), one OR term each, each term the whole
    primary key (dataset, level, position) so that each is one index lookup (SQLite's
    MULTI-INDEX OR; with the dataset outside the OR, SQLite searched the dataset's every node).
    A row-value IN is not in every SQLite this runs on."""
    return Prepared(select(N.level, N.position, N.hash).where(or_(*(
        and_(N.dataset_id == _DATASET, N.level == bindparam(f"p_l{i}"),
             N.position == bindparam(f"p_p{i}"))
        for i in range(pairs)))))


# PostgreSQL: one statement for any number of nodes, the wanted pairs as two arrays joined to
# the primary key (a nested loop of index lookups). The OR form costs PostgreSQL about 1 ms of
# planning per read at a proof's 20 to 40 terms, and a statement of its own per count.
_UNNEST_READER = Prepared(text(
    "SELECT n.level, n.position, n.hash FROM unnest(CAST(:p_levels AS integer[]), "
    "CAST(:p_positions AS bigint[])) AS wanted(level, position) JOIN merkle_nodes AS n "
    "ON n.dataset_id = :p_dataset_id AND n.level = wanted.level "
    "AND n.position = wanted.position"))
_READERS: dict[int, Prepared] = {}
_CHUNK = 50  # nodes per read on SQLite: a proof needs a few dozen at most


def read(conn: Connection, dataset_id: int, nodes: Iterable[Node]) -> dict[Node, bytes]:
    """The stored hashes of these nodes (a node not stored is left out)."""
    wanted = list(nodes)
    found: dict[Node, bytes] = {}
    if not wanted:
        return found
    if conn.dialect.name == "postgresql":
        rows = _UNNEST_READER.rows(conn, {"p_dataset_id": dataset_id,
                                          "p_levels": [level for level, _ in wanted],
                                          "p_positions": [position for _, position in wanted]})
        return {(int(level), int(position)): bytes(value) for level, position, value in rows}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        statement = _READERS.get(len(chunk))
        if statement is None:
            statement = _READERS[len(chunk)] = _reader(len(chunk))
        params: dict[str, object] = {"p_dataset_id": dataset_id}
        for i, (level, position) in enumerate(chunk):
            params[f"p_l{i}"], params[f"p_p{i}"] = level, position
        for level, position, value in statement.rows(conn, params):
            found[(int(level), int(position))] = bytes(value)
    return found


class TreeIncomplete(Exception):
    """A node a root or proof needs is not stored: the tree is behind its log (a bug, or a
    database changed by hand); `verify` says which."""


def hashes(conn: Connection, dataset_id: int, plan: merkle.Plan) -> list[bytes]:
    """The hashes a plan (domain/merkle.py) lists, from the stored nodes."""
    def reader(nodes: Iterable[Node]) -> dict[Node, bytes]:
        wanted = list(nodes)
        found = read(conn, dataset_id, wanted)
        if len(found) != len(wanted):
            missing = sorted(set(wanted) - set(found))[0]
            raise TreeIncomplete(f"the Merkle tree has no node {missing} (level, position)")
        return found

    return plan.hashes(reader)


def append_leaf(conn: Connection, dataset_id: int, index: int, leaf: bytes) -> None:
    """Store leaf `index` (the event of seq index + 1) and the perfect subtrees it completes."""
    siblings = merkle.siblings_of_append(index)
    known = read(conn, dataset_id, siblings) if siblings else {}
    _INSERT.run_many(conn, [{"dataset_id": dataset_id, "level": level, "position": position,
                             "hash": value}
                            for level, position, value in merkle.nodes_of_append(index, leaf,
                                                                                 known)])


def event_leaves(conn: Connection, dataset_id: int, batch: int = 5000) -> Iterator[bytes]:
    """The leaf hashes of the dataset's events, in log order, read `batch` events at a time."""
    after = 0
    while True:
        rows = conn.execute(select(t.events.c.seq, t.events.c.body).where(
            t.events.c.dataset_id == dataset_id, t.events.c.seq > after)
            .order_by(t.events.c.seq).limit(batch)).all()
        for row in rows:
            yield merkle.event_leaf(json.loads(row.body))
        if len(rows) < batch:
            return
        after = rows[-1].seq


def build(conn: Connection, dataset_id: int, leaves: Iterable[bytes], batch: int = 2000) -> int:
    """Store the whole tree of a log (any nodes stored before are replaced); the nodes
    written."""
    conn.execute(delete(t.merkle_nodes).where(N.dataset_id == dataset_id))
    rows: list[dict[str, object]] = []
    written = 0
    for level, position, value in merkle.nodes_of_log(leaves):
        rows.append({"dataset_id": dataset_id, "level": level, "position": position,
                     "hash": value})
        if len(rows) == batch:
            _INSERT.run_many(conn, rows)
            written, rows = written + len(rows), []
    if rows:
        _INSERT.run_many(conn, rows)
        written += len(rows)
    return written


def _stored_in_append_order(conn: Connection, dataset_id: int
                            ) -> Iterator[tuple[int, int, bytes]]:
    """The dataset's stored nodes in the order appends write them: by the last leaf each
    covers, then by level."""
    last_leaf = ((N.position + 1).op("<<")(N.level)) - 1
    result = conn.execute(
        select(N.level, N.position, N.hash).where(N.dataset_id == dataset_id)
        .order_by(last_leaf, N.level).execution_options(yield_per=5000))
    for level, position, value in result:
        yield int(level), int(position), bytes(value)


def check(conn: Connection, dataset_id: int, leaves: Iterable[bytes]) -> str | None:
    """Whether the stored tree is exactly the tree of these leaf hashes (every node, nothing
    more): None if so, else what differs first."""
    stored = _stored_in_append_order(conn, dataset_id)
    for level, position, value in merkle.nodes_of_log(leaves):
        found = next(stored, None)
        if found is None or found[:2] != (level, position):
            return (f"the Merkle tree has no node ({level}, {position}) (level, position), "
                    "which the events make")
        if found[2] != value:
            what = f"event #{position + 1}'s leaf" if level == 0 else \
                f"node ({level}, {position}) (level, position)"
            return (f"the Merkle tree's {what} is {found[2].hex()}, the events make "
                    f"{value.hex()}")
    extra = next(stored, None)
    if extra is not None:
        return (f"the Merkle tree has a node ({extra[0]}, {extra[1]}) (level, position) beyond "
                "the events")
    return None
