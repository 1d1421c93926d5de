"""/datasets/<d>/events: the log, its hash chain, pagination, and reviews (accept/reject)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.api import (
    DS,
    HEX64_RE,
    UUID_RE,
    accept,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    events,
    load_object,
    reject,
)
from tests.support.chain import recompute_chain
from tests.support.http import Client, b64

BASE = f"/datasets/{DS}/events"
COMMON = {"uuid", "type", "timestamp", "author", "integrity"}
EXTRA = {
    "OwnerAddEvent": {"owner", "owner_action"},
    "OwnerRemoveEvent": {"owner", "owner_action"},
    "ObjectCreateEvent": {"action", "object"},
    "ObjectUpdateEvent": {"action", "object"},
    "ObjectDeleteEvent": {"action", "object_identifier"},
    "AnnotationCreateEvent": {"action", "annotation", "object_identifiers"},
    "AnnotationUpdateEvent": {"action", "annotation"},
    "AnnotationDeleteEvent": {"action", "annotation_identifier"},
    "ReviewAcceptEvent": {"decision", "event_uuid"},
    "ReviewRejectEvent": {"decision", "event_uuid"},
}
CODES = {
    "OwnerAddEvent": ("owner_action", 1), "OwnerRemoveEvent": ("owner_action", 2),
    "ObjectCreateEvent": ("action", 1), "ObjectUpdateEvent": ("action", 2),
    "ObjectDeleteEvent": ("action", 4), "AnnotationCreateEvent": ("action", 1),
    "AnnotationUpdateEvent": ("action", 2), "AnnotationDeleteEvent": ("action", 4),
    "ReviewAcceptEvent": ("decision", 1), "ReviewRejectEvent": ("decision", 2),
}
OBJECT_META = {"uuid", "version", "name", "format", "size", "hash_type", "hash"}
ANNOTATION_META = {"uuid", "version", "schema", "size", "hash_type", "hash"}


def build_every_event_type(alice, bob):
    """A dataset whose log holds every event type; returns nothing, the log tells all."""
    alice.put(f"/datasets/{DS}/owners/bob")
    alice.delete(f"/datasets/{DS}/owners/bob")
    create_schema(alice)
    accept(alice, event_of(alice, "schemas", "schema-label", 0))
    obj = create_object(bob, b"v0")
    update = {"name": "f", "mimetype": "text/plain", "object": b64(b"v1")}
    assert bob.patch(f"/datasets/{DS}/objects/{obj}", update).status_code == 200
    reject(alice, event_of(alice, "objects", obj, 1))
    assert bob.delete(f"/datasets/{DS}/objects/{obj}/0").status_code == 200
    ann = create_annotation(bob, [(obj, 0)])
    assert bob.patch(f"/datasets/{DS}/annotations/{ann}",
                     {"schema": {"name": "schema-label", "version": 0},
                      "annotation": b64({"label": "x"})}).status_code == 200
    assert bob.delete(f"/datasets/{DS}/annotations/{ann}/0").status_code == 200


def test_events_list_shape_and_keys_per_type(alice, bob, ds):
    build_every_event_type(alice, bob)
    resp = alice.get(BASE + "?limit=1000")
    assert resp.status_code == 200
    log = resp.json
    assert {e["type"] for e in log} == set(EXTRA)
    for event in log:
        assert set(event) == COMMON | EXTRA[event["type"]], event
        key, code = CODES[event["type"]]
        assert event[key] == code
        assert UUID_RE.match(event["uuid"])
        assert HEX64_RE.match(event["integrity"])
        assert event["author"] in ("alice", "bob")
        assert event["timestamp"].endswith("Z")
        datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
        if "object" in event:
            assert set(event["object"]) == OBJECT_META
            assert event["object"]["hash_type"] == 1
        if "annotation" in event:
            assert set(event["annotation"]) == ANNOTATION_META
            assert set(event["annotation"]["schema"]) == {"uuid", "version"}
        for key in ("object_identifier", "annotation_identifier"):
            if key in event:
                assert set(event[key]) == {"uuid", "version"}
        if "object_identifiers" in event:
            assert all(set(i) == {"uuid", "version"} for i in event["object_identifiers"])
    # timestamps never go backwards in log order
    stamps = [e["timestamp"] for e in log]
    assert stamps == sorted(stamps)


def test_events_in_log_order_with_seed_values(alice, bob, ds):
    create_schema(alice)
    log = events(alice)
    assert [e["type"] for e in log] == ["OwnerAddEvent", "ObjectCreateEvent"]
    assert log[0]["owner"] == "alice" and log[0]["owner_action"] == 1
    schema = alice.get(f"/datasets/{DS}/schemas/schema-label/0").json["schema"]
    assert log[1]["object"] == schema
    assert log[1]["action"] == 1


def test_integrity_chain_recomputes(alice, bob, ds):
    build_every_event_type(alice, bob)
    log = events(alice)
    assert len(log) > 10
    recompute_chain(log)


def test_chain_is_per_dataset(alice, bob, ds):
    create_object(alice, b"in ds")
    bob.post("/datasets", {"name": "other"})
    create_object(bob, b"in other", dataset="other")
    recompute_chain(events(alice))
    other = events(bob, "other")
    recompute_chain(other)
    assert other[0]["owner"] == "bob"


def test_any_edit_breaks_the_chain(alice, ds):
    create_object(alice, b"x")
    log = events(alice)
    for key, value in (("author", "mallory"), ("timestamp", "2001-01-01T00:00:00.000000Z"),
                       ("type", "ObjectUpdateEvent")):
        forged = [dict(e) for e in log]
        forged[1][key] = value
        with pytest.raises(AssertionError):
            recompute_chain(forged)


def test_events_never_carry_review_status(alice, ds):
    uuid = create_object(alice, b"x")
    before = events(alice)[1]
    accept(alice, event_of(alice, "objects", uuid, 0))
    after = events(alice)[1]
    assert after == before
    assert "review" not in after


def test_failed_requests_append_nothing(alice, bob, ds):
    uuid = create_object(alice, b"x")
    before = events(alice)
    bob.put(f"{BASE}/{before[-1]['uuid']}/accept")  # 403
    alice.post(f"/datasets/{DS}/objects", {"name": "y", "mimetype": "t", "object": b64(b"x")})
    alice.delete(f"/datasets/{DS}/objects/{uuid}/3")
    alice.put(f"/datasets/{DS}/owners/nobody")
    assert events(alice) == before
    recompute_chain(events(alice))


def test_concurrent_writers_never_fork_the_chain(app, alice, bob, ds):
    from concurrent.futures import ThreadPoolExecutor

    clients = [Client(app.test_client(), c.key, c.user) for c in (alice, bob) * 4]

    def work(index):
        client = clients[index]
        results = []
        for n in range(5):
            resp = client.post(f"/datasets/{DS}/objects",
                               {"name": f"t{index}-{n}", "mimetype": "text/plain",
                                "object": b64(f"thread {index} object {n}")})
            results.append(resp.status_code)
        return results

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        statuses = [s for r in pool.map(work, range(len(clients))) for s in r]
    assert statuses == [200] * 40
    log = events(alice)
    assert len(log) == 41
    assert len({e["uuid"] for e in log}) == 41
    recompute_chain(log)
    assert len(alice.get(f"/datasets/{DS}/objects?limit=1000").json) == 40


# --- pagination ------------------------------------------------------------------------------


def test_event_pagination(alice, ds):
    for i in range(30):
        create_object(alice, f"obj {i}")
    log = events(alice)
    assert len(log) == 31
    assert alice.get(BASE).json == log[:25]
    assert alice.get(f"{BASE}?limit=1").json == log[:1]
    assert alice.get(f"{BASE}?after={log[24]['uuid']}").json == log[25:]
    assert alice.get(f"{BASE}?after={log[-1]['uuid']}").json == []
    for limit in (1, 4, 7, 31):
        collected, after = [], None
        while True:
            query = f"?limit={limit}" + (f"&after={after}" if after else "")
            page = alice.get(BASE + query).json
            if not page:
                break
            assert len(page) <= limit
            collected += page
            after = page[-1]["uuid"]
        assert collected == log
    assert alice.get(f"{BASE}?after={log[3]['uuid'].upper()}&limit=2").json == log[4:6]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "limit=", "after=x",
                                   "after=", "after=" + "a" * 36, "after=" + "z" * 10_000])
def test_bad_event_pagination_is_400(alice, ds, query):
    assert_error(alice.get(f"{BASE}?{query}"), 400)


def test_unknown_event_cursor_is_404(alice, ds):
    assert_error(alice.get(f"{BASE}?after=0d21d5a7-fe93-4618-a122-7ca9a2ee5116"), 404)
    alice.post("/datasets", {"name": "other"})
    foreign = events(alice, "other")[0]["uuid"]
    assert_error(alice.get(f"{BASE}?after={foreign}"), 404)
    # an object uuid is not an event cursor
    uuid = create_object(alice, b"x")
    assert_error(alice.get(f"{BASE}?after={uuid}"), 404)


# --- reviews ---------------------------------------------------------------------------------


def test_accept_and_reject_responses(alice, ds):
    a = create_object(alice, b"a")
    b = create_object(alice, b"b")
    ea, eb = event_of(alice, "objects", a, 0), event_of(alice, "objects", b, 0)
    resp = alice.put(f"{BASE}/{ea}/accept")
    assert resp.status_code == 200 and resp.json == {"uuid": ea}
    resp = alice.put(f"{BASE}/{eb}/reject")
    assert resp.status_code == 200 and resp.json == {"uuid": eb}
    log = events(alice)
    assert log[-2]["type"] == "ReviewAcceptEvent" and log[-2]["event_uuid"] == ea
    assert log[-1]["type"] == "ReviewRejectEvent" and log[-1]["event_uuid"] == eb
    assert log[-1]["decision"] == 2 and log[-1]["author"] == "alice"


def test_double_review_is_409(alice, ds):
    uuid = create_object(alice, b"a")
    event_uuid = event_of(alice, "objects", uuid, 0)
    accept(alice, event_uuid)
    before = events(alice)
    assert_error(alice.put(f"{BASE}/{event_uuid}/accept"), 409, "already")
    assert_error(alice.put(f"{BASE}/{event_uuid}/reject"), 409, "already")
    assert events(alice) == before
    assert load_object(alice, uuid)["events"][0]["review"] == "ACCEPTED"


def test_review_of_review_or_owner_event_is_400(alice, bob, ds):
    alice.put(f"/datasets/{DS}/owners/bob")
    uuid = create_object(alice, b"a")
    accept(alice, event_of(alice, "objects", uuid, 0))
    log = events(alice)
    owner_add, owner_add_bob, review = log[0]["uuid"], log[1]["uuid"], log[-1]["uuid"]
    for target in (owner_add, owner_add_bob, review):
        for verb in ("accept", "reject"):
            assert_error(alice.put(f"{BASE}/{target}/{verb}"), 400)
    assert events(alice) == log
    # the message reads as English: "An OwnerAddEvent", "A ReviewAcceptEvent"
    refused = alice.put(f"{BASE}/{owner_add}/accept").json["error"]
    assert refused.startswith("An OwnerAddEvent cannot be reviewed"), refused
    refused = alice.put(f"{BASE}/{review}/accept").json["error"]
    assert refused.startswith("A ReviewAcceptEvent cannot be reviewed"), refused


def test_non_owner_review_is_403(alice, bob, ds):
    uuid = create_object(bob, b"a")
    event_uuid = event_of(bob, "objects", uuid, 0)
    before = events(alice)
    assert_error(bob.put(f"{BASE}/{event_uuid}/accept"), 403)
    assert_error(bob.put(f"{BASE}/{event_uuid}/reject"), 403)
    # even for an unknown event, a non-owner learns nothing more than 403
    assert_error(bob.put(f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116/accept"), 403)
    assert events(alice) == before


def test_review_unknown_or_foreign_event_is_404(alice, ds):
    assert_error(alice.put(f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116/accept"), 404)
    alice.post("/datasets", {"name": "other"})
    uuid = create_object(alice, b"x", dataset="other")
    foreign = event_of(alice, "objects", uuid, 0, dataset="other")
    assert_error(alice.put(f"{BASE}/{foreign}/accept"), 404)
    assert_error(alice.put(f"/datasets/nope/events/{foreign}/accept"), 404)


def test_review_malformed_event_uuid_is_400(alice, ds):
    for bad in ("abc", "0d21d5a7fe934618a1227ca9a2ee5116", "x" * 36, "x" * 10_000):
        assert_error(alice.put(f"{BASE}/{bad}/accept"), 400)
        assert_error(alice.put(f"{BASE}/{bad}/reject"), 400)


def test_review_with_uppercase_uuid(alice, ds):
    uuid = create_object(alice, b"a")
    event_uuid = event_of(alice, "objects", uuid, 0)
    resp = alice.put(f"{BASE}/{event_uuid.upper()}/reject")
    assert resp.status_code == 200
    assert resp.json == {"uuid": event_uuid}
    assert events(alice)[-1]["event_uuid"] == event_uuid


# --- auth and methods ------------------------------------------------------------------------


def test_every_event_endpoint_needs_a_key(alice, ds):
    uuid = create_object(alice, b"a")
    event_uuid = event_of(alice, "objects", uuid, 0)
    before = events(alice)
    for headers in ({}, {"x-api-key": "nope"}):
        assert_error(alice.get(BASE, headers=headers), 401)
        assert_error(alice.put(f"{BASE}/{event_uuid}/accept", headers=headers), 401)
        assert_error(alice.put(f"{BASE}/{event_uuid}/reject", headers=headers), 401)
    assert events(alice) == before


@pytest.mark.parametrize("method,suffix", [
    ("POST", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/{e}/accept"), ("POST", "/{e}/accept"),
    ("DELETE", "/{e}/reject"), ("PATCH", "/{e}/reject"),
])
def test_wrong_methods_are_405(alice, ds, method, suffix):
    uuid = create_object(alice, b"a")
    event_uuid = event_of(alice, "objects", uuid, 0)
    before = events(alice)
    assert_error(alice.request(method, BASE + suffix.format(e=event_uuid)), 405)
    assert events(alice) == before


def test_unknown_event_routes_are_404(alice, ds):
    uuid = create_object(alice, b"a")
    event_uuid = event_of(alice, "objects", uuid, 0)
    assert_error(alice.get(f"{BASE}/{event_uuid}"), 404)
    assert_error(alice.put(f"{BASE}/{event_uuid}/approve"), 404)
