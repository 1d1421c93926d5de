"""/datasets/<d>/owners: list, add, remove, and the rank rules."""

from __future__ import annotations

import pytest

from tests.support.api import DS, accept, assert_error, create_object, event_of, events

BASE = f"/datasets/{DS}/owners"


def _owners(client):
    resp = client.get(BASE)
    assert resp.status_code == 200
    return resp.json


def test_list_owners(alice, bob, ds):
    assert _owners(bob) == ["alice"]


def test_add_owner(alice, bob, carol, ds):
    resp = alice.put(f"{BASE}/bob")
    assert resp.status_code == 200
    assert resp.json == {"user": "bob"}
    assert alice.put(f"{BASE}/carol").json == {"user": "carol"}
    # rank order: earliest added first
    assert _owners(carol) == ["alice", "bob", "carol"]
    event = events(alice)[-1]
    assert {k: event[k] for k in ("type", "author", "owner", "owner_action")} == {
        "type": "OwnerAddEvent", "author": "alice", "owner": "carol", "owner_action": 1}


def test_new_owner_can_review_and_add_owners(alice, bob, carol, ds):
    alice.put(f"{BASE}/bob")
    uuid = create_object(carol, b"data")
    accept(bob, event_of(bob, "objects", uuid, 0))
    assert bob.put(f"{BASE}/carol").status_code == 200
    assert _owners(alice) == ["alice", "bob", "carol"]


def test_add_unknown_user_is_404(alice, ds):
    before = events(alice)
    assert_error(alice.put(f"{BASE}/nobody"), 404, "nobody")
    assert events(alice) == before
    assert _owners(alice) == ["alice"]


def test_add_owner_twice_is_409(alice, bob, ds):
    alice.put(f"{BASE}/bob")
    before = events(alice)
    assert_error(alice.put(f"{BASE}/bob"), 409, "already")
    assert_error(alice.put(f"{BASE}/alice"), 409, "already")
    assert events(alice) == before


def test_non_owner_cannot_add_owners(alice, bob, carol, ds):
    before = events(alice)
    assert_error(bob.put(f"{BASE}/bob"), 403, "owner")
    assert_error(bob.put(f"{BASE}/carol"), 403, "owner")
    assert_error(bob.put(f"{BASE}/nobody"), 403)  # does not reveal which users exist
    assert events(alice) == before
    assert _owners(alice) == ["alice"]


@pytest.mark.parametrize("user", ["a b", "x" * 65, "x" * 10_000, "ü", "a+b", "a:b", "a%00"])
def test_bad_usernames_are_400(alice, ds, user):
    before = events(alice)
    assert_error(alice.put(f"{BASE}/{user}"), 400, "username")
    assert_error(alice.delete(f"{BASE}/{user}"), 400, "username")
    assert events(alice) == before


def test_unknown_dataset_is_404(alice, bob):
    assert_error(alice.get("/datasets/nope/owners"), 404)
    assert_error(alice.put("/datasets/nope/owners/bob"), 404)
    assert_error(alice.delete("/datasets/nope/owners/alice"), 404)


# --- remove and ranks ------------------------------------------------------------------------


def test_higher_rank_removes_lower(alice, bob, ds):
    alice.put(f"{BASE}/bob")
    resp = alice.delete(f"{BASE}/bob")
    assert resp.status_code == 200
    assert resp.json == {"user": "bob"}
    assert _owners(alice) == ["alice"]
    event = events(alice)[-1]
    assert {k: event[k] for k in ("type", "author", "owner", "owner_action")} == {
        "type": "OwnerRemoveEvent", "author": "alice", "owner": "bob", "owner_action": 2}
    # bob lost his rights at once
    uuid = create_object(bob, b"data")
    assert_error(bob.put(f"/datasets/{DS}/events/{event_of(bob, 'objects', uuid, 0)}/accept"),
                 403)


def test_lower_rank_cannot_remove_higher(alice, bob, carol, ds):
    alice.put(f"{BASE}/bob")
    alice.put(f"{BASE}/carol")
    before = events(alice)
    assert_error(bob.delete(f"{BASE}/alice"), 403, "rank")
    assert_error(carol.delete(f"{BASE}/bob"), 403, "rank")
    assert_error(carol.delete(f"{BASE}/alice"), 403, "rank")
    assert events(alice) == before
    # equal (self) or lower rank is fine
    assert bob.delete(f"{BASE}/carol").status_code == 200
    assert bob.delete(f"{BASE}/bob").status_code == 200
    assert _owners(alice) == ["alice"]


def test_owner_may_remove_themselves_but_not_as_last_owner(alice, bob, ds):
    before = events(alice)
    assert_error(alice.delete(f"{BASE}/alice"), 409, "last owner")
    assert events(alice) == before
    alice.put(f"{BASE}/bob")
    assert alice.delete(f"{BASE}/alice").status_code == 200
    assert _owners(bob) == ["bob"]
    assert_error(bob.delete(f"{BASE}/bob"), 409, "last owner")


def test_readded_owner_ranks_last(alice, bob, carol, ds):
    alice.put(f"{BASE}/bob")
    alice.put(f"{BASE}/carol")
    assert alice.delete(f"{BASE}/bob").status_code == 200
    alice.put(f"{BASE}/bob")
    assert _owners(alice) == ["alice", "carol", "bob"]
    assert_error(bob.delete(f"{BASE}/carol"), 403)
    assert carol.delete(f"{BASE}/bob").status_code == 200
    assert _owners(alice) == ["alice", "carol"]


def test_non_owner_cannot_remove(alice, bob, ds):
    before = events(alice)
    assert_error(bob.delete(f"{BASE}/alice"), 403, "owner")
    assert events(alice) == before


def test_removing_a_user_who_is_not_an_owner_is_404(alice, bob, ds):
    assert_error(alice.delete(f"{BASE}/bob"), 404, "not an owner")
    assert_error(alice.delete(f"{BASE}/nobody"), 404)


# --- auth and methods ------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("GET", ""), ("PUT", "/bob"), ("DELETE", "/alice")])
def test_every_owner_endpoint_needs_a_key(alice, bob, ds, method, path):
    before = events(alice)
    for headers in ({}, {"x-api-key": "nope"}):
        assert_error(alice.request(method, BASE + path, headers=headers), 401)
    assert events(alice) == before
    assert _owners(alice) == ["alice"]


@pytest.mark.parametrize("method,path", [
    ("POST", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/bob"), ("POST", "/bob"),
    ("PATCH", "/bob"),
])
def test_wrong_methods_are_405(alice, ds, method, path):
    assert_error(alice.request(method, BASE + path), 405)
