"""Users over the API (issue 16, point 1): `GET /me`, and the instance admin's `GET /users`,
`POST /users`, `POST /users/<name>/key` (anyone for themselves) and `DELETE /users/<name>`.

alice is the instance admin (the first user, as `gonk-api init` makes them); bob and carol are
not. On SQLite + files and PostgreSQL + S3 (the in-process suite's storage kinds)."""

from __future__ import annotations

from typing import Any

from tests.support.api import assert_error
from tests.support.http import Client


def _names(users: list[dict[str, Any]]) -> list[str]:
    return [u["name"] for u in users]


def test_me_says_who_and_whether_admin(alice: Client, bob: Client) -> None:
    assert alice.get("/me").json == {"user": "alice", "admin": True}
    assert bob.get("/me").json == {"user": "bob", "admin": False}


def test_the_admin_lists_users_and_others_may_not(alice: Client, bob: Client) -> None:
    users = alice.get("/users").json
    assert _names(users) == ["alice", "bob"]
    assert [u["admin"] for u in users] == [True, False]
    assert all(u["deleted"] is None and u["created"].endswith("Z") for u in users)
    assert all(set(u) == {"name", "admin", "created", "deleted"} for u in users)  # no key
    assert_error(bob.get("/users"), 403, "instance admin")


def test_the_admin_creates_users_whose_key_works_once_shown(alice: Client, bob: Client,
                                                            app: Any) -> None:
    made = alice.post("/users", {"name": "dora"})
    assert made.status_code == 200, made.json
    assert made.json["name"] == "dora" and made.json["admin"] is False
    dora = Client(app.test_client(), made.json["key"], "dora")
    assert dora.get("/me").json == {"user": "dora", "admin": False}
    assert dora.get("/datasets").status_code == 200
    # the key is never shown again
    assert all("key" not in u for u in alice.get("/users").json)
    # an admin made by an admin may manage users in turn
    made = alice.post("/users", {"name": "erin", "admin": True})
    erin = Client(app.test_client(), made.json["key"], "erin")
    assert erin.get("/me").json["admin"] is True
    assert erin.post("/users", {"name": "fred"}).status_code == 200
    # taken names, bad names and bad fields; a non-admin
    assert_error(alice.post("/users", {"name": "bob"}), 409, "already exists")
    assert_error(alice.post("/users", {"name": "a b"}), 400)
    assert_error(alice.post("/users", {"name": "gina", "admin": "yes"}), 400, "'admin'")
    assert_error(bob.post("/users", {"name": "gina"}), 403, "instance admin")
    assert _names(alice.get("/users").json) == ["alice", "bob", "dora", "erin", "fred"]


def test_rekey_oneself_or_anyone_as_admin(alice: Client, bob: Client, app: Any) -> None:
    old = bob.key
    new = bob.post("/users/bob/key")
    assert new.status_code == 200 and new.json["name"] == "bob"
    assert new.json["key"] != old
    assert_error(bob.get("/me"), 401)  # the old key stopped working at once
    bob = Client(app.test_client(), new.json["key"], "bob")
    assert bob.get("/me").json["user"] == "bob"
    # bob may not rekey alice; alice may rekey bob
    assert_error(bob.post("/users/alice/key"), 403, "instance admin")
    again = alice.post("/users/bob/key")
    assert again.status_code == 200
    assert_error(bob.get("/me"), 401)
    assert Client(app.test_client(), again.json["key"], "bob").get("/me").status_code == 200
    assert_error(alice.post("/users/nobody/key"), 404, "No user named nobody")


def test_a_deleted_user_loses_their_key_at_once_and_keeps_their_name(
        alice: Client, bob: Client, carol: Client, app: Any) -> None:
    assert alice.post("/datasets", {"name": "ds"}).status_code == 200
    assert alice.put("/datasets/ds/owners/bob").status_code == 200
    assert bob.get("/datasets").status_code == 200
    assert_error(carol.delete("/users/bob"), 403, "instance admin")
    gone = alice.delete("/users/bob")
    assert gone.status_code == 200 and gone.json["name"] == "bob"
    assert gone.json["deleted"].endswith("Z")
    assert_error(bob.get("/datasets"), 401)
    # listed as deleted; the name is never given again, nor a key to it
    listed = {u["name"]: u for u in alice.get("/users").json}
    assert listed["bob"]["deleted"] == gone.json["deleted"]
    assert_error(alice.post("/users", {"name": "bob"}), 409, "deleted")
    assert_error(alice.post("/users/bob/key"), 409, "was deleted")
    assert_error(alice.delete("/users/bob"), 409, "was deleted")
    # their name stays in the log: the OwnerAddEvent still names bob, and he is still listed
    # among the owners (issue 16's membership work decides what a deleted owner may do)
    events = alice.get("/datasets/ds/events").json
    assert any(e.get("owner") == "bob" for e in events)
    # a deleted user cannot be made an owner anew
    assert alice.delete("/datasets/ds/owners/bob").status_code == 200
    assert_error(alice.put("/datasets/ds/owners/bob"), 404, "No user named bob")
    # an admin cannot delete themselves (a server keeps an admin); unknown users: 404
    assert_error(alice.delete("/users/alice"), 409, "cannot delete themselves")
    assert_error(alice.delete("/users/nobody"), 404)
    assert alice.get("/me").json == {"user": "alice", "admin": True}


def test_a_deleted_admin_is_no_admin(alice: Client, app: Any) -> None:
    made = alice.post("/users", {"name": "erin", "admin": True})
    erin = Client(app.test_client(), made.json["key"], "erin")
    assert alice.delete("/users/erin").status_code == 200
    assert_error(erin.get("/users"), 401)
