"""GET /datasets/<d>/events?pending=true: the events that still await review, as stored, in log
order, paged like the events list."""

from __future__ import annotations

import json
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

BASE = f"/datasets/{DS}/events"
CONTENT_TYPES = {"ObjectCreateEvent", "ObjectUpdateEvent", "ObjectDeleteEvent",
                 "AnnotationCreateEvent", "AnnotationUpdateEvent", "AnnotationDeleteEvent"}


def _pending(client: Client, query: str = "") -> list[dict[str, Any]]:
    resp = client.get(f"{BASE}?pending=true{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    return resp.json


def _uuids(page: list[dict[str, Any]]) -> list[str]:
    return [e["uuid"] for e in page]


def _every_pending_kind(alice: Client, bob: Client) -> dict[str, str]:
    """Proposals of every content event type by bob (schemas and objects accepted first where
    a later proposal needs them); returns {label: event uuid} of those still pending."""
    create_schema(bob)
    accept(alice, event_of(alice, "schemas", "schema-label", 0))
    obj = create_object(bob, "v0", name="bird.txt")
    accept(alice, event_of(alice, "objects", obj, 0))
    resp = bob.patch(f"/datasets/{DS}/objects/{obj}",
                     {"name": "bird.txt", "mimetype": "text/plain", "object": b64("v1")})
    assert resp.status_code == 200, resp.json
    assert bob.delete(f"/datasets/{DS}/objects/{obj}/0").status_code == 200
    ann = create_annotation(bob, [(obj, 0)])
    resp = bob.patch(f"/datasets/{DS}/annotations/{ann}",
                     {"schema": {"name": "schema-label", "version": 0},
                      "annotation": b64({"label": "cat"})})
    assert resp.status_code == 200, resp.json
    accept(alice, event_of(alice, "annotations", ann, 0))
    assert bob.delete(f"/datasets/{DS}/annotations/{ann}/0").status_code == 200
    return {
        "object update": event_of(alice, "objects", obj, 1),
        "object delete": event_of(alice, "objects", obj, 0, "DeleteEvent"),
        "annotation update": event_of(alice, "annotations", ann, 1),
        "annotation delete": event_of(alice, "annotations", ann, 0, "DeleteEvent"),
    }


def test_no_pending_events_in_a_new_dataset(alice, ds):
    assert _pending(alice) == []
    assert [e["type"] for e in events(alice)] == ["OwnerAddEvent"]


def test_pending_lists_exactly_the_events_awaiting_review(alice, bob, ds):
    awaiting = _every_pending_kind(alice, bob)
    log = events(alice)
    page = _pending(alice, "&limit=1000")
    # in log order, each exactly as the events list gives it (the stored JSON, integrity too)
    assert page == [e for e in log if e["uuid"] in set(awaiting.values())]
    assert {e["type"] for e in page} == {"ObjectUpdateEvent", "ObjectDeleteEvent",
                                         "AnnotationUpdateEvent", "AnnotationDeleteEvent"}
    # never owner or review events, never a reviewed one
    reviewed = {e["event_uuid"] for e in log if "event_uuid" in e}
    assert all(e["type"] in CONTENT_TYPES and e["uuid"] not in reviewed for e in page)


def test_the_body_is_the_stored_json(alice, bob, ds):
    create_object(bob, "x")
    pending = alice.get(f"{BASE}?pending=true").get_data(as_text=True)
    everything = alice.get(BASE).get_data(as_text=True)
    # the same text, byte for byte, as the events list sends for that event
    assert pending.startswith("[{") and everything.endswith("," + pending[1:])
    assert json.loads(pending) == json.loads(everything)[-1:]


def test_pending_shrinks_as_events_are_reviewed(alice, bob, ds):
    awaiting = _every_pending_kind(alice, bob)
    order = _uuids(_pending(alice))
    assert sorted(order) == sorted(awaiting.values())
    accept(alice, awaiting["object update"])
    assert _uuids(_pending(alice)) == [u for u in order if u != awaiting["object update"]]
    reject(alice, awaiting["annotation delete"])
    assert _uuids(_pending(alice)) == [u for u in order
                                       if u not in (awaiting["object update"],
                                                    awaiting["annotation delete"])]
    accept(alice, awaiting["object delete"])
    reject(alice, awaiting["annotation update"])
    assert _pending(alice) == []
    # a new proposal appears at the end
    new = create_object(bob, "new bytes")
    assert _uuids(_pending(alice)) == [event_of(alice, "objects", new, 0)]


def test_pending_false_or_absent_is_the_whole_log(alice, bob, ds):
    _every_pending_kind(alice, bob)
    whole = alice.get(f"{BASE}?limit=1000")
    assert whole.status_code == 200
    explicit = alice.get(f"{BASE}?pending=false&limit=1000")
    assert explicit.status_code == 200
    assert explicit.get_data() == whole.get_data()
    assert len(whole.json) > len(_pending(alice, "&limit=1000"))


def test_pending_pages_with_after_and_limit(alice, bob, ds):
    create_schema(bob)
    objects = [create_object(bob, f"object {i}", name=f"{i}.txt") for i in range(9)]
    creates = [event_of(alice, "objects", o, 0) for o in objects]
    schema_event = event_of(alice, "schemas", "schema-label", 0)
    # review some, so that pending events are not contiguous in the log
    for i in (1, 4, 5):
        accept(alice, creates[i])
    reject(alice, creates[7])
    expected = [schema_event] + [c for i, c in enumerate(creates) if i not in (1, 4, 5, 7)]
    assert _uuids(_pending(alice)) == expected
    for limit in (1, 2, 4):
        collected, after = [], None
        while True:
            page = _pending(alice, f"&limit={limit}" + (f"&after={after}" if after else ""))
            assert len(page) <= limit
            if not page:
                break
            collected += _uuids(page)
            after = page[-1]["uuid"]
        assert collected == expected
    # default page size 25
    more = [create_object(bob, f"more {i}") for i in range(25)]
    assert len(_pending(alice)) == 25
    assert _uuids(_pending(alice, f"&after={expected[-1]}")) == \
        [event_of(alice, "objects", o, 0) for o in more]


def test_the_cursor_may_be_any_event_of_the_dataset(alice, bob, ds):
    objects = [create_object(bob, f"object {i}") for i in range(4)]
    creates = [event_of(alice, "objects", o, 0) for o in objects]
    owner_add = events(alice)[0]["uuid"]
    assert _uuids(_pending(alice, f"&after={owner_add}")) == creates
    # an event reviewed since it was read keeps its place in the log
    accept(alice, creates[1])
    assert _uuids(_pending(alice, f"&after={creates[1]}")) == creates[2:]
    # and so does a review event
    review = events(alice)[-1]
    assert review["type"] == "ReviewAcceptEvent"
    assert _pending(alice, f"&after={review['uuid']}") == []
    create_object(bob, "later")
    assert len(_pending(alice, f"&after={review['uuid']}")) == 1


def test_anyone_with_a_key_reads_the_pending_list(alice, bob, ds):
    create_object(alice, "x")
    assert _pending(bob) == _pending(alice)
    assert_error(alice.get(f"{BASE}?pending=true", headers={}), 401)
    assert_error(alice.get(f"{BASE}?pending=true", headers={"x-api-key": "wrong"}), 401)


@pytest.mark.parametrize("query, words", [
    ("pending=yes", "true or false"),
    ("pending=TRUE", "true or false"),
    ("pending=1", "true or false"),
    ("pending=", "true or false"),
    ("pending=true&after=nope", "after"),
    ("pending=true&limit=0", "limit"),
    ("pending=true&limit=1001", "limit"),
    ("pending=true&limit=x", "limit"),
])
def test_bad_values_are_400(alice, ds, query, words):
    assert_error(alice.get(f"{BASE}?{query}"), 400, words)


def test_unknown_cursor_or_dataset_is_404(alice, ds):
    assert_error(alice.get(f"{BASE}?pending=true&after=00000000-0000-4000-8000-000000000000"),
                 404, "after")
    alice.post("/datasets", {"name": "other"})
    foreign = events(alice, "other")[0]["uuid"]
    assert_error(alice.get(f"{BASE}?pending=true&after={foreign}"), 404)
    assert_error(alice.get("/datasets/nope/events?pending=true"), 404)
