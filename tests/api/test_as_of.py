"""?as_of=<event uuid or release name> on every read of objects, schemas, annotations and
events: the answer is exactly what the same request answered right after that event.

The main test records what every read answers at several points of a history (statuses going
pending -> accepted -> pending deletion -> deleted, a rejection, updates, one that renames, a
schema name passing to a new schema, a deprecation), then asks the same reads with ?as_of= at
the end and compares them, answer for answer."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.support.api import (
    DS,
    accept,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    events,
    reject,
)
from tests.support.http import Client, b64

# Every storage combination meets these reads in the property test and the storage tests;
# here the embedded default and the other extreme (the suite is near its time budget).
pytestmark = pytest.mark.parametrize("storage_kind", ["sqlite-files", "postgres-s3"],
                                     indirect=True)

D = f"/datasets/{DS}"
UNKNOWN = "0d21d5a7-fe93-4618-a122-7ca9a2ee5116"
DATA = [b"o v0", b"o v1", b"r v0", b"k v0"]
SHA_O0 = hashlib.sha256(DATA[0]).hexdigest()


def _with(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


def _answer(client: Client, url: str) -> tuple[Any, ...]:
    resp = client.get(url)
    body = resp.json if resp.mimetype == "application/json" else resp.get_data()
    return (resp.status_code, resp.mimetype, resp.headers.get("Content-Disposition"), body)


def _reads(client: Client) -> list[str]:
    """The reads to compare: each kind of read once, for every item there is now (and an
    object's next version, which does not exist yet)."""
    urls = [f"{D}/objects", f"{D}/objects?name=o.txt", f"{D}/schemas", f"{D}/annotations",
            f"{D}/annotations?schema=schema-label", f"{D}/events?limit=1000",
            f"{D}/events?pending=true", f"{D}/schemas/schema-label", f"{D}/schemas/schema-x",
            f"{D}/schemas/schema-label/0", f"{D}/schemas/schema-x/0",
            f"{D}/schemas/schema-x/0/bytes", f"{D}/objects?hash={SHA_O0}"]
    for status in ("accepted", "pending", "deleted", "rejected"):
        urls += [f"{D}/objects/{status}", f"{D}/annotations/{status}"]
    for status in ("accepted", "pending", "deprecated", "rejected"):
        urls.append(f"{D}/schemas/{status}")
    objects = client.get(f"{D}/objects?limit=1000").json
    annotations = client.get(f"{D}/annotations?limit=1000").json
    log = client.get(f"{D}/events?limit=1000").json
    urls += [f"{D}/objects?after={objects[0]['uuid']}&limit=1",
             f"{D}/events?after={log[0]['uuid']}&limit=3"]
    for item in objects:
        urls.append(f"{D}/objects/{item['uuid']}")
        urls += [f"{D}/objects/{item['uuid']}/{v}" for v in range(item["versions"] + 1)]
    urls.append(f"{D}/objects/{objects[0]['uuid']}/0/bytes")
    for item in annotations:
        urls.append(f"{D}/annotations/{item['uuid']}")
        urls += [f"{D}/annotations/{item['uuid']}/{v}" for v in range(item["versions"])]
        urls.append(f"{D}/annotations/{item['uuid']}/0/bytes")
    return urls


def _statuses(client: Client, kind: str, uuid: str, version: int, point: str) -> set[str]:
    words = ("accepted", "pending", "deleted", "rejected")
    return {s for s in words
            if {"uuid": uuid, "version": version}
            in client.get(f"{D}/{kind}/{s}?limit=1000&as_of={point}").json}


def test_every_read_as_of_a_point_answers_as_it_did_then(alice, bob, ds):
    recorded: list[tuple[str, dict[str, Any]]] = []  # (point, {url: answer then})

    def record(resp: Any = None) -> str:
        """Record every read right after the latest event (made by `resp`, checked); return
        the event's uuid."""
        if resp is not None:
            assert resp.status_code == 200, resp.get_data(as_text=True)
        point = events(alice)[-1]["uuid"]
        recorded.append((point, {url: _answer(alice, url) for url in _reads(alice)}))
        return point

    p_empty = events(alice)[-1]["uuid"]
    create_schema(alice)
    accept(alice, event_of(alice, "schemas", "schema-label", 0))
    o = create_object(bob, DATA[0], "o.txt")
    p_o_pending = record()
    accept(alice, event_of(alice, "objects", o, 0))
    p_o_accepted = events(alice)[-1]["uuid"]
    r = create_object(bob, DATA[2], "r.txt")
    reject(alice, event_of(alice, "objects", r, 0))
    p_r_rejected = events(alice)[-1]["uuid"]
    n = create_annotation(bob, [(o, 0)], {"label": "bird"})
    accept(alice, event_of(alice, "annotations", n, 0))
    record(bob.patch(f"{D}/annotations/{n}", {"schema": {"name": "schema-label", "version": 0},
                                               "annotation": b64({"label": "cat"})}))
    assert bob.patch(f"{D}/objects/{o}", {"name": "p.txt", "mimetype": "text/plain",
                                           "object": b64(DATA[1])}).status_code == 200
    accept(alice, event_of(alice, "objects", o, 1))
    p_o1 = events(alice)[-1]["uuid"]
    k = create_object(alice, DATA[3], "k.txt")
    accept(alice, event_of(alice, "objects", k, 0))
    p_delete_asked = record(bob.delete(f"{D}/objects/{o}/0"))
    accept(alice, event_of(alice, "objects", o, 0, "DeleteEvent"))
    p_deleted = events(alice)[-1]["uuid"]
    s1 = create_schema(alice, "schema-x")["uuid"]
    p_s1 = record()
    reject(alice, event_of(alice, "schemas", "schema-x", 0))
    s2 = create_schema(alice, "schema-x", {"type": "object"})["uuid"]
    p_s2 = events(alice)[-1]["uuid"]
    accept(alice, event_of(alice, "schemas", "schema-x", 0))
    assert alice.delete(f"{D}/schemas/schema-x/0").status_code == 200
    accept(alice, events(alice)[-1]["uuid"])

    # The history did what the comparisons rely on: statuses as they were at each point.
    assert _statuses(alice, "objects", o, 0, p_o_pending) == {"pending"}
    assert _statuses(alice, "objects", o, 0, p_o_accepted) == {"accepted"}
    assert _statuses(alice, "objects", o, 0, p_delete_asked) == {"accepted", "pending"}
    assert _statuses(alice, "objects", o, 0, p_deleted) == {"deleted"}
    assert _statuses(alice, "objects", r, 0, p_o_accepted) == set()
    assert _statuses(alice, "objects", r, 0, p_r_rejected) == {"rejected"}
    assert alice.get(f"{D}/schemas/schema-x?as_of={p_s1}").json["uuid"] == s1
    assert alice.get(f"{D}/schemas/schema-x?as_of={p_s2}").json["uuid"] == s2
    assert alice.get(f"{D}/schemas/schema-x/0?as_of={p_s2}").json["schema"]["uuid"] == s2
    assert alice.get(f"{D}/schemas/schema-x").json["uuid"] == s2 != s1
    assert alice.get(f"{D}/schemas/deprecated").json == [
        {"uuid": s2, "name": "schema-x", "version": 0}]
    assert alice.get(f"{D}/schemas/deprecated?as_of={p_s1}").json == []
    # a version (or an item) created after the point is 404
    for url in (f"{D}/objects/{o}/1", f"{D}/objects/{o}/1/bytes"):
        assert alice.get(url).status_code == 200
        assert_error(alice.get(f"{url}?as_of={p_o_accepted}"), 404)
    for url in (f"{D}/objects/{o}", f"{D}/objects/{o}/0", f"{D}/objects/{o}/0/bytes",
                f"{D}/annotations/{n}", f"{D}/annotations/{n}/0"):
        assert_error(alice.get(f"{url}?as_of={p_empty}"), 404)
    assert alice.get(f"{D}/objects/{o}?as_of={p_o_accepted}").json == {"uuid": o, "versions": 1}
    assert alice.get(f"{D}/objects/{o}?as_of={p_o1}").json == {"uuid": o, "versions": 2}
    # a load lists the events up to the point, with the review they had then
    then = alice.get(f"{D}/objects/{o}/0?as_of={p_o_pending}").json
    assert [(e["type"], e["review"]) for e in then["events"]] == [
        ("ObjectCreateEvent", "PENDING")]  # its acceptance came later
    assert then["annotations"] == []
    now = alice.get(f"{D}/objects/{o}/0").json
    assert [(e["type"], e["review"]) for e in now["events"]] == [
        ("ObjectCreateEvent", "ACCEPTED"), ("ReviewAcceptEvent", None),
        ("ObjectDeleteEvent", "ACCEPTED"), ("ReviewAcceptEvent", None)]
    assert now["annotations"] == [{"uuid": n, "versions": 2}]

    # Every read, as of every point, answers what it answered then (the uuid in any case).
    compared = 0
    for i, (point, answers) in enumerate(recorded):
        named = point.upper() if i % 2 else point
        for url, answer in answers.items():
            assert _answer(alice, _with(url, f"as_of={named}")) == answer, (i, url)
            compared += 1
    assert compared > 150


def test_as_of_release_names_paging_and_errors(alice, bob, ds):
    o = create_object(alice, b"one", "one.txt")
    accept(alice, event_of(alice, "objects", o, 0))
    p = create_object(alice, b"two", "two.txt")
    first_events = events(alice)
    point = first_events[-1]["uuid"]
    resp = alice.post(f"{D}/releases", {"name": "v1"})
    assert resp.status_code == 200, resp.json
    q = create_object(alice, b"three", "three.txt")
    accept(alice, event_of(alice, "objects", p, 0))
    late_event = events(alice)[-1]["uuid"]

    # a release name reads at its point, like the event's uuid
    reads = [f"{D}/objects", f"{D}/objects/pending", f"{D}/objects/accepted",
             f"{D}/objects/{o}", f"{D}/objects/{p}/0", f"{D}/events?limit=1000",
             f"{D}/events?pending=true"]
    for url in reads:
        by_name = alice.get(_with(url, "as_of=v1"))
        assert by_name.status_code == 200, (url, by_name.json)
        assert by_name.json == alice.get(_with(url, f"as_of={point}")).json, url
    assert alice.get(f"{D}/events?as_of=v1&limit=1000").json == first_events
    assert [e["uuid"] for e in alice.get(f"{D}/events?pending=true&as_of=v1").json] == [
        event_of(alice, "objects", p, 0)]
    assert alice.get(f"{D}/objects/pending?as_of=v1").json == [{"uuid": p, "version": 0}]
    assert alice.get(f"{D}/objects/pending").json == [{"uuid": q, "version": 0}]
    assert_error(alice.get(f"{D}/objects/{q}?as_of=v1"), 404)
    # a load without its bytes points to the bytes as of the same point
    load = alice.get(f"{D}/objects/{p}/0?bytes=false&as_of=v1").json
    assert load["bytes"] is None and load["bytes_url"].endswith("?as_of=v1")
    assert alice.get(load["bytes_url"]).get_data() == b"two"

    # paging with after and limit at a point: the pages make the whole list then
    whole = alice.get(f"{D}/objects?as_of=v1").json
    assert [i["uuid"] for i in whole] == [o, p]
    pages: list[Any] = []
    cursor = ""
    while page := alice.get(f"{D}/objects?as_of=v1&limit=1{cursor}").json:
        pages += page
        cursor = f"&after={page[-1]['uuid']}"
    assert pages == whole
    log = alice.get(f"{D}/events?as_of={point}&limit=2").json
    rest = alice.get(f"{D}/events?as_of={point}&after={log[-1]['uuid']}&limit=1000").json
    assert log + rest == first_events
    # a cursor that did not exist yet at the point is unknown there, as it was then
    assert_error(alice.get(f"{D}/objects?as_of=v1&after={q}"), 404)
    assert_error(alice.get(f"{D}/objects/pending?as_of=v1&after={q}"), 404)
    assert_error(alice.get(f"{D}/events?as_of=v1&after={late_event}"), 404)

    # errors: 400 for neither an event uuid nor a release name, 404 for an unknown point
    assert alice.post("/datasets", {"name": "other"}).status_code == 200
    elsewhere = events(alice, "other")[0]["uuid"]
    endpoints = [f"{D}/objects", f"{D}/objects/pending", f"{D}/objects/{o}",
                 f"{D}/objects/{o}/0", f"{D}/objects/{o}/0/bytes",
                 f"{D}/objects?hash={hashlib.sha256(b'one').hexdigest()}",
                 f"{D}/schemas", f"{D}/schemas/accepted", f"{D}/annotations",
                 f"{D}/annotations/rejected", f"{D}/events", f"{D}/events?pending=true"]
    for url in endpoints:
        for bad in (".x", "a b", "", "x" * 129, "-" + UNKNOWN[1:]):
            assert_error(alice.get(_with(url, f"as_of={bad}")), 400)
        for unknown in (UNKNOWN, elsewhere, "v9", o):
            assert_error(alice.get(_with(url, f"as_of={unknown}")), 404)
    for url in (f"{D}/schemas/schema-label", f"{D}/schemas/schema-label/0",
                f"{D}/annotations/{UNKNOWN}/0/bytes"):
        assert_error(alice.get(_with(url, "as_of=.x")), 400)
        assert_error(alice.get(_with(url, f"as_of={elsewhere}")), 404)
    # reading as of a point is for anyone who may read, owner or not
    assert bob.get(f"{D}/objects?as_of=v1").json == whole
