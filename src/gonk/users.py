"""Users and API keys. A key is shown once and stored only as its sha256."""

from __future__ import annotations

import hashlib
import secrets

from .domain import validation
from .domain.errors import NotFound
from .domain.events import now
from .installation import Installation
from .storage import users
from .storage.records import User


def new_key() -> str:
    return secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def add_user(installation: Installation, name: str) -> str:
    """Create a user (Conflict if the name is taken); returns their new key."""
    validation.username(name)
    key = new_key()
    with installation.db.write() as conn:
        users.insert_one(conn, User(name, key_hash(key), now()))
    return key


def rekey_user(installation: Installation, name: str) -> str:
    validation.username(name)
    key = new_key()
    with installation.db.write() as conn:
        if not users.set_key_hash(conn, name, key_hash(key)):
            raise NotFound(f"No user named {name}.")
    return key


def list_users(installation: Installation) -> list[str]:
    with installation.db.read() as conn:
        return users.names(conn)


def user_for_key(installation: Installation, key: str) -> str | None:
    """Looked up on every request (no cache), so a rekey takes effect at once."""
    with installation.db.single_statement() as conn:
        return users.name_for_key_hash(conn, key_hash(key))
