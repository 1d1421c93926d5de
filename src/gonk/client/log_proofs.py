"""Checking a Gonk server's log without trusting it: signed checkpoints and Merkle proofs.

Everything here works from what the server sends (a checkpoint, a proof, an event) and a
verifier key the user pinned; none of it uses the server's own tree code (gonk.domain.merkle).
The algorithms are RFC 9162's (Certificate Transparency 2.0), sections 2.1.3.2 (inclusion) and
2.1.4.2 (consistency); the formats are C2SP's signed note and tlog-checkpoint.

    key = VerifierKey.parse(open("gonk.vkey").read())          # `gonk-api log-key` printed it
    checkpoint = key.open_checkpoint(text)                      # GET .../checkpoint
    assert verify_inclusion(event_leaf_hash(event), proof["index"], checkpoint.size,
                            decode_hashes(proof["hashes"]), checkpoint.root)

Each check returns a bool or raises `ProofError` with the reason; nothing is half-checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rfc8785

ED25519 = 0x01  # the signature type byte of C2SP signed notes for Ed25519
EM_DASH = "\u2014"


class ProofError(Exception):
    """A checkpoint, a signature or a proof that does not check out; the message says why."""


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _interior(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def event_leaf_hash(event: Mapping[str, Any]) -> bytes:
    """An event's leaf hash: SHA-256(0x00 || RFC 8785 bytes of the event as served, with its
    integrity)."""
    return _sha256(b"\x00" + rfc8785.dumps(dict(event)))


def decode_hashes(encoded: Sequence[str]) -> list[bytes]:
    """A proof's `hashes` (base64) as bytes; ProofError if one is not a 32-byte hash."""
    hashes = []
    for item in encoded:
        try:
            raw = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ProofError(f"{item!r} in the proof is not base64") from None
        if len(raw) != 32:
            raise ProofError(f"{item!r} in the proof is not a SHA-256 hash")
        hashes.append(raw)
    return hashes


def _lsb(value: int) -> bool:
    return value & 1 == 1


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 2.1.3.2: whether `proof` shows leaf hash `leaf` at `index` in the tree of `size`
    leaves whose root is `root`."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if _lsb(fn) or fn == sn:
            r = _interior(p, r)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _interior(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: whether `proof` shows the tree of `old_size` leaves (root `old_root`)
    to be a prefix of the tree of `new_size` leaves (root `new_root`)."""
    if not 1 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while _lsb(fn):
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if _lsb(fn) or fn == sn:
            fr, sr = _interior(c, fr), _interior(c, sr)
            if not _lsb(fn):
                while not _lsb(fn) and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _interior(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


# --- signed checkpoints --------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose signature was checked: the log's origin, its size and root hash, and
    the note's text as signed (for keeping)."""

    origin: str
    size: int
    root: bytes
    text: str


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP signed note: the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key)."""
    return _sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key)[:4]


@dataclass(frozen=True)
class VerifierKey:
    """A pinned Ed25519 verifier key, `name+hex key id+base64(0x01 || key)` (C2SP)."""

    name: str
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        parts = text.strip().split("+", 2)  # (base64 may hold a "+"; the rest never do)
        if len(parts) != 3 or not parts[0]:
            raise ProofError("a verifier key reads NAME+KEYID+KEY (`gonk-api log-key` prints it)")
        name, hex_id, encoded = parts
        try:
            raw = base64.b64decode(encoded, validate=True)
            wanted_id = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise ProofError("the verifier key's id or key is not hex and base64") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise ProofError("the verifier key is not an Ed25519 key")
        key = cls(name, raw[1:])
        if key_id(name, key.public_key) != wanted_id:
            raise ProofError("the verifier key's id does not match its name and key")
        return key

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{key_id(self.name, self.public_key).hex()}+{encoded}"

    def open_note(self, note: str) -> str:
        """The text of a signed note that this key signed; ProofError otherwise."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        text, separator, signatures = note.partition("\n\n")
        if not separator or not signatures.endswith("\n"):
            raise ProofError("not a signed note: no blank line before its signatures")
        text += "\n"
        verifier = Ed25519PublicKey.from_public_bytes(self.public_key)
        wanted_id = key_id(self.name, self.public_key)
        for line in signatures[:-1].split("\n"):
            dash, _, rest = line.partition(" ")
            name, _, encoded = rest.partition(" ")
            if dash != EM_DASH or name != self.name:
                continue
            try:
                signature = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            if signature[:4] != wanted_id:
                continue
            try:
                verifier.verify(signature[4:], text.encode())
            except InvalidSignature:
                raise ProofError(f"the note's signature by {self.name} is not valid: it was "
                                 "altered, or signed by another key") from None
            return text
        raise ProofError(f"the note carries no signature by the key {self.name} "
                         f"({wanted_id.hex()})")

    def open_checkpoint(self, note: str) -> Checkpoint:
        """A checkpoint (C2SP tlog-checkpoint) this key signed, parsed; ProofError otherwise."""
        text = self.open_note(note)
        lines = text.split("\n")
        if len(lines) < 4:
            raise ProofError("a checkpoint has an origin, a size and a root hash line")
        origin, size_line, root_line = lines[:3]
        if not size_line.isdigit() or (size_line != "0" and size_line.startswith("0")):
            raise ProofError(f"the checkpoint's size {size_line!r} is not a number")
        try:
            root = base64.b64decode(root_line, validate=True)
        except (binascii.Error, ValueError):
            raise ProofError("the checkpoint's root hash is not base64") from None
        if len(root) != 32:
            raise ProofError("the checkpoint's root hash is not a SHA-256 hash")
        return Checkpoint(origin, int(size_line), root, note)


