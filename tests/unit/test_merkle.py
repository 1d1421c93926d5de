"""The Merkle tree's math (gonk.domain.merkle) against Certificate Transparency's test vectors,
and every proof of random trees checked by the independent verifier (gonk.client.log_proofs)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

import pytest

from gonk.client.log_proofs import verify_consistency, verify_inclusion
from gonk.domain import merkle
from gonk.domain.merkle import Node
from tests.support.chain import merkle_root

# RFC 6962's test tree (certificate-transparency's and transparency-dev/merkle's test data):
# eight leaves, the root of each prefix, and some of its proofs
CT_LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
CT_INCLUSION = {
    (0, 1): [],
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CT_CONSISTENCY = {
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}


class StoredTree:
    """The nodes appends store, in a dict, as storage.merkle keeps them in a table."""

    def __init__(self) -> None:
        self.nodes: dict[Node, bytes] = {}
        self.size = 0
        self.reads: list[int] = []  # how many nodes each read asked for

    def append(self, leaf: bytes) -> int:
        siblings = self.read(merkle.siblings_of_append(self.size))
        written = merkle.nodes_of_append(self.size, leaf, siblings)
        for level, index, value in written:
            assert (level, index) not in self.nodes  # nothing is ever rewritten
            self.nodes[(level, index)] = value
        self.size += 1
        return len(written)

    def read(self, keys: Iterable[Node]) -> dict[Node, bytes]:
        wanted = list(keys)
        self.reads.append(len(wanted))
        return {key: self.nodes[key] for key in wanted}


def _tree(leaves: Iterable[bytes]) -> StoredTree:
    tree = StoredTree()
    for data in leaves:
        tree.append(merkle.leaf_hash(data))
    return tree


def test_the_roots_of_the_ct_test_tree() -> None:
    tree = _tree(CT_LEAVES)
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert merkle.root_plan(size).hashes(tree.read) == [bytes.fromhex(expected)]
        assert merkle_root([merkle.leaf_hash(d) for d in CT_LEAVES[:size]]).hex() == expected


@pytest.mark.parametrize(("index", "size"), list(CT_INCLUSION))
def test_the_inclusion_proofs_of_the_ct_test_tree(index: int, size: int) -> None:
    proof = merkle.inclusion_plan(index, size).hashes(_tree(CT_LEAVES).read)
    assert [h.hex() for h in proof] == CT_INCLUSION[(index, size)]
    assert verify_inclusion(merkle.leaf_hash(CT_LEAVES[index]), index, size, proof,
                            bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new"), list(CT_CONSISTENCY))
def test_the_consistency_proofs_of_the_ct_test_tree(old: int, new: int) -> None:
    proof = merkle.consistency_plan(old, new).hashes(_tree(CT_LEAVES).read)
    assert [h.hex() for h in proof] == CT_CONSISTENCY[(old, new)]
    assert verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old - 1]),
                              bytes.fromhex(CT_ROOTS[new - 1]), proof)


def test_an_append_writes_a_bounded_number_of_nodes_and_reads_only_its_siblings() -> None:
    tree = StoredTree()
    for n in range(1, 1025):
        written = tree.append(hashlib.sha256(n.to_bytes(4, "big")).digest())
        assert written == 1 + (len(bin(n - 1)) - len(bin(n - 1).rstrip("1")))  # trailing ones
        assert written <= (n - 1).bit_length() + 1
    assert len(tree.nodes) == 2 * 1024 - 1  # every perfect subtree, once
    assert max(tree.reads) == 10
    # building in one pass stores the same nodes, in the order appends write them
    leaves = [tree.nodes[(0, n)] for n in range(1024)]
    built = list(merkle.nodes_of_log(leaves))
    assert {(level, index): value for level, index, value in built} == tree.nodes
    assert [(level, index) for level, index, _ in built][:4] == [(0, 0), (0, 1), (1, 0), (0, 2)]


def test_every_proof_of_a_random_tree_verifies_and_no_altered_one_does() -> None:
    rng = random.Random(17)
    leaves = [rng.randbytes(rng.randrange(0, 40)) for _ in range(260)]
    tree = _tree(leaves)
    hashes = [merkle.leaf_hash(d) for d in leaves]
    roots = [merkle_root(hashes[:n]) for n in range(1, len(leaves) + 1)]
    for size in range(1, len(leaves) + 1):
        root = roots[size - 1]
        assert merkle.root_plan(size).hashes(tree.read) == [root]
        for index in range(size):
            proof = merkle.inclusion_plan(index, size).hashes(tree.read)
            assert verify_inclusion(hashes[index], index, size, proof, root), (index, size)
            assert not verify_inclusion(hashes[index], index, size, proof, roots[0] if
                                        size > 1 else hashes[-1])  # another tree's root
            if index + 1 < size:  # another leaf's hash at this index is refused
                assert not verify_inclusion(hashes[index + 1], index, size, proof, root)
        for old in range(1, size + 1):
            proof = merkle.consistency_plan(old, size).hashes(tree.read)
            assert verify_consistency(old, size, roots[old - 1], root, proof), (old, size)
            if old < size:  # a rewritten old tree (another root) is refused
                assert not verify_consistency(old, size, roots[old - 2] if old > 1 else root,
                                              root, proof)
                assert not verify_consistency(old, size, roots[old - 1], root,
                                              [*proof[:-1], hashes[0]])
    # a proof's reads stay small: O(log n) ranges, each a few stored nodes
    assert max(tree.reads) <= 60


@pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (-1, 4)])
def test_an_inclusion_proof_needs_a_leaf_of_the_tree(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_plan(index, size)


@pytest.mark.parametrize(("old", "new"), [(0, 4), (5, 4), (0, 0)])
def test_a_consistency_proof_needs_two_trees_in_order(old: int, new: int) -> None:
    with pytest.raises(ValueError):
        merkle.consistency_plan(old, new)
