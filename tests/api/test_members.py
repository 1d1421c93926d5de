"""Roles, visibility and four eyes (issue 16, points 2 to 5): a dataset's settings
(`GET`/`PATCH /datasets/<d>`), its members (`/datasets/<d>/members`), what each role may do,
a private dataset that answers as if it did not exist, and the events that record it all.

alice creates "ds" (its owner); bob and carol are users with no role until a test gives one.
On SQLite + files and PostgreSQL + S3 (all four with GONK_TEST_STORAGE=all)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.api import assert_error
from tests.support.http import LABEL_SCHEMA, Client, b64

DS = "/datasets/ds"


def _object(client: Client, name: str, data: bytes) -> Any:
    return client.post(f"{DS}/objects", {"name": name, "mimetype": "text/plain",
                                         "object": b64(data)})


def _pending(client: Client) -> list[dict[str, Any]]:
    return client.get(f"{DS}/events?pending=true").json


def _events(client: Client) -> list[dict[str, Any]]:
    return client.get(f"{DS}/events?limit=1000").json


@pytest.fixture
def made(alice: Client, ds: str) -> str:
    return ds


def test_defaults_keep_the_seed_s_behaviour(alice: Client, bob: Client, made: str) -> None:
    assert alice.get(DS).json == {"dataset": "ds", "visibility": "internal",
                                  "require_other_reviewer": False, "access": "owner"}
    assert bob.get(DS).json["access"] == "annotator"  # internal: anyone proposes
    assert bob.get(f"{DS}/members").json == []
    assert _object(bob, "a.txt", b"a").status_code == 200
    event = _pending(alice)[0]["uuid"]
    assert_error(bob.put(f"{DS}/events/{event}/accept"), 403, "reviewer role")


def test_each_role_may_do_what_it_names(alice: Client, bob: Client, carol: Client,
                                        made: str) -> None:
    assert alice.put(f"{DS}/members/bob", json_body={"role": "viewer"}).json == \
        {"user": "bob", "role": "viewer"}
    assert bob.get(DS).json["access"] == "viewer"
    assert bob.get(f"{DS}/objects").status_code == 200  # reads
    refused = assert_error(_object(bob, "b.txt", b"b"), 403, "annotator role")
    assert "bob is a viewer" in refused["error"]
    # annotator: proposes, does not decide
    alice.put(f"{DS}/members/bob", json_body={"role": "annotator"})
    assert _object(bob, "b.txt", b"b").status_code == 200
    assert bob.post(f"{DS}/schemas", {"name": "schema-x",
                                      "schema": b64(LABEL_SCHEMA)}).status_code == 200
    event = _pending(alice)[0]["uuid"]
    assert_error(bob.put(f"{DS}/events/{event}/accept"), 403, "bob is an annotator")
    # reviewer: decides
    alice.put(f"{DS}/members/bob", json_body={"role": "reviewer"})
    assert bob.put(f"{DS}/events/{event}/accept").status_code == 200
    # only owners manage members and settings; carol is nobody here
    assert_error(bob.put(f"{DS}/members/carol", json_body={"role": "viewer"}), 403, "owner")
    assert_error(bob.patch(DS, {"visibility": "private"}), 403, "owner")
    assert_error(bob.delete(f"{DS}/members/bob"), 403, "owner")
    assert_error(alice.put(f"{DS}/members/nobody", json_body={"role": "viewer"}), 404)
    assert_error(alice.put(f"{DS}/members/alice", json_body={"role": "viewer"}), 409, "owner")
    assert_error(alice.put(f"{DS}/members/bob", json_body={"role": "reviewer"}), 409, "already")
    assert alice.get(f"{DS}/members").json == [{"user": "bob", "role": "reviewer"}]
    assert alice.delete(f"{DS}/members/bob").json == {"user": "bob"}
    assert alice.get(f"{DS}/members").json == []
    assert_error(alice.delete(f"{DS}/members/bob"), 404, "not a member")
    # every change is an event of the chain, with the seed's common fields
    kinds = [(e["type"], e.get("member"), e.get("role")) for e in _events(alice)
             if e["type"].startswith("Member")]
    assert kinds == [("MemberSetEvent", "bob", "viewer"), ("MemberSetEvent", "bob", "annotator"),
                     ("MemberSetEvent", "bob", "reviewer"), ("MemberRemoveEvent", "bob", None)]


def test_a_private_dataset_is_exactly_like_none_for_outsiders(alice: Client, bob: Client,
                                                              carol: Client, made: str) -> None:
    assert _object(alice, "a.txt", b"a").status_code == 200
    obj = alice.get(f"{DS}/objects").json[0]["uuid"]
    event = _pending(alice)[0]["uuid"]
    alice.put(f"{DS}/members/bob", json_body={"role": "viewer"})
    changed = alice.patch(DS, {"visibility": "private"})
    assert changed.json == {"dataset": "ds", "visibility": "private",
                            "require_other_reviewer": False}
    assert [e["type"] for e in _events(alice)][-1] == "DatasetSettingsEvent"
    assert _events(alice)[-1]["visibility"] == "private"
    assert alice.post("/datasets", {"name": "open"}).status_code == 200
    # listed for owners and members only
    assert alice.get("/datasets").json == ["ds", "open"]
    assert bob.get("/datasets").json == ["ds", "open"]
    assert carol.get("/datasets").json == ["open"]
    # every endpoint answers carol as for a dataset that does not exist (same status, same
    # words once the name is swapped), bodies good or bad
    requests = [
        ("GET", "", None), ("PATCH", "", {"visibility": "internal"}),
        ("GET", "/members", None), ("PUT", "/members/carol", {"role": "reviewer"}),
        ("DELETE", "/members/bob", None), ("GET", "/owners", None), ("PUT", "/owners/carol", None),
        ("GET", "/events", None), ("GET", "/events?pending=true", None),
        ("PUT", f"/events/{event}/accept", None), ("GET", "/objects", None),
        ("GET", f"/objects/{obj}", None), ("GET", f"/objects/{obj}/0", None),
        ("GET", f"/objects/{obj}/0/bytes", None), ("GET", f"/objects/{obj}/0/thumbnail", None),
        ("GET", "/objects/pending", None), ("DELETE", f"/objects/{obj}/0", None),
        ("POST", "/objects", {"name": "c.txt", "mimetype": "text/plain", "object": b64(b"c")}),
        ("POST", "/objects", {"name": "", "mimetype": "text/plain", "object": b64(b"c")}),
        ("PATCH", f"/objects/{obj}", {"name": "a.txt", "mimetype": "text/plain",
                                     "object": b64(b"a2")}),
        ("GET", "/schemas", None), ("POST", "/schemas", {"name": "schema-y",
                                                        "schema": b64(LABEL_SCHEMA)}),
        ("GET", "/annotations", None), ("GET", "/stats", None), ("GET", "/releases", None),
        ("POST", "/releases", {"name": "v1"}), ("GET", "/diff", None),
        ("GET", "/export?format=coco&as_of=" + event, None),
    ]
    for method, path, body in requests:
        hidden = carol.request(method, DS + path, body)
        absent = carol.request(method, "/datasets/nope" + path, body)
        assert hidden.status_code == absent.status_code, (method, path, hidden.json)
        assert hidden.status_code in (400, 404), (method, path, hidden.json)
        assert hidden.json == json.loads(json.dumps(absent.json).replace("nope", "ds")), path
        if method == "GET":  # a member (bob, a viewer) reads it
            assert bob.request(method, DS + path, body).status_code != 404, path
    # nothing carol tried was stored
    assert [e["type"] for e in _events(alice)][-1] == "DatasetSettingsEvent"
    # and back: internal again, carol reads it and may propose
    alice.patch(DS, {"visibility": "internal"})
    assert carol.get(DS).json["access"] == "annotator"


def test_four_eyes_stop_accepting_ones_own_change(alice: Client, bob: Client,
                                                  made: str) -> None:
    alice.put(f"{DS}/members/bob", json_body={"role": "reviewer"})
    assert alice.patch(DS, {"require_other_reviewer": True}).json["require_other_reviewer"]
    assert_error(alice.patch(DS, {"require_other_reviewer": True}), 409, "already")
    _object(alice, "a.txt", b"a")
    _object(alice, "b.txt", b"b")
    first, second = (e["uuid"] for e in _pending(alice))
    assert_error(alice.put(f"{DS}/events/{first}/accept"), 403, "another reviewer")
    assert alice.put(f"{DS}/events/{first}/reject").status_code == 200  # withdrawing is fine
    assert bob.put(f"{DS}/events/{second}/accept").status_code == 200
    # bob's own change needs alice (or another reviewer)
    _object(bob, "c.txt", b"c")
    third = _pending(alice)[0]["uuid"]
    assert_error(bob.put(f"{DS}/events/{third}/accept"), 403, "another reviewer")
    assert alice.put(f"{DS}/events/{third}/accept").status_code == 200
    # off again: one reviewer is enough
    alice.patch(DS, {"require_other_reviewer": False})
    _object(alice, "d.txt", b"d")
    assert alice.put(f"{DS}/events/{_pending(alice)[0]['uuid']}/accept").status_code == 200


def test_settings_and_members_refuse_bad_input(alice: Client, made: str) -> None:
    assert_error(alice.patch(DS, {}), 400, "Nothing to change")
    assert_error(alice.patch(DS, {"visibility": "public"}), 400, "'visibility'")
    assert_error(alice.patch(DS, {"colour": "red"}), 400, "Unknown setting")
    assert_error(alice.put(f"{DS}/members/bob", json_body={"role": "owner"}), 400, "'role'")
    before = _events(alice)
    assert_error(alice.patch(DS, {"visibility": "internal"}), 409)  # what it is already
    assert _events(alice) == before


# What each endpoint takes, beyond reading the dataset: "propose" (annotator, reviewer, owner),
# "review" (reviewer, owner), "own" (owner only). Bodies use {obj}, {event}.
WRITES = [
    ("propose", "POST", "/objects", {"name": "w.txt", "mimetype": "text/plain",
                                     "object": b64(b"w")}),
    ("propose", "PATCH", "/objects/{obj}", {"name": "a.txt", "mimetype": "text/plain",
                                           "object": b64(b"a, again")}),
    ("propose", "DELETE", "/objects/{obj}/0", None),
    ("propose", "POST", "/schemas", {"name": "schema-w", "schema": b64(LABEL_SCHEMA)}),
    ("propose", "POST", "/annotations", {"schema": {"name": "schema-label", "version": 0},
                                         "object_identifiers": [{"uuid": "{obj}", "version": 0}],
                                         "annotation": b64({"label": "w"})}),
    ("review", "PUT", "/events/{event}/accept", None),
    ("review", "PUT", "/events/{event}/reject", None),
    ("own", "PUT", "/owners/carol", None),
    ("own", "PUT", "/members/carol", {"role": "viewer"}),
    ("own", "PATCH", "", {"require_other_reviewer": True}),
    ("own", "POST", "/releases", {"name": "r1"}),
]
READS = ["", "/members", "/owners", "/events", "/events?pending=true", "/objects",
         "/objects/{obj}", "/objects/{obj}/0", "/objects/{obj}/0/bytes", "/objects/accepted",
         "/schemas", "/annotations", "/stats", "/releases", "/diff"]
ALLOWED = {"viewer": set(), "annotator": {"propose"}, "reviewer": {"propose", "review"},
           None: {"propose"}}  # None: no role in an internal dataset


def _fill(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value)
    for key, sub in names.items():
        text = text.replace("{" + key + "}", sub)
    return json.loads(text)


@pytest.mark.parametrize("role", ["viewer", "annotator", "reviewer", None])
def test_every_endpoint_under_each_role(alice: Client, bob: Client, made: str,
                                        role: str | None) -> None:
    """bob, with `role` (or none, in an internal dataset), reads everything, and each write
    is refused (403, naming the role it takes) or allowed exactly as his role says. Each write
    runs on a fresh pending change, so that an allowed one has something to act on."""
    assert alice.post(f"{DS}/schemas", {"name": "schema-label",
                                        "schema": b64(LABEL_SCHEMA)}).status_code == 200
    assert _object(alice, "a.txt", b"a").status_code == 200
    for event in _pending(alice):
        alice.put(f"{DS}/events/{event['uuid']}/accept")
    obj = alice.get(f"{DS}/objects").json[0]["uuid"]
    if role is not None:
        alice.put(f"{DS}/members/bob", json_body={"role": role})
    for path in READS:
        got = bob.get(DS + _fill(path, {"obj": obj}))
        assert got.status_code == 200, (role, path, got.json)
    for i, (needs, method, path, body) in enumerate(WRITES):
        assert _object(alice, f"p{i}.txt", f"pending {i}".encode()).status_code == 200
        names = {"obj": obj, "event": _pending(alice)[-1]["uuid"]}
        got = bob.request(method, DS + _fill(path, names), _fill(body, names))
        if needs in ALLOWED[role]:
            assert got.status_code == 200, (role, method, path, got.json)
        else:
            error = assert_error(got, 403)["error"]
            wanted = {"propose": "annotator role", "review": "reviewer role",
                      "own": "owner"}[needs]
            assert wanted in error, (role, method, path, error)
