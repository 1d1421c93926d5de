"""Users and API keys. A key is shown once and stored only as its sha256.

Instance admins (the user `gonk-api init` makes, and those made with `--admin` or by an admin
with `"admin": true`) manage users over the API: list, create, rekey, delete. Every user may
rekey themselves. A deleted user's key stops working with the commit that deletes them; their
name stays (it is in the logs) and is never given to anyone else. An admin cannot delete
themselves, so a server always keeps at least one admin.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from .domain import validation
from .domain.errors import Conflict, Forbidden, NotFound
from .domain.events import now
from .installation import Installation
from .storage import users
from .storage.records import User


def new_key() -> str:
    return secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def describe(user: User) -> dict[str, Any]:
    """A user as the API shows them (never their key or its hash)."""
    return {"name": user.name, "admin": user.admin, "created": user.created_at,
            "deleted": user.deleted_at}


def add_user(installation: Installation, name: str, admin: bool = False) -> str:
    """Create a user (Conflict if the name is taken, by a deleted user too); returns their new
    key."""
    validation.username(name)
    key = new_key()
    with installation.db.write() as conn:
        users.insert_one(conn, User(name, key_hash(key), now(), admin=admin))
    return key


def rekey_user(installation: Installation, name: str) -> str:
    """A new key for `name` (the old one stops working with this commit)."""
    validation.username(name)
    key = new_key()
    with installation.db.write() as conn:
        if not users.set_key_hash(conn, name, key_hash(key)):
            _missing_or_deleted(conn, name)
    return key


def _missing_or_deleted(conn: Any, name: str) -> None:
    user = users.get(conn, name)
    if user is None:
        raise NotFound(f"No user named {name}.")
    raise Conflict(f"User {name} was deleted ({user.deleted_at}).")


def list_users(installation: Installation) -> list[str]:
    """The names of the users who were not deleted, sorted."""
    with installation.db.read() as conn:
        return users.names(conn)


def user_for_key(installation: Installation, key: str) -> str | None:
    """Looked up on every request (no cache), so a rekey or a deletion takes effect at once."""
    with installation.db.single_statement() as conn:
        return users.name_for_key_hash(conn, key_hash(key))


def is_admin(installation: Installation, name: str) -> bool:
    with installation.db.read() as conn:
        user = users.get(conn, name)
    return user is not None and user.admin and user.deleted_at is None


# --- over the API: what an admin (or, for their own key, any user) may do -----------------------


def require_admin(installation: Installation, actor: str, doing: str) -> None:
    if not is_admin(installation, actor):
        raise Forbidden(f"Only an instance admin may {doing}; {actor} is not one.")


def me(installation: Installation, actor: str) -> dict[str, Any]:
    return {"user": actor, "admin": is_admin(installation, actor)}


def all_users(installation: Installation, actor: str) -> list[dict[str, Any]]:
    """Every user, the deleted ones included (with when), by name."""
    require_admin(installation, actor, "list users")
    with installation.db.read() as conn:
        return [describe(user) for user in users.every(conn)]


def create_user(installation: Installation, actor: str, name: str,
                admin: bool) -> dict[str, Any]:
    require_admin(installation, actor, "create users")
    key = add_user(installation, name, admin)
    return {"name": name, "admin": admin, "key": key}


def new_key_for(installation: Installation, actor: str, name: str) -> dict[str, Any]:
    if name != actor:
        require_admin(installation, actor, "give another user a new key")
    return {"name": name, "key": rekey_user(installation, name)}


def delete_user(installation: Installation, actor: str, name: str) -> dict[str, Any]:
    """Over the API: an admin deletes another user."""
    require_admin(installation, actor, "delete users")
    validation.username(name)
    if name == actor:
        raise Conflict("An admin cannot delete themselves (a server keeps at least one admin); "
                       "ask another admin.")
    return {"name": name, "deleted": remove_user(installation, name)}


def remove_user(installation: Installation, name: str) -> str:
    """Delete user `name` (their key stops working with this commit); returns when. Never the
    last admin: a server always keeps one (`gonk-api users add NAME --admin` makes another)."""
    validation.username(name)
    at = now()
    with installation.db.write() as conn:
        user = users.get(conn, name)
        if user is None or user.deleted_at is not None:
            _missing_or_deleted(conn, name)
        assert user is not None
        if user.admin and not any(other.admin and other.deleted_at is None
                                  and other.name != name for other in users.every(conn)):
            raise Conflict(f"{name} is the last instance admin; make another admin first.")
        users.mark_deleted(conn, name, at)
    return at