# --- following a log's growth without its tree ---------------------------------------------


def chain_integrity(previous: str, event: Mapping[str, Any]) -> str:
    """The event's `integrity` as its predecessor's (`previous`, hex; "" for the first event)
    and its own bytes give it: hex SHA-256(previous digest || RFC 8785 bytes of the event
    without `integrity`)."""
    body = {k: v for k, v in event.items() if k != "integrity"}
    return _sha256(bytes.fromhex(previous) + rfc8785.dumps(body)).hex()


@dataclass
class CompactRange:
    """The right edge of a Merkle tree of `size` leaves: the roots of its perfect subtrees,
    largest (leftmost) first, at most log2(size) + 1 hashes. Enough to append leaves and to
    compute the root of every larger tree, so a monitor that keeps it can check a new
    checkpoint's root against the new events themselves, without the server's tree."""

    size: int = 0
    hashes: list[bytes] | None = None

    def __post_init__(self) -> None:
        if self.hashes is None:
            self.hashes = []
        if len(self.hashes) != bin(self.size).count("1"):
            raise ProofError(f"a compact range of {self.size} leaves has "
                             f"{bin(self.size).count('1')} hashes, not {len(self.hashes)}")

    def append(self, leaf: bytes) -> None:
        """Add the next leaf hash: merge equal-sized subtrees from the right, as binary carry."""
        assert self.hashes is not None
        node, size = leaf, self.size
        while size & 1:
            node = _interior(self.hashes.pop(), node)
            size >>= 1
        self.hashes.append(node)
        self.size += 1

    def root(self) -> bytes:
        """RFC 9162's MTH of the leaves so far (the right edge folded right to left)."""
        assert self.hashes is not None
        if not self.hashes:
            raise ProofError("an empty tree has no root here (a dataset's log never is empty)")
        node = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            node = _interior(left, node)
        return node

    def to_json(self) -> dict[str, Any]:
        assert self.hashes is not None
        return {"size": self.size, "hashes": [base64.b64encode(h).decode() for h in self.hashes]}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CompactRange:
        return cls(int(raw["size"]), decode_hashes(raw["hashes"]))
