"""The work queue (issue 16, point 6): claims to annotate and to review, leases that expire on
a clock the test controls, extend and give back, priorities and assignees, work that ends its
lease, and the report. alice owns "ds"; bob and carol are users (annotators of the internal
dataset unless a test gives them a role). On SQLite + files and PostgreSQL + S3 (all four
with GONK_TEST_STORAGE=all)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import assert_error
from tests.support.http import LABEL_SCHEMA, Client, b64

DS = "/datasets/ds"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(installation: Any) -> FakeClock:
    fake = FakeClock()
    installation.clock = fake
    return fake


def _accept_all(alice: Client) -> None:
    for event in alice.get(f"{DS}/events?pending=true&limit=1000").json:
        assert alice.put(f"{DS}/events/{event['uuid']}/accept").status_code == 200


@pytest.fixture
def queued(alice: Client, ds: str, clock: FakeClock) -> list[str]:
    """schema-label and five accepted text objects, oldest first; their uuids."""
    alice.post(f"{DS}/schemas", {"name": "schema-label", "schema": b64(LABEL_SCHEMA)})
    uuids = []
    for i in range(5):
        made = alice.post(f"{DS}/objects", {"name": f"o{i}.txt", "mimetype": "text/plain",
                                            "object": b64(f"object {i}".encode())})
        uuids.append(made.json["uuid"])
    _accept_all(alice)
    return uuids


def _claim(client: Client, **body: Any) -> Any:
    return client.post(f"{DS}/queue/claim", {"task": "annotate", "schema": "schema-label",
                                             **body})


def _annotate(client: Client, obj: str) -> Any:
    return client.post(f"{DS}/annotations", {
        "schema": {"name": "schema-label", "version": 0},
        "object_identifiers": [{"uuid": obj, "version": 0}],
        "annotation": b64({"label": "x"})})


def test_claims_hand_out_each_object_once_oldest_first(alice: Client, bob: Client,
                                                       carol: Client, queued: list[str]) -> None:
    first = _claim(bob).json
    assert first["item"]["object"] == {"uuid": queued[0], "version": 0, "name": "o0.txt"}
    assert first["item"]["schema"]["name"] == "schema-label"
    assert first["lease"]["task"] == "annotate" and first["lease"]["expires"].endswith("Z")
    claimed = [first["item"]["object"]["uuid"]]
    claimed += [_claim(c).json["item"]["object"]["uuid"] for c in (carol, bob, carol, alice)]
    assert claimed == queued  # five claimers, five distinct objects, in creation order
    assert _claim(bob).json == {"lease": None, "item": None}
    report = alice.get(f"{DS}/queue?schema=schema-label").json
    assert report["annotate"] == {"schema": "schema-label", "left": 0, "leased": 5}


def test_leases_expire_extend_and_are_given_back(alice: Client, bob: Client, carol: Client,
                                                 queued: list[str], clock: FakeClock) -> None:
    lease = _claim(bob, ttl=60).json["lease"]
    assert _claim(carol).json["item"]["object"]["uuid"] == queued[1]
    clock.now += 61  # bob's lease ran out: his object is claimable again, first in line
    assert _claim(carol).json["item"]["object"]["uuid"] == queued[0]
    assert_error(bob.put(f"{DS}/queue/leases/{lease['id']}"), 404, "No live lease")
    # extend: only the holder, and not past an hour
    mine = _claim(bob, ttl=60).json["lease"]
    assert_error(carol.put(f"{DS}/queue/leases/{mine['id']}"), 403, "held by bob")
    assert_error(bob.put(f"{DS}/queue/leases/{mine['id']}", json_body={"ttl": 7200}), 400)
    extended = bob.put(f"{DS}/queue/leases/{mine['id']}", json_body={"ttl": 600}).json
    assert extended["lease"]["expires"] > mine["expires"]
    clock.now += 200
    report = alice.get(f"{DS}/queue?schema=schema-label").json
    assert report["annotate"]["leased"] == 3  # carol's two and bob's, still live
    clock.now += 50  # carol's first lease (300 s from the start) has run out
    assert alice.get(f"{DS}/queue?schema=schema-label").json["annotate"]["leased"] == 2
    # given back: the object is claimable at once (after carol's expired one, older)
    assert bob.delete(f"{DS}/queue/leases/{mine['id']}").json == {"lease": mine["id"]}
    assert [_claim(alice).json["item"]["object"]["uuid"] for _ in range(2)] == queued[1:3]


def test_annotating_ends_the_lease_and_the_object_leaves_the_queue(
        alice: Client, bob: Client, queued: list[str], clock: FakeClock) -> None:
    lease = _claim(bob).json["lease"]
    assert _annotate(bob, queued[0]).status_code == 200
    assert_error(bob.delete(f"{DS}/queue/leases/{lease['id']}"), 404)  # ended by the work
    clock.now += 10_000  # long after: the object has a (pending) annotation, never handed out
    claimed = {_claim(bob).json["item"]["object"]["uuid"] for _ in range(4)}
    assert queued[0] not in claimed and len(claimed) == 4
    # a rejected annotation puts it back
    pending = alice.get(f"{DS}/events?pending=true").json
    alice.put(f"{DS}/events/{pending[-1]['uuid']}/reject")
    assert _claim(alice).json["item"]["object"]["uuid"] == queued[0]


def test_priorities_and_assignees(alice: Client, bob: Client, carol: Client,
                                  queued: list[str]) -> None:
    assert alice.put(f"{DS}/objects/{queued[3]}/priority",
                     json_body={"priority": 5}).json["priority"] == 5
    alice.put(f"{DS}/objects/{queued[0]}/priority", json_body={"priority": -1})
    alice.put(f"{DS}/objects/{queued[1]}/assignee", json_body={"user": "carol"})
    assert_error(bob.put(f"{DS}/objects/{queued[2]}/priority", json_body={"priority": 9}), 403,
                 "reviewer role")
    assert_error(alice.put(f"{DS}/objects/{queued[2]}/assignee", json_body={"user": "nobody"}),
                 404)
    order = [_claim(bob).json["item"]["object"]["uuid"] for _ in range(3)]
    assert order == [queued[3], queued[2], queued[4]]  # 5 first; carol's skipped; -1 last

    def left() -> Any:
        return alice.get(f"{DS}/queue?schema=schema-label").json["annotate"]

    # what is left counts objects with a priority or an assignee too, leased ones not
    assert left() == {"schema": "schema-label", "left": 2, "leased": 3}
    assert _claim(bob).json["item"]["object"]["uuid"] == queued[0]
    assert _claim(bob).json["lease"] is None
    assert left() == {"schema": "schema-label", "left": 1, "leased": 4}  # carol's
    assert _claim(carol).json["item"]["object"]["uuid"] == queued[1]  # hers
    assert left() == {"schema": "schema-label", "left": 0, "leased": 5}


def test_review_claims_respect_roles_and_four_eyes(alice: Client, bob: Client, carol: Client,
                                                   ds: str, clock: FakeClock) -> None:
    for name, who in (("a.txt", alice), ("b.txt", bob), ("c.txt", alice)):
        who.post(f"{DS}/objects", {"name": name, "mimetype": "text/plain",
                                   "object": b64(name.encode())})
    pending = [e["uuid"] for e in alice.get(f"{DS}/events?pending=true").json]
    assert_error(bob.post(f"{DS}/queue/claim", {"task": "review"}), 403, "reviewer role")
    alice.put(f"{DS}/members/bob", json_body={"role": "reviewer"})
    alice.patch(DS, {"require_other_reviewer": True})
    got = bob.post(f"{DS}/queue/claim", {"task": "review"}).json
    assert got["item"]["event"]["uuid"] == pending[0] and "integrity" in got["item"]["event"]
    # four eyes: bob's own change (the second) is not handed to him
    assert bob.post(f"{DS}/queue/claim", {"task": "review"}).json["item"]["event"]["uuid"] \
        == pending[2]
    assert bob.post(f"{DS}/queue/claim", {"task": "review"}).json["lease"] is None
    # alice gets what is left: bob's change
    assert alice.post(f"{DS}/queue/claim", {"task": "review"}).json["item"]["event"]["uuid"] \
        == pending[1]
    # deciding ends the lease
    assert bob.put(f"{DS}/events/{pending[0]}/accept").status_code == 200
    report = alice.get(f"{DS}/queue").json
    assert report["review"] == {"awaiting": 2, "leased": 2}
    assert report["users"]["alice"] == {"proposed": 2, "accepted": 1, "rejected": 0}
    assert report["users"]["bob"] == {"proposed": 1, "accepted": 0, "rejected": 0}


def test_claims_refuse_bad_input(alice: Client, carol: Client, queued: list[str]) -> None:
    assert_error(alice.post(f"{DS}/queue/claim", {"task": "paint"}), 400, "'task'")
    assert_error(alice.post(f"{DS}/queue/claim", {"task": "annotate"}), 400, "'schema'")
    assert_error(_claim(alice, schema="schema-nope"), 404)
    assert_error(_claim(alice, ttl=0), 400, "'ttl'")
    assert_error(_claim(alice, ttl="long"), 400, "'ttl'")
    assert_error(alice.put(f"{DS}/queue/leases/not-a-uuid"), 400)
    assert_error(alice.put(f"{DS}/objects/{queued[0]}/priority", json_body={"priority": "hi"}),
                 400)
    alice.put(f"{DS}/members/carol", json_body={"role": "viewer"})
    assert_error(_claim(carol), 403, "annotator role")


# --- the floor: claims look from a per-schema point on (storage/queue.py) -------------------
# Each change that can make an object below the floor claimable again must lower it; these
# tests first move the floor past the objects (claims), then make the change, then check that
# the object comes back, in its place in the queue.

def _floor(installation: Any) -> int:
    from sqlalchemy import select

    from gonk.storage import tables as t

    with installation.db.read() as conn:
        return int(conn.execute(select(t.annotate_floors.c.floor_seq)).scalar_one())


def _decide_last(alice: Client, verdict: str) -> None:
    pending = alice.get(f"{DS}/events?pending=true").json
    assert alice.put(f"{DS}/events/{pending[-1]['uuid']}/{verdict}").status_code == 200


def test_the_floor_rises_past_objects_taken(alice: Client, bob: Client, queued: list[str],
                                            installation: Any) -> None:
    _claim(bob)
    first = _floor(installation)
    for _ in range(3):
        _claim(bob)
    assert _floor(installation) > first  # claims start past the leased objects
    assert _claim(bob).json["item"]["object"]["uuid"] == queued[4]
    assert _claim(bob).json["lease"] is None  # and with nothing left, past every object
    before = _floor(installation)
    assert _claim(bob).json["lease"] is None and _floor(installation) == before


def test_an_object_accepted_late_is_claimable_in_its_place(alice: Client, bob: Client,
                                                           queued: list[str]) -> None:
    late = alice.post(f"{DS}/objects", {"name": "late.txt", "mimetype": "text/plain",
                                        "object": b64(b"late")}).json["uuid"]
    made_later = alice.post(f"{DS}/objects", {"name": "later.txt", "mimetype": "text/plain",
                                              "object": b64(b"later")}).json["uuid"]
    pending = alice.get(f"{DS}/events?pending=true").json
    alice.put(f"{DS}/events/{pending[-1]['uuid']}/accept")  # the second one only
    assert [_claim(bob).json["item"]["object"]["uuid"] for _ in range(6)] == \
        [*queued, made_later]
    alice.put(f"{DS}/events/{pending[0]['uuid']}/accept")  # the floor is past it by now
    assert _claim(bob).json["item"]["object"]["uuid"] == late


def test_an_update_hands_out_the_current_version(alice: Client, bob: Client, carol: Client,
                                                 queued: list[str], clock: FakeClock) -> None:
    for _ in range(5):
        _claim(bob, ttl=60)
    clock.now += 61  # all five leases ran out
    # a pending update holds its object back; rejected, the object's version 0 is current
    # again (and claimable); accepted, its version 1 is what is handed out
    for obj in queued[:2]:
        assert alice.patch(f"{DS}/objects/{obj}", {
            "name": "new.txt", "mimetype": "text/plain",
            "object": b64(f"new {obj}".encode())}).status_code == 200
    claimed = [_claim(carol).json["item"]["object"] for _ in range(3)]
    assert [c["uuid"] for c in claimed] == queued[2:]
    assert _claim(carol).json["lease"] is None
    pending = alice.get(f"{DS}/events?pending=true").json
    assert alice.put(f"{DS}/events/{pending[0]['uuid']}/reject").status_code == 200
    assert alice.put(f"{DS}/events/{pending[1]['uuid']}/accept").status_code == 200
    got = [_claim(carol).json["item"]["object"] for _ in range(2)]
    assert [(g["uuid"], g["version"]) for g in got] == [(queued[0], 0), (queued[1], 1)]


def test_a_deleted_annotation_puts_its_object_back(alice: Client, bob: Client,
                                                   queued: list[str]) -> None:
    _claim(bob)
    annotation = _annotate(bob, queued[0]).json["uuid"]
    _decide_last(alice, "accept")
    assert [_claim(bob).json["item"]["object"]["uuid"] for _ in range(4)] == queued[1:]
    assert _claim(bob).json["lease"] is None
    assert alice.delete(f"{DS}/annotations/{annotation}/0").status_code == 200
    assert _claim(bob).json["lease"] is None  # its deletion is pending: still annotated
    _decide_last(alice, "accept")
    assert _claim(bob).json["item"]["object"]["uuid"] == queued[0]


def test_an_object_leaving_the_priority_list_rejoins_the_queue(
        alice: Client, bob: Client, carol: Client, queued: list[str]) -> None:
    alice.put(f"{DS}/objects/{queued[0]}/assignee", json_body={"user": "carol"})
    alice.put(f"{DS}/objects/{queued[1]}/priority", json_body={"priority": -3})
    assert [_claim(bob).json["item"]["object"]["uuid"] for _ in range(3)] == queued[2:]
    alice.put(f"{DS}/objects/{queued[0]}/assignee", json_body={"user": None})
    alice.put(f"{DS}/objects/{queued[1]}/priority", json_body={"priority": 0})
    assert [_claim(bob).json["item"]["object"]["uuid"] for _ in range(2)] == queued[:2]
    assert _claim(carol).json["lease"] is None
