"""The installation's log signing key and the checkpoints it signs (C2SP signed notes).

A **checkpoint** says "dataset D's log has N events and its Merkle tree's root is R" (C2SP
tlog-checkpoint), signed with the installation's Ed25519 key (C2SP signed-note):

    gonk.example.org/datasets/birds        <- origin: the key's origin, /datasets/, the name
    1234                                   <- tree size: the number of events
    2kq3...base64 of the root hash...=     <- RFC 9162 root of the tree of those events
                                           <- a blank line, then one signature line:
    — gonk.example.org AbCd...base64 of (4-byte key id || 64-byte signature)...

The key is made by `init` (or by `migrate` for an installation from before it) and kept in the
database (storage/tables.py: log_keys); only its public half is ever served, as a verifier key
`gonk.example.org+<key id>+<base64>` (`gonk-api log-key`, GET /log-key). Its origin is chosen
once: `--log-origin`, else $GONK_LOG_ORIGIN, else this machine's host name. Clients check
checkpoints with gonk.client.log_proofs, which shares no code with this module.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket

from sqlalchemy import Connection, insert, select, update

from .domain import events as ev
from .domain import merkle
from .storage import merkle as stored_tree
from .storage import tables as t
from .storage.records import LOG_KEYS, LogKey

ORIGIN_ENV = "GONK_LOG_ORIGIN"
_ED25519 = b"\x01"
_EM_DASH = "\u2014"


class NoSigningKey(Exception):
    """The installation has no log key yet: `gonk-api migrate` makes it."""


def check_origin(origin: str) -> str:
    """An origin as a signed note's key name needs it: printable ASCII without spaces or '+'
    (C2SP), at most 200 characters; ValueError with the reason."""
    if not origin or len(origin) > 200:
        raise ValueError("The log origin must be 1 to 200 characters long.")
    if any(not ("!" <= c <= "~") or c == "+" for c in origin):
        raise ValueError(f"The log origin {origin!r} must be printable ASCII without spaces or "
                         "'+' (for example gonk.example.org).")
    return origin


def default_origin() -> str:
    """$GONK_LOG_ORIGIN, else this machine's fully qualified host name."""
    return os.environ.get(ORIGIN_ENV) or socket.getfqdn() or "localhost"


def current_key(conn: Connection) -> LogKey:
    row = conn.execute(LOG_KEYS.select().order_by(t.log_keys.c.id.desc()).limit(1)).first()
    if row is None:
        raise NoSigningKey("This installation has no log signing key yet: run `gonk-api "
                           "migrate`.")
    return LOG_KEYS.from_row(row)


def ensure_key(conn: Connection, origin: str | None = None) -> tuple[LogKey, bool]:
    """The installation's key, made now (with `origin`, else the default) if it has none;
    and whether it was made now. An existing key keeps its origin: checkpoints already handed
    out name it."""
    try:
        return current_key(conn), False
    except NoSigningKey:
        pass
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    chosen = check_origin(origin or default_origin())
    private = Ed25519PrivateKey.generate()
    conn.execute(insert(t.log_keys).values(
        origin=chosen, private_key=private.private_bytes_raw(),
        public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        created_at=ev.now()))
    return current_key(conn), True


def key_id(key: LogKey) -> bytes:
    return hashlib.sha256(key.origin.encode() + b"\n" + _ED25519 + key.public_key).digest()[:4]


def verifier_key(key: LogKey) -> str:
    """The public key as a C2SP verifier key: name+key id (hex)+base64(0x01 || key)."""
    encoded = base64.b64encode(_ED25519 + key.public_key).decode()
    return f"{key.origin}+{key_id(key).hex()}+{encoded}"


def sign_note(key: LogKey, text: str) -> str:
    """`text` (ending in a newline) as a signed note with this key's signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signature = Ed25519PrivateKey.from_private_bytes(key.private_key).sign(text.encode())
    encoded = base64.b64encode(key_id(key) + signature).decode()
    return f"{text}\n{_EM_DASH} {key.origin} {encoded}\n"


def dataset_origin(key: LogKey, dataset: str) -> str:
    return f"{key.origin}/datasets/{dataset}"


def tree_root(conn: Connection, dataset_id: int, size: int) -> bytes:
    return stored_tree.hashes(conn, dataset_id, merkle.root_plan(size))[0]


def checkpoint(conn: Connection, dataset_id: int, dataset: str, size: int) -> str:
    """The signed checkpoint of the dataset's first `size` events (1 <= size <= its count)."""
    key = current_key(conn)
    root = base64.b64encode(tree_root(conn, dataset_id, size)).decode()
    return sign_note(key, f"{dataset_origin(key, dataset)}\n{size}\n{root}\n")


def sign_release_checkpoints(conn: Connection) -> int:
    """Record the checkpoint of every release that has none (made before the verifiable log);
    how many."""
    r, d = t.releases.c, t.datasets.c
    rows = conn.execute(select(r.id, r.dataset_id, r.event_seq, d.name)
                        .join(t.datasets, d.id == r.dataset_id)
                        .where(r.checkpoint.is_(None)).order_by(r.id)).all()
    for row in rows:
        conn.execute(update(t.releases).where(r.id == row.id).values(
            checkpoint=checkpoint(conn, row.dataset_id, row.name, row.event_seq)))
    return len(rows)

