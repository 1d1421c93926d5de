"""The users table: API keys are stored only as their sha256 (see gonk/users.py). A deleted user
keeps their row, so that their name (in the logs) is never given to anyone else; their key hash
is replaced by one that no key has."""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.errors import Conflict
from . import tables as t
from .records import USERS, User

_NAME_FOR_KEY_HASH = select(t.users.c.name).where(t.users.c.key_hash == bindparam("p_hash"))
# a key's hash is 64 hex digits: "!" is never in one
DELETED_KEY_HASH_PREFIX = "!"


def insert_one(conn: Connection, user: User) -> None:
    """Conflict if the name is taken, by a deleted user too (also by a concurrent transaction)."""
    try:
        conn.execute(insert(t.users).values(**USERS.insert_params(None, user)))
    except IntegrityError:
        raise Conflict(f"A user named {user.name} already exists"
                       " (or existed: the names of deleted users are not given again).") from None


def insert_all(conn: Connection, users: list[User]) -> None:
    if users:
        conn.execute(insert(t.users), [USERS.insert_params(None, user) for user in users])


def get(conn: Connection, name: str) -> User | None:
    """The user named `name`, deleted or not, or None."""
    row = conn.execute(USERS.select().where(t.users.c.name == name)).first()
    return USERS.from_row(row) if row is not None else None


def set_key_hash(conn: Connection, name: str, key_hash: str) -> bool:
    """Replace a (not deleted) user's key hash; False if there is no such user."""
    result = conn.execute(update(t.users)
                          .where(t.users.c.name == name, t.users.c.deleted_at.is_(None))
                          .values(key_hash=key_hash))
    return bool(result.rowcount)


def mark_deleted(conn: Connection, name: str, at: str) -> bool:
    """Delete a user: their key stops working with this commit; False if there is no such
    user, or they were deleted before."""
    unusable = DELETED_KEY_HASH_PREFIX + hashlib.sha256(name.encode("utf-8")).hexdigest()[:63]
    result = conn.execute(update(t.users)
                          .where(t.users.c.name == name, t.users.c.deleted_at.is_(None))
                          .values(key_hash=unusable, deleted_at=at))
    return bool(result.rowcount)


def exists(conn: Connection, name: str) -> bool:
    """A user by that name who was not deleted."""
    return conn.execute(select(t.users.c.name).where(
        t.users.c.name == name, t.users.c.deleted_at.is_(None))).first() is not None


def names(conn: Connection) -> list[str]:
    """Every user's name but the deleted ones', sorted."""
    return list(conn.execute(select(t.users.c.name).where(t.users.c.deleted_at.is_(None))
                             .order_by(t.users.c.name)).scalars())


def every(conn: Connection) -> list[User]:
    """Every user, deleted ones included, by name."""
    return [USERS.from_row(row) for row in conn.execute(USERS.select().order_by(t.users.c.name))]


def name_for_key_hash(conn: Connection, key_hash: str) -> str | None:
    """The user whose key has this sha256, or None (one indexed lookup)."""
    return conn.execute(_NAME_FOR_KEY_HASH, {"p_hash": key_hash}).scalar()
