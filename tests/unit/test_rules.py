"""Unit tests of the pure state rules (SPEC section 6): `rules.decide` over a `MemoryState`.

No database, files or Flask: every state is built by replaying events made with the
`gonk.domain.events` constructors through `rules.decide` and `MemoryState.apply`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from typing import Any

import pytest

from gonk.domain import events as ev
from gonk.domain import rules
from gonk.domain.errors import Conflict, Forbidden, GonkError, Invalid, NotFound
from gonk.domain.memory import MemoryState

ALICE, BOB, CAROL, DAVE = "alice", "bob", "carol", "dave"

LABEL_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {"label": {"type": "string"}},
    "required": ["label"],
}).encode()
OTHER_SCHEMA = json.dumps({"type": "object"}).encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_counter = itertools.count()


def unique_bytes(prefix: str = "content") -> bytes:
    return f"{prefix}-{next(_counter)}".encode()


class Dataset:
    """One dataset's log, replayed in memory. The creator's OwnerAddEvent is event 1."""

    def __init__(self, creator: str = ALICE) -> None:
        self.state = MemoryState()
        self.seq = 0
        self.log: list[dict[str, Any]] = []
        self.do(ev.owner_event(creator, creator, add=True))

    # --- running events -------------------------------------------------------------------

    def decide(self, event: dict[str, Any]) -> list[rules.Change]:
        """What the rules say about the next event, without applying it."""
        return rules.decide(self.state, event, self.seq + 1)

    def do(self, event: dict[str, Any]) -> dict[str, Any]:
        changes = rules.decide(self.state, event, self.seq + 1)
        self.seq += 1
        self.state.apply(changes)
        self.log.append(event)
        return event

    def refused(self, exc_type: type[GonkError], event: dict[str, Any],
                match: str | None = None) -> GonkError:
        """Assert that the rules refuse `event` with `exc_type` and leave the state unchanged."""
        before = self.state.snapshot()
        with pytest.raises(exc_type, match=match) as info:
            self.decide(event)
        assert type(info.value) is exc_type
        assert self.state.snapshot() == before
        return info.value

    # --- event builders -------------------------------------------------------------------

    def object_event(self, item_uuid: str | None = None, data: bytes | None = None,
                     name: str = "cat.jpg", fmt: str = "image/jpeg",
                     author: str = BOB) -> dict[str, Any]:
        """A create event (new uuid) or an update event (next version of `item_uuid`)."""
        data = unique_bytes() if data is None else data
        if item_uuid is None:
            item_uuid, version = ev.new_uuid(), 0
        else:
            item = self.state.item(item_uuid)
            version = item.versions if item else 1
        meta = ev.object_metadata(item_uuid, version, name, fmt, len(data), sha(data))
        return ev.object_write(author, meta)

    def create_object(self, data: bytes | None = None, name: str = "cat.jpg",
                      author: str = BOB) -> dict[str, Any]:
        return self.do(self.object_event(None, data, name=name, author=author))

    def update_object(self, item_uuid: str, data: bytes | None = None, name: str = "cat.jpg",
                      author: str = BOB) -> dict[str, Any]:
        return self.do(self.object_event(item_uuid, data, name=name, author=author))

    def schema_event(self, item_uuid: str | None = None, data: bytes = LABEL_SCHEMA,
                     name: str = "schema-label", author: str = BOB) -> dict[str, Any]:
        return self.object_event(item_uuid, data, name=name, fmt=ev.SCHEMA_FORMAT, author=author)

    def create_schema(self, data: bytes = LABEL_SCHEMA, name: str = "schema-label",
                      author: str = BOB) -> dict[str, Any]:
        return self.do(self.schema_event(None, data, name=name, author=author))

    def update_schema(self, item_uuid: str, data: bytes, name: str = "schema-label",
                      author: str = BOB) -> dict[str, Any]:
        return self.do(self.schema_event(item_uuid, data, name=name, author=author))

    def annotation_create_event(self, schema: tuple[str, int],
                                objects: Any,
                                data: bytes | None = None, author: str = BOB) -> dict[str, Any]:
        data = b'{"label": "%s"}' % unique_bytes() if data is None else data
        meta = ev.annotation_metadata(ev.new_uuid(), 0, schema[0], schema[1], len(data), sha(data))
        idents = objects
        if isinstance(objects, list):
            idents = [ev.identifier(*o) if isinstance(o, tuple) else o for o in objects]
        return ev.annotation_create(author, meta, idents)

    def create_annotation(self, schema: tuple[str, int], objects: list[tuple[str, int]],
                          data: bytes | None = None, author: str = BOB) -> dict[str, Any]:
        return self.do(self.annotation_create_event(schema, objects, data, author))

    def annotation_update_event(self, item_uuid: str, schema: tuple[str, int],
                                data: bytes | None = None, author: str = BOB) -> dict[str, Any]:
        data = b'{"label": "%s"}' % unique_bytes() if data is None else data
        item = self.state.item(item_uuid)
        version = item.versions if item else 1
        meta = ev.annotation_metadata(item_uuid, version, schema[0], schema[1], len(data),
                                      sha(data))
        return ev.annotation_update(author, meta)

    def update_annotation(self, item_uuid: str, schema: tuple[str, int],
                          data: bytes | None = None, author: str = BOB) -> dict[str, Any]:
        return self.do(self.annotation_update_event(item_uuid, schema, data, author))

    def delete_object(self, item_uuid: str, version: int = 0,
                      author: str = BOB) -> dict[str, Any]:
        return self.do(ev.object_delete(author, item_uuid, version))

    def delete_annotation(self, item_uuid: str, version: int = 0,
                          author: str = BOB) -> dict[str, Any]:
        return self.do(ev.annotation_delete(author, item_uuid, version))

    def accept(self, target: dict[str, Any], by: str = ALICE) -> dict[str, Any]:
        return self.do(ev.review(by, target["uuid"], accept=True))

    def reject(self, target: dict[str, Any], by: str = ALICE) -> dict[str, Any]:
        return self.do(ev.review(by, target["uuid"], accept=False))

    def add_owner(self, owner: str, by: str = ALICE) -> dict[str, Any]:
        return self.do(ev.owner_event(by, owner, add=True))

    def remove_owner(self, owner: str, by: str = ALICE) -> dict[str, Any]:
        return self.do(ev.owner_event(by, owner, add=False))

    # --- reading --------------------------------------------------------------------------

    def version(self, item_uuid: str, number: int = 0) -> rules.Version:
        found = self.state.version(item_uuid, number)
        assert found is not None
        return found

    def flags(self, item_uuid: str, number: int = 0) -> set[str]:
        v = self.version(item_uuid, number)
        return {name for name, on in
                (("CP", v.create_pending), ("CR", v.create_rejected), ("DP", v.delete_pending),
                 ("DA", v.delete_accepted)) if on}

    def status(self, item_uuid: str, number: int = 0) -> set[str]:
        return self.version(item_uuid, number).status_words()

    def review_of(self, event: dict[str, Any]) -> str | None:
        info = self.state.event(event["uuid"])
        assert info is not None
        return info.review


def uid(event: dict[str, Any]) -> str:
    """The item uuid a create/update event wrote."""
    return (event.get("object") or event["annotation"])["uuid"]


def ver(event: dict[str, Any]) -> int:
    return (event.get("object") or event["annotation"])["version"]


@pytest.fixture
def ds() -> Dataset:
    return Dataset()


# =============================================================================================
# Status flags (SPEC section 6 table), for objects, schemas and annotations alike
# =============================================================================================

KINDS = ["object", "schema", "annotation"]


def make_version(ds: Dataset, kind: str) -> tuple[dict[str, Any], str]:
    """A freshly created (pending) version of the given kind; returns its create event and
    the identifier key to delete it with."""
    if kind == "object":
        return ds.create_object(), "object"
    if kind == "schema":
        return ds.create_schema(name=f"schema-{next(_counter)}"), "object"
    schema = ds.create_schema(name=f"schema-{next(_counter)}")
    obj = ds.create_object()
    return ds.create_annotation((uid(schema), 0), [(uid(obj), 0)]), "annotation"


def delete_event(kind_key: str, item_uuid: str, number: int, author: str = BOB) -> dict:
    if kind_key == "object":
        return ev.object_delete(author, item_uuid, number)
    return ev.annotation_delete(author, item_uuid, number)


@pytest.mark.parametrize("kind", KINDS)
class TestFlagTable:
    def test_created_is_create_pending(self, ds: Dataset, kind: str) -> None:
        created, _ = make_version(ds, kind)
        assert ds.flags(uid(created)) == {"CP"}
        assert ds.status(uid(created)) == {"pending"}
        assert ds.review_of(created) == ev.PENDING
        assert ds.version(uid(created)).kind == kind

    def test_update_is_create_pending(self, ds: Dataset, kind: str) -> None:
        created, _ = make_version(ds, kind)
        ds.accept(created)
        item_uuid = uid(created)
        if kind == "annotation":
            v0 = ds.version(item_uuid)
            updated = ds.update_annotation(item_uuid, (v0.schema_uuid, v0.schema_version))
            assert updated["type"] == ev.ANNOTATION_UPDATE
        elif kind == "schema":
            updated = ds.update_schema(item_uuid, OTHER_SCHEMA,
                                       name=ds.state.item(item_uuid).name)
            assert updated["type"] == ev.OBJECT_UPDATE
        else:
            updated = ds.update_object(item_uuid)
            assert updated["type"] == ev.OBJECT_UPDATE
        assert ver(updated) == 1
        assert ds.flags(item_uuid, 1) == {"CP"}
        assert ds.flags(item_uuid, 0) == set()  # the older version is untouched
        assert ds.state.item(item_uuid).versions == 2

    def test_create_accepted_clears_cp(self, ds: Dataset, kind: str) -> None:
        created, _ = make_version(ds, kind)
        ds.accept(created)
        assert ds.flags(uid(created)) == set()
        assert ds.status(uid(created)) == {"accepted"}
        assert ds.review_of(created) == ev.ACCEPTED

    def test_create_rejected_clears_cp_sets_cr(self, ds: Dataset, kind: str) -> None:
        created, _ = make_version(ds, kind)
        ds.reject(created)
        assert ds.flags(uid(created)) == {"CR"}
        assert ds.status(uid(created)) == {"rejected"}
        assert ds.review_of(created) == ev.REJECTED
        assert not ds.version(uid(created)).live

    def test_delete_proposed_on_accepted_sets_dp(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        ds.accept(created)
        deletion = ds.do(delete_event(key, uid(created), 0))
        assert ds.flags(uid(created)) == {"DP"}
        assert ds.status(uid(created)) == {"accepted", "pending"}
        assert ds.review_of(deletion) == ev.PENDING

    def test_delete_proposed_on_pending_sets_dp(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        ds.do(delete_event(key, uid(created), 0))
        assert ds.flags(uid(created)) == {"CP", "DP"}
        assert ds.status(uid(created)) == {"pending"}

    def test_delete_accepted_clears_dp_sets_da(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        ds.accept(created)
        deletion = ds.do(delete_event(key, uid(created), 0))
        ds.accept(deletion)
        assert ds.flags(uid(created)) == {"DA"}
        assert ds.status(uid(created)) == {"deleted"}
        assert ds.review_of(deletion) == ev.ACCEPTED
        assert ds.review_of(created) == ev.ACCEPTED
        assert not ds.version(uid(created)).live

    def test_delete_rejected_clears_dp(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        ds.accept(created)
        deletion = ds.do(delete_event(key, uid(created), 0))
        ds.reject(deletion)
        assert ds.flags(uid(created)) == set()
        assert ds.status(uid(created)) == {"accepted"}
        assert ds.review_of(deletion) == ev.REJECTED

    def test_delete_refused_when_cr(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        ds.reject(created)
        ds.refused(Conflict, delete_event(key, uid(created), 0), match="rejected")
        assert ds.flags(uid(created)) == {"CR"}

    def test_delete_refused_when_dp(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        ds.accept(created)
        ds.do(delete_event(key, uid(created), 0))
        ds.refused(Conflict, delete_event(key, uid(created), 0, author=CAROL),
                   match="already pending")
        assert ds.flags(uid(created)) == {"DP"}

    def test_delete_refused_when_da(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        ds.accept(created)
        ds.accept(ds.do(delete_event(key, uid(created), 0)))
        ds.refused(Conflict, delete_event(key, uid(created), 0), match="already deleted")
        assert ds.flags(uid(created)) == {"DA"}

    def test_delete_may_be_proposed_again_after_rejection(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        ds.accept(created)
        ds.reject(ds.do(delete_event(key, uid(created), 0)))
        ds.do(delete_event(key, uid(created), 0))
        assert ds.flags(uid(created)) == {"DP"}

    def test_create_rejected_while_delete_pending(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        deletion = ds.do(delete_event(key, uid(created), 0))
        ds.reject(created)
        assert ds.flags(uid(created)) == {"CR", "DP"}
        assert ds.status(uid(created)) == {"pending", "rejected"}
        ds.reject(deletion)
        assert ds.flags(uid(created)) == {"CR"}

    def test_create_accepted_while_delete_pending(self, ds: Dataset, kind: str) -> None:
        created, key = make_version(ds, kind)
        deletion = ds.do(delete_event(key, uid(created), 0))
        ds.accept(created)
        assert ds.flags(uid(created)) == {"DP"}
        ds.accept(deletion)
        assert ds.flags(uid(created)) == {"DA"}


class TestDeletionOfUnsettledCreation:
    """Design decision in rules._review: a deletion can only be accepted once the version's
    creation has been accepted."""

    def test_accepting_deletion_while_creation_pending_is_conflict(self, ds: Dataset) -> None:
        obj = ds.create_object()
        deletion = ds.delete_object(uid(obj))
        ds.refused(Conflict, ev.review(ALICE, deletion["uuid"], accept=True), match="pending")
        assert ds.flags(uid(obj)) == {"CP", "DP"}
        assert ds.review_of(deletion) == ev.PENDING

    def test_accepting_deletion_after_creation_rejected_is_conflict(self, ds: Dataset) -> None:
        obj = ds.create_object()
        deletion = ds.delete_object(uid(obj))
        ds.reject(obj)
        ds.refused(Conflict, ev.review(ALICE, deletion["uuid"], accept=True), match="rejected")
        assert ds.flags(uid(obj)) == {"CR", "DP"}
        assert ds.review_of(deletion) == ev.PENDING

    def test_rejecting_deletion_while_creation_pending_is_allowed(self, ds: Dataset) -> None:
        obj = ds.create_object()
        deletion = ds.delete_object(uid(obj))
        ds.reject(deletion)
        assert ds.flags(uid(obj)) == {"CP"}
        assert ds.review_of(deletion) == ev.REJECTED


# =============================================================================================
# Status words
# =============================================================================================


# The SPEC's short names of the status flags, as the tables below use them.
FLAG_NAMES = {"cp": "create_pending", "cr": "create_rejected", "dp": "delete_pending",
              "da": "delete_accepted"}


def _version(**flags: bool) -> rules.Version:
    return rules.Version("00000000-0000-4000-8000-000000000000", 0, rules.OBJECT, "n", "t/p",
                         0, sha(b""), **{FLAG_NAMES[name]: on for name, on in flags.items()})


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        ({"cp": True}, {"pending"}),
        ({"cp": False}, {"accepted"}),
        ({"cp": False, "cr": True}, {"rejected"}),
        ({"cp": False, "dp": True}, {"accepted", "pending"}),
        ({"cp": True, "dp": True}, {"pending"}),
        ({"cp": False, "da": True}, {"deleted"}),
        ({"cp": False, "cr": True, "dp": True}, {"pending", "rejected"}),
    ],
)
def test_status_words(flags: dict[str, bool], words: set[str]) -> None:
    assert _version(**flags).status_words() == words


@pytest.mark.parametrize("cp,cr,dp,da", list(itertools.product([False, True], repeat=4)))
def test_status_words_follow_spec_definitions(cp: bool, cr: bool, dp: bool, da: bool) -> None:
    words = _version(cp=cp, cr=cr, dp=dp, da=da).status_words()
    assert ("accepted" in words) == (not (cp or cr or da))
    assert ("pending" in words) == (cp or dp)
    assert ("deleted" in words) == da
    assert ("rejected" in words) == cr
    assert words <= {"accepted", "pending", "deleted", "rejected"}


def test_new_version_defaults_to_create_pending() -> None:
    v = _version()
    flags = (v.create_pending, v.create_rejected, v.delete_pending, v.delete_accepted)
    assert flags == (True, False, False, False)
    assert v.live


@pytest.mark.parametrize("flags,live", [
    ({}, True), ({"cp": False}, True), ({"dp": True}, True),
    ({"cr": True}, False), ({"da": True}, False),
])
def test_live_means_neither_rejected_nor_deleted(flags: dict[str, bool], live: bool) -> None:
    assert _version(**flags).live is live


# =============================================================================================
# Owners
# =============================================================================================


class TestOwners:
    def test_creator_is_first_owner(self) -> None:
        ds = Dataset(CAROL)
        assert ds.state.owners() == [CAROL]
        info = ds.state.event(ds.log[0]["uuid"])
        assert info.type == ev.OWNER_ADD
        assert info.review is None

    def test_first_owner_must_be_the_author(self) -> None:
        state = MemoryState()
        with pytest.raises(Forbidden):
            rules.decide(state, ev.owner_event(ALICE, BOB, add=True), 1)
        assert state.owners() == []

    def test_owner_add_records_rank_as_seq(self, ds: Dataset) -> None:
        changes = ds.decide(ev.owner_event(ALICE, BOB, add=True))
        assert rules.OwnerAdded(BOB, ds.seq + 1) in changes

    def test_owners_listed_in_order_added(self, ds: Dataset) -> None:
        ds.add_owner(CAROL)
        ds.add_owner(BOB)
        assert ds.state.owners() == [ALICE, CAROL, BOB]

    def test_non_owner_cannot_add_owner(self, ds: Dataset) -> None:
        ds.refused(Forbidden, ev.owner_event(BOB, CAROL, add=True), match="owner")
        ds.refused(Forbidden, ev.owner_event(BOB, BOB, add=True))
        assert ds.state.owners() == [ALICE]

    def test_non_owner_cannot_remove_owner(self, ds: Dataset) -> None:
        ds.add_owner(CAROL)
        ds.refused(Forbidden, ev.owner_event(BOB, CAROL, add=False))
        assert ds.state.owners() == [ALICE, CAROL]

    def test_adding_existing_owner_is_conflict(self, ds: Dataset) -> None:
        ds.add_owner(BOB)
        ds.refused(Conflict, ev.owner_event(ALICE, BOB, add=True), match="already an owner")
        ds.refused(Conflict, ev.owner_event(BOB, ALICE, add=True))
        assert ds.state.owners() == [ALICE, BOB]

    def test_removing_non_owner_is_not_found(self, ds: Dataset) -> None:
        ds.refused(NotFound, ev.owner_event(ALICE, BOB, add=False), match="not an owner")

    def test_invalid_username_is_invalid(self, ds: Dataset) -> None:
        ds.refused(Invalid, ev.owner_event(ALICE, "bad name!", add=True))

    def test_owner_may_remove_lower_rank(self, ds: Dataset) -> None:
        ds.add_owner(BOB)
        ds.add_owner(CAROL)
        ds.remove_owner(CAROL, by=BOB)
        assert ds.state.owners() == [ALICE, BOB]
        ds.remove_owner(BOB, by=ALICE)
        assert ds.state.owners() == [ALICE]

    def test_owner_may_remove_themselves(self, ds: Dataset) -> None:
        ds.add_owner(BOB)
        ds.add_owner(CAROL)
        ds.remove_owner(BOB, by=BOB)
        assert ds.state.owners() == [ALICE, CAROL]
        ds.remove_owner(ALICE, by=ALICE)
        assert ds.state.owners() == [CAROL]

    def test_owner_may_not_remove_higher_rank(self, ds: Dataset) -> None:
        ds.add_owner(BOB)
        ds.add_owner(CAROL)
        ds.refused(Forbidden, ev.owner_event(CAROL, BOB, add=False), match="rank")
        ds.refused(Forbidden, ev.owner_event(CAROL, ALICE, add=False))
        ds.refused(Forbidden, ev.owner_event(BOB, ALICE, add=False))
        assert ds.state.owners() == [ALICE, BOB, CAROL]

    def test_last_owner_cannot_be_removed(self, ds: Dataset) -> None:
        ds.refused(Conflict, ev.owner_event(ALICE, ALICE, add=False), match="last owner")
        assert ds.state.owners() == [ALICE]

    def test_last_owner_after_others_left(self, ds: Dataset) -> None:
        ds.add_owner(BOB)
        ds.remove_owner(ALICE, by=ALICE)
        ds.refused(Conflict, ev.owner_event(BOB, BOB, add=False))
        assert ds.state.owners() == [BOB]

    def test_removed_owner_loses_powers(self, ds: Dataset) -> None:
        ds.add_owner(BOB)
        ds.remove_owner(BOB)
        obj = ds.create_object(author=CAROL)
        ds.refused(Forbidden, ev.review(BOB, obj["uuid"], accept=True))
        ds.refused(Forbidden, ev.owner_event(BOB, CAROL, add=True))

    def test_readded_owner_ranks_last(self, ds: Dataset) -> None:
        ds.add_owner(BOB)
        ds.add_owner(CAROL)
        ds.remove_owner(BOB)
        ds.add_owner(BOB)
        assert ds.state.owners() == [ALICE, CAROL, BOB]
        # Bob now ranks below Carol: he may no longer remove her, she may remove him.
        ds.refused(Forbidden, ev.owner_event(BOB, CAROL, add=False))
        ds.remove_owner(BOB, by=CAROL)
        assert ds.state.owners() == [ALICE, CAROL]

    def test_owner_events_are_not_reviewable(self, ds: Dataset) -> None:
        added = ds.add_owner(BOB)
        refused = ds.refused(Invalid, ev.review(ALICE, added["uuid"], accept=True))
        assert refused.message.startswith("An OwnerAddEvent cannot be reviewed")
        ds.refused(Invalid, ev.review(ALICE, ds.log[0]["uuid"], accept=False))


# =============================================================================================
# Reviews
# =============================================================================================


class TestReviews:
    def test_non_owner_cannot_review(self, ds: Dataset) -> None:
        obj = ds.create_object()
        ds.refused(Forbidden, ev.review(BOB, obj["uuid"], accept=True))
        ds.refused(Forbidden, ev.review(CAROL, obj["uuid"], accept=False))
        assert ds.flags(uid(obj)) == {"CP"}

    def test_added_owner_can_review(self, ds: Dataset) -> None:
        ds.add_owner(CAROL)
        obj = ds.create_object()
        ds.accept(obj, by=CAROL)
        assert ds.flags(uid(obj)) == set()

    def test_owner_may_review_own_proposal(self, ds: Dataset) -> None:
        obj = ds.create_object(author=ALICE)
        ds.accept(obj, by=ALICE)
        assert ds.status(uid(obj)) == {"accepted"}

    @pytest.mark.parametrize("first,second", [(True, True), (True, False), (False, True),
                                              (False, False)])
    def test_second_review_is_conflict(self, ds: Dataset, first: bool, second: bool) -> None:
        ds.add_owner(CAROL)
        obj = ds.create_object()
        ds.do(ev.review(ALICE, obj["uuid"], accept=first))
        flags = ds.flags(uid(obj))
        ds.refused(Conflict, ev.review(CAROL, obj["uuid"], accept=second),
                   match="already reviewed")
        assert ds.flags(uid(obj)) == flags

    def test_second_review_of_deletion_is_conflict(self, ds: Dataset) -> None:
        obj = ds.create_object()
        ds.accept(obj)
        deletion = ds.delete_object(uid(obj))
        ds.reject(deletion)
        ds.refused(Conflict, ev.review(ALICE, deletion["uuid"], accept=True))
        assert ds.flags(uid(obj)) == set()

    def test_review_events_cannot_be_reviewed(self, ds: Dataset) -> None:
        obj = ds.create_object()
        review = ds.accept(obj)
        refused = ds.refused(Invalid, ev.review(ALICE, review["uuid"], accept=True))
        assert refused.message.startswith("A ReviewAcceptEvent cannot be reviewed")
        ds.refused(Invalid, ev.review(ALICE, review["uuid"], accept=False))

    def test_unknown_event_is_not_found(self, ds: Dataset) -> None:
        ds.refused(NotFound, ev.review(ALICE, ev.new_uuid(), accept=True), match="No event")

    def test_review_with_malformed_event_uuid_is_invalid(self, ds: Dataset) -> None:
        ds.refused(Invalid, ev.review(ALICE, "not-a-uuid", accept=True))

    def test_review_target_uuid_is_case_insensitive(self, ds: Dataset) -> None:
        obj = ds.create_object()
        ds.do(ev.review(ALICE, obj["uuid"].upper(), accept=True))
        assert ds.review_of(obj) == ev.ACCEPTED

    def test_review_changes_name_target_version(self, ds: Dataset) -> None:
        obj = ds.create_object()
        changes = ds.decide(ev.review(ALICE, obj["uuid"], accept=False))
        assert any(isinstance(c, rules.ReviewRecorded) and c.event_uuid == obj["uuid"]
                   and c.review == ev.REJECTED for c in changes)
        flags = [c for c in changes if isinstance(c, rules.FlagsChanged)]
        assert len(flags) == 1
        assert (flags[0].version.uuid, flags[0].version.version) == (uid(obj), 0)
        assert (flags[0].version.create_pending, flags[0].version.create_rejected) == (False, True)

    def test_review_of_update_touches_only_that_version(self, ds: Dataset) -> None:
        obj = ds.create_object()
        ds.accept(obj)
        update = ds.update_object(uid(obj))
        ds.reject(update)
        assert ds.flags(uid(obj), 0) == set()
        assert ds.flags(uid(obj), 1) == {"CR"}


# =============================================================================================
# Objects and schemas
# =============================================================================================


class TestObjects:
    def test_create_object_changes(self, ds: Dataset) -> None:
        event = ds.object_event(data=b"abc", name="a.txt")
        changes = ds.decide(event)
        item_uuid = uid(event)
        assert rules.ItemSaved(rules.Item(item_uuid, rules.OBJECT, None, ds.seq + 1, 1)) in changes
        added = [c.version for c in changes if isinstance(c, rules.VersionAdded)]
        assert len(added) == 1
        assert (added[0].uuid, added[0].version, added[0].kind, added[0].name,
                added[0].size, added[0].hash) == (item_uuid, 0, "object", "a.txt", 3, sha(b"abc"))

    def test_empty_bytes_are_allowed(self, ds: Dataset) -> None:
        obj = ds.create_object(data=b"")
        assert ds.version(uid(obj)).size == 0

    def test_schema_prefix_makes_a_schema(self, ds: Dataset) -> None:
        schema = ds.create_schema(name="schema-box")
        item = ds.state.item(uid(schema))
        assert item.kind == rules.SCHEMA == "schema"
        assert item.name == "schema-box"
        assert ds.version(uid(schema)).kind == "schema"
        assert ds.state.schema_named("schema-box").uuid == uid(schema)

    def test_plain_object_is_an_object(self, ds: Dataset) -> None:
        obj = ds.create_object(name="schemax.jpg")
        item = ds.state.item(uid(obj))
        assert item.kind == rules.OBJECT == "object"
        assert item.name is None
        assert ds.state.schema_named("schemax.jpg") is None

    @pytest.mark.parametrize("name", ["", "x" * 256, "schema-", 5, None])
    def test_bad_names_are_invalid(self, ds: Dataset, name: Any) -> None:
        event = ds.object_event(name="placeholder")
        event["object"]["name"] = name
        ds.refused(Invalid, event)

    def test_name_of_255_characters_is_fine(self, ds: Dataset) -> None:
        obj = ds.create_object(name="x" * 255)
        assert ds.flags(uid(obj)) == {"CP"}

    @pytest.mark.parametrize("fmt", ["", "   ", None, "x" * 256])
    def test_bad_mimetype_is_invalid(self, ds: Dataset, fmt: Any) -> None:
        event = ds.object_event()
        event["object"]["format"] = fmt
        ds.refused(Invalid, event)

    def test_bad_uuid_is_invalid(self, ds: Dataset) -> None:
        event = ds.object_event()
        event["object"]["uuid"] = "nope"
        ds.refused(Invalid, event)

    def test_missing_field_is_invalid(self, ds: Dataset) -> None:
        event = ds.object_event()
        del event["object"]["hash"]
        ds.refused(Invalid, event, match="Malformed")

    def test_unknown_event_type_is_invalid(self, ds: Dataset) -> None:
        event = ds.object_event()
        event["type"] = "ObjectExplodeEvent"
        ds.refused(Invalid, event, match="Unknown event type")

    def test_create_of_existing_uuid_is_conflict(self, ds: Dataset) -> None:
        obj = ds.create_object()
        event = ds.object_event(data=b"other")
        event["object"]["uuid"] = uid(obj)
        ds.refused(Conflict, event, match="already exists")

    def test_create_must_start_at_version_zero(self, ds: Dataset) -> None:
        event = ds.object_event()
        event["object"]["version"] = 1
        assert event["type"] == ev.OBJECT_CREATE
        ds.refused(Conflict, event, match="version 0")

    def test_update_of_unknown_object_is_not_found(self, ds: Dataset) -> None:
        ds.refused(NotFound, ds.object_event(ev.new_uuid()))

    def test_update_must_be_next_version(self, ds: Dataset) -> None:
        obj = ds.create_object()
        event = ds.object_event(uid(obj))
        event["object"]["version"] = 2
        ds.refused(Conflict, event, match="next version")

    def test_update_adds_a_version(self, ds: Dataset) -> None:
        obj = ds.create_object()
        ds.update_object(uid(obj))
        ds.update_object(uid(obj))
        assert ds.state.item(uid(obj)).versions == 3
        assert [ds.flags(uid(obj), n) for n in range(3)] == [{"CP"}] * 3

    def test_update_must_change_the_bytes(self, ds: Dataset) -> None:
        obj = ds.create_object(data=b"same")
        err = ds.refused(Conflict, ds.object_event(uid(obj), b"same"), match="unchanged")
        assert err.extra["existing"] == {"uuid": uid(obj), "version": 0}

    def test_update_must_change_the_bytes_of_latest_live_version(self, ds: Dataset) -> None:
        obj = ds.create_object(data=b"v0")
        ds.accept(obj)
        update = ds.update_object(uid(obj), b"v1")
        ds.reject(update)
        # Version 1 was rejected: the latest live version is 0, so its bytes are "unchanged".
        err = ds.refused(Conflict, ds.object_event(uid(obj), b"v0"))
        assert err.extra["existing"] == {"uuid": uid(obj), "version": 0}
        # ... while the rejected bytes may be proposed again.
        ds.update_object(uid(obj), b"v1")
        assert ds.flags(uid(obj), 2) == {"CP"}

    def test_update_of_a_schema_as_an_object_is_not_found(self, ds: Dataset) -> None:
        schema = ds.create_schema()
        ds.refused(NotFound, ds.object_event(uid(schema), b"{}", name="plain.json"))

    def test_update_of_an_object_as_a_schema_is_not_found(self, ds: Dataset) -> None:
        obj = ds.create_object()
        ds.refused(NotFound, ds.schema_event(uid(obj), OTHER_SCHEMA))


class TestDuplicateObjects:
    def test_duplicate_bytes_are_conflict_naming_existing(self, ds: Dataset) -> None:
        first = ds.create_object(data=b"photo", name="a.jpg")
        err = ds.refused(Conflict, ds.object_event(data=b"photo", name="b.jpg"),
                         match="same bytes")
        assert err.extra["existing"] == {"uuid": uid(first), "version": 0}
        assert err.to_json()["existing"] == {"uuid": uid(first), "version": 0}

    def test_duplicate_of_accepted_or_delete_pending_is_conflict(self, ds: Dataset) -> None:
        first = ds.create_object(data=b"photo")
        ds.accept(first)
        ds.refused(Conflict, ds.object_event(data=b"photo"))
        ds.delete_object(uid(first))
        err = ds.refused(Conflict, ds.object_event(data=b"photo"))
        assert err.extra["existing"] == {"uuid": uid(first), "version": 0}

    def test_duplicate_by_update_is_conflict(self, ds: Dataset) -> None:
        first = ds.create_object(data=b"photo")
        other = ds.create_object(data=b"other")
        err = ds.refused(Conflict, ds.object_event(uid(other), b"photo"))
        assert err.extra["existing"] == {"uuid": uid(first), "version": 0}

    def test_duplicate_of_own_older_version_is_conflict(self, ds: Dataset) -> None:
        obj = ds.create_object(data=b"v0")
        ds.update_object(uid(obj), b"v1")
        err = ds.refused(Conflict, ds.object_event(uid(obj), b"v0"))
        assert err.extra["existing"] == {"uuid": uid(obj), "version": 0}

    def test_duplicate_names_the_duplicate_version(self, ds: Dataset) -> None:
        obj = ds.create_object(data=b"v0")
        ds.update_object(uid(obj), b"v1")
        err = ds.refused(Conflict, ds.object_event(data=b"v1"))
        assert err.extra["existing"] == {"uuid": uid(obj), "version": 1}

    def test_duplicate_allowed_once_holder_rejected(self, ds: Dataset) -> None:
        first = ds.create_object(data=b"photo")
        ds.reject(first)
        second = ds.create_object(data=b"photo")
        assert ds.flags(uid(second)) == {"CP"}
        # ... and the new holder blocks further copies.
        err = ds.refused(Conflict, ds.object_event(data=b"photo"))
        assert err.extra["existing"] == {"uuid": uid(second), "version": 0}

    def test_duplicate_allowed_once_holder_deleted(self, ds: Dataset) -> None:
        first = ds.create_object(data=b"photo")
        ds.accept(first)
        ds.accept(ds.delete_object(uid(first)))
        second = ds.create_object(data=b"photo")
        assert ds.flags(uid(second)) == {"CP"}

    def test_schemas_do_not_count_as_duplicate_objects(self, ds: Dataset) -> None:
        ds.create_schema(data=LABEL_SCHEMA)
        obj = ds.create_object(data=LABEL_SCHEMA, name="label.json")
        assert ds.version(uid(obj)).kind == "object"


class TestSchemas:
    def test_name_unique_among_live_schemas(self, ds: Dataset) -> None:
        first = ds.create_schema(name="schema-label")
        err = ds.refused(Conflict, ds.schema_event(data=OTHER_SCHEMA, name="schema-label"),
                         match="already exists")
        assert err.extra["existing"]["uuid"] == uid(first)
        ds.accept(first)
        ds.refused(Conflict, ds.schema_event(data=OTHER_SCHEMA, name="schema-label"))

    def test_name_reusable_after_holder_rejected(self, ds: Dataset) -> None:
        first = ds.create_schema(name="schema-label")
        ds.reject(first)
        second = ds.create_schema(data=OTHER_SCHEMA, name="schema-label")
        assert uid(second) != uid(first)
        assert ds.state.schema_named("schema-label").uuid == uid(second)
        assert ds.flags(uid(second)) == {"CP"}
        # The new holder now holds the name.
        err = ds.refused(Conflict, ds.schema_event(data=LABEL_SCHEMA, name="schema-label"))
        assert err.extra["existing"]["uuid"] == uid(second)

    def test_name_held_while_any_version_is_live(self, ds: Dataset) -> None:
        first = ds.create_schema(name="schema-label")
        ds.accept(first)
        ds.reject(ds.update_schema(uid(first), OTHER_SCHEMA))
        ds.refused(Conflict, ds.schema_event(data=OTHER_SCHEMA, name="schema-label"))

    def test_different_names_may_share_bytes(self, ds: Dataset) -> None:
        ds.create_schema(name="schema-a")
        b = ds.create_schema(name="schema-b")
        assert ds.flags(uid(b)) == {"CP"}

    def test_update_must_change_the_bytes(self, ds: Dataset) -> None:
        schema = ds.create_schema(data=LABEL_SCHEMA)
        err = ds.refused(Conflict, ds.schema_event(uid(schema), LABEL_SCHEMA),
                         match="unchanged")
        assert err.extra["existing"] == {"uuid": uid(schema), "version": 0}

    def test_update_with_new_bytes(self, ds: Dataset) -> None:
        schema = ds.create_schema(data=LABEL_SCHEMA)
        update = ds.update_schema(uid(schema), OTHER_SCHEMA)
        assert update["type"] == ev.OBJECT_UPDATE
        assert ds.version(uid(schema), 1).hash == sha(OTHER_SCHEMA)

    def test_update_cannot_rename(self, ds: Dataset) -> None:
        schema = ds.create_schema(name="schema-label")
        ds.refused(Conflict, ds.schema_event(uid(schema), OTHER_SCHEMA, name="schema-other"))

    def test_deprecate_is_object_delete_of_schema(self, ds: Dataset) -> None:
        schema = ds.create_schema()
        ds.accept(schema)
        deletion = ds.delete_object(uid(schema))
        assert deletion["type"] == ev.OBJECT_DELETE
        ds.accept(deletion)
        assert ds.flags(uid(schema)) == {"DA"}
        assert ds.status(uid(schema)) == {"deleted"}


class TestDeletes:
    def test_delete_unknown_version_is_not_found(self, ds: Dataset) -> None:
        obj = ds.create_object()
        ds.refused(NotFound, ev.object_delete(BOB, ev.new_uuid(), 0))
        ds.refused(NotFound, ev.object_delete(BOB, uid(obj), 1))

    def test_object_delete_of_annotation_is_not_found(self, ds: Dataset) -> None:
        schema = ds.create_schema()
        obj = ds.create_object()
        ann = ds.create_annotation((uid(schema), 0), [(uid(obj), 0)])
        ds.refused(NotFound, ev.object_delete(BOB, uid(ann), 0))

    def test_annotation_delete_of_object_is_not_found(self, ds: Dataset) -> None:
        obj = ds.create_object()
        schema = ds.create_schema()
        ds.refused(NotFound, ev.annotation_delete(BOB, uid(obj), 0))
        ds.refused(NotFound, ev.annotation_delete(BOB, uid(schema), 0))

    def test_delete_touches_only_that_version(self, ds: Dataset) -> None:
        obj = ds.create_object()
        ds.update_object(uid(obj))
        ds.delete_object(uid(obj), 1)
        assert ds.flags(uid(obj), 0) == {"CP"}
        assert ds.flags(uid(obj), 1) == {"CP", "DP"}

    def test_anyone_may_propose_a_deletion(self, ds: Dataset) -> None:
        obj = ds.create_object(author=BOB)
        ds.delete_object(uid(obj), author=DAVE)
        assert "DP" in ds.flags(uid(obj))


# =============================================================================================
# Annotations
# =============================================================================================


@pytest.fixture
def world(ds: Dataset) -> tuple[Dataset, tuple[str, int], tuple[str, int]]:
    """A dataset with an accepted schema and an accepted object."""
    schema = ds.create_schema()
    ds.accept(schema)
    obj = ds.create_object()
    ds.accept(obj)
    return ds, (uid(schema), 0), (uid(obj), 0)


class TestAnnotations:
    def test_create_links_objects(self, world: Any) -> None:
        ds, schema, obj = world
        other = ds.create_object()
        ann = ds.create_annotation(schema, [obj, (uid(other), 0)])
        linked = {(link.annotation_uuid, link.object_uuid, link.object_version)
                  for link in ds.state.links}
        assert linked == {(uid(ann), obj[0], obj[1]), (uid(ann), uid(other), 0)}
        version = ds.version(uid(ann))
        assert version.kind == "annotation"
        assert (version.schema_uuid, version.schema_version) == schema
        assert ds.flags(uid(ann)) == {"CP"}

    def test_schema_version_missing_is_not_found(self, world: Any) -> None:
        ds, schema, obj = world
        ds.refused(NotFound, ds.annotation_create_event((ev.new_uuid(), 0), [obj]),
                   match="No schema")
        ds.refused(NotFound, ds.annotation_create_event((schema[0], 1), [obj]))

    def test_schema_ref_to_an_object_is_not_found(self, world: Any) -> None:
        ds, _, obj = world
        ds.refused(NotFound, ds.annotation_create_event(obj, [obj]))

    def test_rejected_schema_is_conflict(self, ds: Dataset) -> None:
        schema = ds.create_schema()
        ds.reject(schema)
        obj = ds.create_object()
        ds.refused(Conflict, ds.annotation_create_event((uid(schema), 0), [(uid(obj), 0)]),
                   match="rejected")

    def test_deprecated_schema_is_conflict(self, world: Any) -> None:
        ds, schema, obj = world
        ds.accept(ds.delete_object(schema[0]))
        ds.refused(Conflict, ds.annotation_create_event(schema, [obj]), match="deprecated")

    def test_pending_schema_is_allowed(self, ds: Dataset) -> None:
        schema = ds.create_schema()
        obj = ds.create_object()
        ann = ds.create_annotation((uid(schema), 0), [(uid(obj), 0)])
        assert ds.flags(uid(ann)) == {"CP"}

    def test_schema_with_deprecation_pending_is_allowed(self, world: Any) -> None:
        ds, schema, obj = world
        ds.delete_object(schema[0])
        ann = ds.create_annotation(schema, [obj])
        assert ds.flags(uid(ann)) == {"CP"}

    def test_older_live_schema_version_is_allowed(self, world: Any) -> None:
        ds, schema, obj = world
        ds.accept(ds.update_schema(schema[0], OTHER_SCHEMA))
        ann = ds.create_annotation(schema, [obj])
        assert ds.version(uid(ann)).schema_version == 0

    @pytest.mark.parametrize("identifiers", [[], None, "x", {"uuid": "x", "version": 0}])
    def test_object_identifiers_must_be_non_empty_list(self, world: Any,
                                                       identifiers: Any) -> None:
        ds, schema, _ = world
        ds.refused(Invalid, ds.annotation_create_event(schema, identifiers))

    def test_object_identifier_shape_is_checked(self, world: Any) -> None:
        ds, schema, obj = world
        bad = [[{"uuid": obj[0]}], [{"uuid": obj[0], "version": 0, "x": 1}], [obj[0]],
               [{"uuid": "nope", "version": 0}], [{"uuid": obj[0], "version": -1}]]
        for identifiers in bad:
            ds.refused(Invalid, ds.annotation_create_event(schema, identifiers))

    def test_duplicate_object_identifiers_are_invalid(self, world: Any) -> None:
        ds, schema, obj = world
        ds.refused(Invalid, ds.annotation_create_event(schema, [obj, obj]), match="twice")
        # The same version, spelt in another case, is still the same version.
        upper = {"uuid": obj[0].upper(), "version": obj[1]}
        ds.refused(Invalid, ds.annotation_create_event(
            schema, [ev.identifier(*obj), upper]))

    def test_two_versions_of_one_object_are_distinct(self, world: Any) -> None:
        ds, schema, obj = world
        ds.update_object(obj[0])
        ann = ds.create_annotation(schema, [obj, (obj[0], 1)])
        assert len([link for link in ds.state.links if link.annotation_uuid == uid(ann)]) == 2

    def test_missing_object_is_not_found(self, world: Any) -> None:
        ds, schema, obj = world
        ds.refused(NotFound, ds.annotation_create_event(schema, [obj, (ev.new_uuid(), 0)]))
        ds.refused(NotFound, ds.annotation_create_event(schema, [(obj[0], 1)]))

    def test_schema_as_object_is_invalid(self, world: Any) -> None:
        ds, schema, obj = world
        ds.refused(Invalid, ds.annotation_create_event(schema, [schema]),
                   match="is a schema, not an object")
        ds.refused(Invalid, ds.annotation_create_event(schema, [obj, schema]))

    def test_annotation_as_object_is_invalid(self, world: Any) -> None:
        ds, schema, obj = world
        ann = ds.create_annotation(schema, [obj])
        ds.refused(Invalid, ds.annotation_create_event(schema, [(uid(ann), 0)]),
                   match="is an annotation, not an object")

    def test_rejected_object_is_conflict(self, world: Any) -> None:
        ds, schema, _ = world
        obj = ds.create_object()
        ds.reject(obj)
        ds.refused(Conflict, ds.annotation_create_event(schema, [(uid(obj), 0)]),
                   match="rejected")

    def test_deleted_object_is_conflict(self, world: Any) -> None:
        ds, schema, obj = world
        ds.accept(ds.delete_object(obj[0]))
        ds.refused(Conflict, ds.annotation_create_event(schema, [obj]), match="deleted")

    def test_pending_or_delete_pending_object_is_allowed(self, world: Any) -> None:
        ds, schema, obj = world
        pending = ds.create_object()
        ds.delete_object(obj[0])
        ann = ds.create_annotation(schema, [obj, (uid(pending), 0)])
        assert ds.flags(uid(ann)) == {"CP"}

    def test_update_keeps_links_and_adds_version(self, world: Any) -> None:
        ds, schema, obj = world
        ann = ds.create_annotation(schema, [obj])
        links = set(ds.state.links)
        changes = ds.decide(ds.annotation_update_event(uid(ann), schema))
        assert not [c for c in changes if isinstance(c, rules.LinksAdded)]
        update = ds.update_annotation(uid(ann), schema)
        assert ver(update) == 1
        assert ds.state.links == links
        assert ds.state.item(uid(ann)).versions == 2
        assert ds.flags(uid(ann), 1) == {"CP"}

    def test_update_validates_schema_the_same_way(self, world: Any) -> None:
        ds, schema, obj = world
        ann = ds.create_annotation(schema, [obj])
        ds.refused(NotFound, ds.annotation_update_event(uid(ann), (ev.new_uuid(), 0)))
        rejected = ds.create_schema(data=OTHER_SCHEMA, name="schema-other")
        ds.reject(rejected)
        ds.refused(Conflict, ds.annotation_update_event(uid(ann), (uid(rejected), 0)))
        ds.accept(ds.delete_object(schema[0]))
        ds.refused(Conflict, ds.annotation_update_event(uid(ann), schema), match="deprecated")

    def test_update_must_change_something(self, world: Any) -> None:
        ds, schema, obj = world
        ann = ds.create_annotation(schema, [obj], data=b'{"label": "cat"}')
        err = ds.refused(Conflict,
                         ds.annotation_update_event(uid(ann), schema, b'{"label": "cat"}'),
                         match="unchanged")
        assert err.extra["existing"] == {"uuid": uid(ann), "version": 0}

    def test_update_may_change_only_the_schema_version(self, world: Any) -> None:
        ds, schema, obj = world
        ann = ds.create_annotation(schema, [obj], data=b'{"label": "cat"}')
        ds.update_schema(schema[0], OTHER_SCHEMA)
        ds.update_annotation(uid(ann), (schema[0], 1), b'{"label": "cat"}')
        assert ds.version(uid(ann), 1).schema_version == 1

    def test_update_of_unknown_annotation_is_not_found(self, world: Any) -> None:
        ds, schema, obj = world
        ds.refused(NotFound, ds.annotation_update_event(ev.new_uuid(), schema))
        ds.refused(NotFound, ds.annotation_update_event(obj[0], schema))

    def test_annotations_are_not_deduplicated(self, world: Any) -> None:
        ds, schema, obj = world
        a = ds.create_annotation(schema, [obj], data=b'{"label": "cat"}')
        b = ds.create_annotation(schema, [obj], data=b'{"label": "cat"}')
        assert uid(a) != uid(b)

    def test_accepting_annotation_whose_schema_was_rejected_is_conflict(
            self, ds: Dataset) -> None:
        schema = ds.create_schema()
        obj = ds.create_object()
        ann = ds.create_annotation((uid(schema), 0), [(uid(obj), 0)])
        ds.reject(schema)
        ds.refused(Conflict, ev.review(ALICE, ann["uuid"], accept=True))
        ds.reject(ann)  # rejecting it is still possible
        assert ds.flags(uid(ann)) == {"CR"}


# =============================================================================================
# Purity and bookkeeping
# =============================================================================================


class TestDecideIsPure:
    def test_decide_does_not_mutate_state(self, ds: Dataset) -> None:
        obj = ds.create_object()
        before = ds.state.snapshot()
        ds.decide(ev.review(ALICE, obj["uuid"], accept=True))
        ds.decide(ds.object_event())
        ds.decide(ev.owner_event(ALICE, BOB, add=True))
        assert ds.state.snapshot() == before

    def test_decide_does_not_mutate_event(self, ds: Dataset) -> None:
        event = ds.object_event()
        copy = json.loads(json.dumps(event))
        ds.decide(event)
        assert event == copy

    def test_every_event_is_recorded_with_its_seq(self, ds: Dataset) -> None:
        obj = ds.create_object()
        review = ds.accept(obj)
        added = ds.add_owner(BOB)
        assert [ds.state.events[e["uuid"]].seq for e in (obj, review, added)] == [2, 3, 4]
        assert ds.state.event(review["uuid"]).review is None
        assert ds.state.event(added["uuid"]).review is None
        info = ds.state.event(obj["uuid"])
        assert (info.type, info.target_uuid, info.target_version) == (
            ev.OBJECT_CREATE, uid(obj), 0)

    def test_item_order_is_creation_seq(self, ds: Dataset) -> None:
        a = ds.create_object()
        b = ds.create_object()
        ds.update_object(uid(a))
        assert ds.state.item(uid(a)).created_seq == 2
        assert ds.state.item(uid(b)).created_seq == 3


# =============================================================================================
# The shape of events: checked before any rule runs
# =============================================================================================


def _object_create() -> dict[str, Any]:
    return ev.object_write(ALICE, ev.object_metadata(ev.new_uuid(), 0, "a.txt", "text/plain",
                                                     1, sha(b"a")))


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda e: e["object"].pop("hash"), "no 'object.hash'"),
    (lambda e: e.pop("author"), "no 'author'"),
    (lambda e: e.__setitem__("object", ["not", "an", "object"]), "'object' must be an object"),
    (lambda e: e["object"].__setitem__("size", "12"), "'object.size' must be a whole number"),
    (lambda e: e["object"].__setitem__("size", True), "'object.size' must be a whole number"),
    (lambda e: e["object"].__setitem__("hash", 12), "'object.hash' must be a string"),
])
def test_malformed_event_is_invalid_before_any_rule_runs(mutate: Any, match: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    event = _object_create()
    mutate(event)
    reached: list[Any] = []
    monkeypatch.setitem(rules._HANDLERS, ev.OBJECT_CREATE, lambda *args: reached.append(args))
    with pytest.raises(Invalid, match=f"Malformed ObjectCreateEvent: {re.escape(match)}"):
        rules.decide(MemoryState(), event, 1)
    assert reached == []


def test_annotation_create_needs_a_list_of_object_identifiers() -> None:
    event = ev.annotation_create(ALICE, ev.annotation_metadata(
        ev.new_uuid(), 0, ev.new_uuid(), 0, 2, sha(b"{}")), [])
    event["object_identifiers"] = {"uuid": ev.new_uuid(), "version": 0}
    with pytest.raises(Invalid, match="'object_identifiers' must be a list"):
        rules.decide(MemoryState(), event, 1)


@pytest.mark.parametrize("event", [[], "ObjectCreateEvent", None, {"type": 7}])
def test_an_event_that_is_not_an_object_or_has_no_known_type_is_invalid(event: Any) -> None:
    with pytest.raises(Invalid):
        rules.decide(MemoryState(), event, 1)


def test_a_bug_in_a_rule_propagates_instead_of_becoming_invalid(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setitem(rules._HANDLERS, ev.OBJECT_CREATE, broken)
    with pytest.raises(KeyError):
        rules.decide(MemoryState(), _object_create(), 1)


@pytest.mark.parametrize(("noun", "capital", "expected"), [
    ("object", False, "an object"), ("annotation", False, "an annotation"),
    ("schema", False, "a schema"), ("OwnerAddEvent", True, "An OwnerAddEvent"),
    ("ObjectCreateEvent", True, "An ObjectCreateEvent"),
    ("ReviewAcceptEvent", True, "A ReviewAcceptEvent")])
def test_messages_choose_a_or_an(noun: str, capital: bool, expected: str) -> None:
    assert rules.with_article(noun, capital) == expected
