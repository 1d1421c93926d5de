"""A dataset's Merkle tree over its events, as RFC 9162 section 2.1 defines it, kept as stored
nodes: the math of which nodes an append writes and which a root or a proof reads.

The tree's leaves are the dataset's events in log order (leaf 0 is the event of seq 1):

    leaf hash  = SHA-256(0x00 || the event's canonical bytes, integrity included)
    node hash  = SHA-256(0x01 || left || right)
    MTH(D[a:b]) for a range that is not a power of two splits at the largest power of two below
    its size (RFC 9162 2.1.1).

Only *perfect* subtrees are stored: node (level, index) is the hash of the 2**level leaves from
index * 2**level on. Appending leaf n writes it and every perfect subtree it completes (one
plus the number of trailing one bits of n: two writes on average, log2(n) + 1 at most), reading
only the left siblings it hashes with; nothing is ever rewritten. Every range a root or an
RFC 9162 proof needs starts at a multiple of a power of two at least its size, so its hash is
the right-to-left fold of a few perfect subtrees (`perfect_subtrees`): a root reads at most
log2(n) + 1 nodes, a proof O(log2(n)**2) at most, each plan's nodes in one read.

This module computes; storage.merkle stores. The verifying side (gonk.client.log_proofs) is
written apart from this, from the RFC's verification algorithms, and uses only the proofs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import rfc8785

Node = tuple[int, int]
"""(level, index): the perfect subtree of the 2**level leaves from index * 2**level on."""

Reader = Callable[[Iterable[Node]], dict[Node, bytes]]
"""Reads stored nodes by key (one query for all of them); a missing node is a KeyError later."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def event_leaf(event: dict[str, Any]) -> bytes:
    """The leaf hash of an event as the events endpoint serves it (with its `integrity`)."""
    return leaf_hash(rfc8785.dumps(event))


def _largest_power_below(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_subtrees(start: int, end: int) -> list[Node]:
    """The perfect subtrees that make up leaves [start, end), left to right, largest first."""
    nodes = []
    while start < end:
        level = 0
        while start % (2 << level) == 0 and start + (2 << level) <= end:
            level += 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def _fold(nodes: list[Node], hashes: dict[Node, bytes]) -> bytes:
    """MTH of the range these perfect subtrees make up (the last one hashed in first)."""
    result = hashes[nodes[-1]]
    for node in reversed(nodes[:-1]):
        result = node_hash(hashes[node], result)
    return result


# --- appending -----------------------------------------------------------------------------


def siblings_of_append(n: int) -> list[Node]:
    """The stored nodes that appending leaf n (0-based) hashes with: the left sibling of every
    perfect subtree it completes."""
    siblings = []
    level, index = 0, n
    while index % 2 == 1:
        siblings.append((level, index - 1))
        level, index = level + 1, index // 2
    return siblings


def _completed(n: int, leaf: bytes, left_sibling: Callable[[int, int], bytes]
               ) -> list[tuple[int, int, bytes]]:
    """(level, index, hash) of leaf n and of every perfect subtree it completes, each hashed
    with `left_sibling(level, index)`: the hash of the node left of (level, index)."""
    written = [(0, n, leaf)]
    level, index, current = 0, n, leaf
    while index % 2 == 1:
        current = node_hash(left_sibling(level, index), current)
        level, index = level + 1, index // 2
        written.append((level, index, current))
    return written


def nodes_of_append(n: int, leaf: bytes, siblings: dict[Node, bytes]) -> list[tuple[int, int,
                                                                                   bytes]]:
    """What appending leaf n with hash `leaf` stores: (level, index, hash) of the leaf and of
    every perfect subtree it completes; `siblings` holds the nodes of `siblings_of_append`."""
    return _completed(n, leaf, lambda level, index: siblings[(level, index - 1)])


# --- roots and proofs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a root or a proof is made of: the leaf ranges whose hashes it lists, in order, and
    the stored nodes those need (read all at once)."""

    ranges: list[tuple[int, int]]

    @property
    def nodes(self) -> set[Node]:
        return {node for start, end in self.ranges for node in perfect_subtrees(start, end)}

    def hashes(self, read: Reader) -> list[bytes]:
        stored = read(sorted(self.nodes)) if self.ranges else {}
        return [_fold(perfect_subtrees(start, end), stored) for start, end in self.ranges]


def root_plan(size: int) -> Plan:
    """The root of the tree of the first `size` leaves (size >= 1)."""
    if size < 1:
        raise ValueError("a tree of no leaves has no stored root")
    return Plan([(0, size)])


def inclusion_plan(index: int, size: int) -> Plan:
    """RFC 9162 2.1.3.1: the inclusion proof of leaf `index` in the tree of `size` leaves,
    PATH(m, D[n]): the deepest sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:  # descend towards the leaf; the sibling ranges collected top-down
        k = _largest_power_below(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return Plan(ranges[::-1])


def consistency_plan(old: int, new: int) -> Plan:
    """RFC 9162 2.1.4.1: the consistency proof between the trees of `old` and `new` leaves
    (1 <= old <= new), PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    if not 1 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new} leaves")
    ranges: list[tuple[int, int]] = []
    start, end, m, whole = 0, new, old, True
    while m != end - start:  # SUBPROOF(m, D[start:end], whole), its appended hashes top-down
        k = _largest_power_below(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:  # SUBPROOF(m, D[m], false) = [MTH(D[m])]
        ranges.append((start, end))
    return Plan(ranges[::-1])


def nodes_of_log(leaves: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """Every node a log of these leaf hashes stores, as appends would write them, in that order
    (leaf n, then the subtrees it completes, lowest first), holding only a stack of log2(n)
    hashes: for building a tree in one pass (`migrate`) and checking a stored one (`verify`)."""
    stack: list[bytes] = []  # the perfect subtrees so far, largest first
    for n, leaf in enumerate(leaves):
        written = _completed(n, leaf, lambda _level, _index: stack.pop())
        yield from written
        stack.append(written[-1][2])

