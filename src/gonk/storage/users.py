"""The users table: API keys are stored only as their sha256 (see gonk/users.py)."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.errors import Conflict
from . import tables as t
from .records import USERS, User

_NAME_FOR_KEY_HASH = select(t.users.c.name).where(t.users.c.key_hash == bindparam("p_hash"))


def insert_one(conn: Connection, user: User) -> None:
    """Conflict if the name is taken (also by a concurrent transaction)."""
    try:
        conn.execute(insert(t.users).values(**USERS.insert_params(None, user)))
    except IntegrityError:
        raise Conflict(f"A user named {user.name} already exists.") from None


def insert_all(conn: Connection, users: list[User]) -> None:
    if users:
        conn.execute(insert(t.users), [USERS.insert_params(None, user) for user in users])


def set_key_hash(conn: Connection, name: str, key_hash: str) -> bool:
    """Replace a user's key hash; False if there is no such user."""
    result = conn.execute(update(t.users).where(t.users.c.name == name)
                          .values(key_hash=key_hash))
    return bool(result.rowcount)


def exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(t.users.c.name).where(t.users.c.name == name)).first() is not None


def names(conn: Connection) -> list[str]:
    """Every user's name, sorted."""
    return list(conn.execute(select(t.users.c.name).order_by(t.users.c.name)).scalars())


def every(conn: Connection) -> list[User]:
    return [USERS.from_row(row) for row in conn.execute(USERS.select().order_by(t.users.c.name))]


def name_for_key_hash(conn: Connection, key_hash: str) -> str | None:
    """The user whose key has this sha256, or None (one indexed lookup)."""
    return conn.execute(_NAME_FOR_KEY_HASH, {"p_hash": key_hash}).scalar()
