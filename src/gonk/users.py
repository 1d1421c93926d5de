"""Users and API keys. A key is shown once and stored only as its sha256."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from .domain import validation
from .domain.errors import Conflict, NotFound
from .domain.events import now
from .instance import Instance
from .storage import tables as t


def new_key() -> str:
    return secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def add_user(instance: Instance, name: str) -> str:
    validation.username(name)
    key = new_key()
    try:
        with instance.db.write() as conn:
            if conn.execute(select(t.users.c.name).where(t.users.c.name == name)).first():
                raise Conflict(f"A user named {name} already exists.")
            conn.execute(insert(t.users).values(
                name=name, key_hash=key_hash(key), created_at=now()))
    except IntegrityError:
        raise Conflict(f"A user named {name} already exists.") from None
    return key


def rekey_user(instance: Instance, name: str) -> str:
    validation.username(name)
    key = new_key()
    with instance.db.write() as conn:
        result = conn.execute(update(t.users).where(t.users.c.name == name)
                              .values(key_hash=key_hash(key)))
        if result.rowcount == 0:
            raise NotFound(f"No user named {name}.")
    return key


def list_users(instance: Instance) -> list[str]:
    with instance.db.read() as conn:
        return list(conn.execute(select(t.users.c.name).order_by(t.users.c.name)).scalars())


USER_FOR_KEY = select(t.users.c.name).where(t.users.c.key_hash == bindparam("p_hash"))


def user_for_key(instance: Instance, key: str) -> str | None:
    """Looked up on every request (no cache), so a rekey takes effect at once."""
    return instance.db.read_one(USER_FOR_KEY, {"p_hash": key_hash(key)})


def user_exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(t.users.c.name).where(t.users.c.name == name)).first() is not None
