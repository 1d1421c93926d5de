"""The log is the source of truth: after a long random mix of allowed and refused operations,
replaying the stored events through the rules rebuilds exactly the stored derived state; and
tampering with the log or the derived state is caught by `verify`, naming what broke."""

from __future__ import annotations

import json
import random
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from gonk import service
from gonk.domain import integrity, rules
from gonk.domain.errors import GonkError
from gonk.domain.memory import MemoryState
from gonk.installation import Installation
from gonk.storage import tables as t
from gonk.storage.datasets import get as dataset_row
from gonk.storage.log import event_bodies
from gonk.storage.projection import SqlState
from gonk.users import add_user
from gonk.verify import verify_dataset


@pytest.fixture
def storage_kind() -> str:
    """The replay's subject is the rules and the projection code, the same on every backend
    (the API suite covers the backends); its `gonk-api verify` runs on the default storage."""
    return "sqlite-files"


USERS = ["alice", "bob", "carol"]
SCHEMA_NAMES = ["schema-label", "schema-box", "schema-other"]

SCHEMAS = [
    json.dumps({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
                "properties": {"label": {"type": "string"}}, "required": ["label"]}).encode(),
    json.dumps({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "definitions": {"point": {"type": "object", "required": ["x", "y"], "properties": {
            "x": {"type": "number"}, "y": {"type": "number"}}}},
        "type": "object", "required": ["points", "label"],
        "properties": {"label": {"type": "string"}, "points": {
            "type": "array", "items": {"$ref": "#/definitions/point"},
            "minItems": 2, "maxItems": 2}},
    }).encode(),
    json.dumps({"type": "object", "properties": {"label": {"maxLength": 4}}}).encode(),  # 2020-12
]
BAD_SCHEMAS = [b'{"type": 12}', b"not json at all", b'{"$schema": "http://example.com/nope"']

ANNOTATIONS = [
    b'{"label": "bird"}',
    json.dumps({"label": "bird", "points": [{"x": 1, "y": 0}, {"x": 7, "y": 5}]}).encode(),
    b'{"label": 5}',
    b'{"label": "bird", "points": [{"x": 1}]}',
    b"{oops",
    b'{"label": "toolong"}',
]

NOT_REVIEWABLE = ("OwnerAddEvent", "OwnerRemoveEvent", "ReviewAcceptEvent", "ReviewRejectEvent")

PAYLOADS = [f"payload {n}".encode() for n in range(30)] + [b""]


@dataclass
class Ledger:
    """What the test knows about one dataset from the service's answers."""

    name: str
    creator: str
    objects: dict[str, int] = field(default_factory=dict)  # uuid -> versions
    annotations: dict[str, int] = field(default_factory=dict)
    schemas: dict[str, int] = field(default_factory=dict)  # name -> versions
    events: list[tuple[str, str]] = field(default_factory=list)  # (uuid, type), in log order
    reviewed: set[str] = field(default_factory=set)  # events reviewed successfully
    successes: int = 0


def event_count(installation: Installation, name: str) -> int:
    with installation.db.read() as conn:
        return dataset_row(conn, name).event_count


def last_event(installation: Installation, name: str) -> tuple[str, str]:
    with installation.db.read() as conn:
        row = conn.execute(select(t.events.c.uuid, t.events.c.type)
                           .where(t.events.c.dataset_id == dataset_row(conn, name).id)
                           .order_by(t.events.c.seq.desc()).limit(1)).one()
    return row.uuid, row.type


def replay(installation: Installation, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the log replayed through the rules into memory, the stored derived state)."""
    with installation.db.read() as conn:
        dataset_id = dataset_row(conn, name).id
        state = MemoryState()
        head = ""
        for seq, event in enumerate(event_bodies(conn, dataset_id), start=1):
            head = integrity.link(head, event)
            assert event["integrity"] == head
            state.apply(rules.decide(state, event, seq))
        return state.snapshot(), SqlState(conn, dataset_id).snapshot()


class RandomClient:
    """Random operations, many of them refused, through gonk.service."""

    def __init__(self, installation: Installation, rng: random.Random,
                 ledgers: list[Ledger]) -> None:
        self.installation, self.rng, self.ledgers = installation, rng, ledgers
        self.outcomes: Counter[tuple[str, int]] = Counter()  # (operation, 200 or error status)

    # random picks
    def annotation(self) -> bytes:
        return self.rng.choices(ANNOTATIONS, [4, 6, 1, 1, 1, 1])[0]

    def user(self) -> str:
        return self.rng.choice([*USERS, "zed"] if self.rng.random() < 0.1 else USERS)

    def pick(self, known: dict[str, int]) -> str:
        if not known or self.rng.random() < 0.08:
            return str(uuidlib.uuid4())
        return self.rng.choice(list(known))  # insertion order: reproducible

    def version(self, versions: int) -> int:
        return self.rng.randrange(versions + 1)  # sometimes one past the last

    def object_refs(self, ledger: Ledger) -> list[dict[str, Any]]:
        refs = []
        for _ in range(self.rng.choice([1, 1, 2])):
            item = self.pick(ledger.objects)
            refs.append({"uuid": item, "version": self.version(ledger.objects.get(item, 1) - 1)})
        if self.rng.random() < 0.05:
            refs.append(dict(refs[0]))  # listed twice: 400
        if self.rng.random() < 0.04:
            refs = []
        return refs

    def schema_ref(self, ledger: Ledger) -> dict[str, Any]:
        name = self.rng.choice(SCHEMA_NAMES)
        return {"name": name, "version": self.version(ledger.schemas.get(name, 1) - 1)}

    # one random operation
    def step(self) -> None:
        rng, inst = self.rng, self.installation
        ledger = rng.choice(self.ledgers)
        ds, author = ledger.name, self.user()
        op = rng.choices(
            ["object_create", "object_update", "object_delete", "schema_create",
             "schema_update", "schema_deprecate", "annotation_create", "annotation_update",
             "annotation_delete", "review", "owner_add", "owner_remove", "member_set",
             "member_remove", "settings"],
            weights=[14, 7, 5, 3, 3, 2, 10, 5, 4, 26, 4, 3, 5, 2, 2])[0]
        before = event_count(inst, ds)
        try:
            if op == "object_create":
                name = rng.choices(["a.txt", "b.bin", "schema-sneaky", ""], [6, 6, 1, 1])[0]
                mimetype = rng.choices(["text/plain", "application/octet-stream", ""],
                                       [6, 6, 1])[0]
                result = service.create_object(inst, ds, author, name, mimetype,
                                               rng.choice(PAYLOADS))
                ledger.objects[result["uuid"]] = 1
            elif op == "object_update":
                item = self.pick(ledger.objects)
                result = service.update_object(inst, ds, author, item, "a.txt", "text/plain",
                                               rng.choice(PAYLOADS))
                ledger.objects[item] = result["version"] + 1
            elif op == "object_delete":
                item = self.pick(ledger.objects)
                service.delete_object(inst, ds, author, item,
                                      self.version(ledger.objects.get(item, 1) - 1))
            elif op == "schema_create":
                name = rng.choice([*SCHEMA_NAMES, "not-a-schema-name"])
                data = rng.choice(SCHEMAS + BAD_SCHEMAS[:1])
                service.create_schema(inst, ds, author, name, data)
                ledger.schemas[name] = 1
            elif op == "schema_update":
                name = rng.choice(SCHEMA_NAMES)
                data = rng.choice(SCHEMAS + BAD_SCHEMAS)
                result = service.update_schema(inst, ds, author, name, data)
                ledger.schemas[name] = result["versions"]
            elif op == "schema_deprecate":
                name = rng.choice(SCHEMA_NAMES)
                service.deprecate_schema(inst, ds, author, name,
                                         self.version(ledger.schemas.get(name, 1) - 1))
            elif op == "annotation_create":
                result = service.create_annotation(inst, ds, author, self.schema_ref(ledger),
                                                   self.object_refs(ledger), self.annotation())
                ledger.annotations[result["uuid"]] = 1
            elif op == "annotation_update":
                item = self.pick(ledger.annotations)
                result = service.update_annotation(inst, ds, author, item,
                                                   self.schema_ref(ledger), self.annotation())
                ledger.annotations[item] = result["version"] + 1
            elif op == "annotation_delete":
                item = self.pick(ledger.annotations)
                service.delete_annotation(inst, ds, author, item,
                                          self.version(ledger.annotations.get(item, 1) - 1))
            elif op == "review":
                # mostly content events, but also owner and review events (400), unknown
                # uuids (404) and second reviews (409)
                unreviewed = [e for e in ledger.events if e[1] not in NOT_REVIEWABLE
                              and e[0] not in ledger.reviewed]
                if unreviewed and rng.random() < 0.75:
                    target = rng.choice(unreviewed)[0]
                elif ledger.events and rng.random() < 0.8:
                    target = rng.choice(ledger.events)[0]
                else:
                    target = str(uuidlib.uuid4())
                if rng.random() < 0.7:
                    author = ledger.creator  # most reviews come from an owner
                service.review(inst, ds, author, target, accept=rng.random() < 0.6)
                ledger.reviewed.add(target)
            elif op == "owner_add":
                service.add_owner(inst, ds, author, self.user())
            elif op == "owner_remove":
                service.remove_owner(inst, ds, author, self.user())
            elif op == "member_set":  # roles then decide who may propose and review
                if rng.random() < 0.7:
                    author = ledger.creator
                role = rng.choice(["viewer", "annotator", "reviewer", "owner"])
                service.set_member(inst, ds, author, self.user(), role)
            elif op == "member_remove":
                service.remove_member(inst, ds, ledger.creator if rng.random() < 0.7 else author,
                                      self.user())
            elif op == "settings":
                service.change_settings(
                    inst, ds, ledger.creator if rng.random() < 0.7 else author,
                    rng.choice([None, "internal", "private", "public"]),
                    rng.choice([None, True, False]))
        except GonkError as exc:
            self.outcomes[(op, exc.status)] += 1
            assert event_count(inst, ds) == before, f"refused {op} left an event behind"
            return
        self.outcomes[(op, 200)] += 1
        ledger.successes += 1
        assert event_count(inst, ds) == before + 1, f"{op} did not append exactly one event"
        ledger.events.append(last_event(inst, ds))


def test_random_history_replays_to_the_stored_state(installation: Installation) -> None:
    for user in USERS:
        add_user(installation, user)
    service.create_dataset(installation, "alice", "alpha")
    service.create_dataset(installation, "bob", "beta")
    ledgers = [Ledger("alpha", "alice"), Ledger("beta", "bob")]
    for ledger in ledgers:
        ledger.events.append(last_event(installation, ledger.name))

    client = RandomClient(installation, random.Random(20240611), ledgers)
    for _ in range(400):
        client.step()

    # the sequence really exercised both sides of the rules
    statuses = Counter()
    for (_, status), n in client.outcomes.items():
        statuses[status] += n
    assert statuses[200] >= 120, client.outcomes
    assert sum(n for s, n in statuses.items() if s != 200) >= 120, client.outcomes
    for status in (400, 403, 404, 409, 422):
        assert statuses[status] > 0, (status, client.outcomes)
    ops = {op for op, status in client.outcomes if status == 200}
    assert {"object_create", "object_update", "object_delete", "schema_create",
            "annotation_create", "annotation_update", "review", "owner_add", "member_set",
            "member_remove", "settings"} <= ops

    for ledger in ledgers:
        # one event per successful operation, on top of the creator's OwnerAddEvent
        assert event_count(installation, ledger.name) == 1 + ledger.successes
        verdict = verify_dataset(installation, ledger.name)
        assert verdict.ok, verdict.message
        assert verdict.events == 1 + ledger.successes
        rebuilt, stored = replay(installation, ledger.name)
        assert rebuilt == stored
        assert stored["events"] and stored["versions"] and stored["owners"]
        reviews = Counter(e[3] for e in stored["events"])
        assert reviews["ACCEPTED"] and reviews["REJECTED"] and reviews["PENDING"]


# --- tampering --------------------------------------------------------------------------------


@pytest.fixture
def small(installation: Installation) -> dict[str, Any]:
    """Two datasets with a little history each; returns the uuids of alpha's events."""
    add_user(installation, "alice")
    add_user(installation, "bob")
    objects = {}
    for name in ("alpha", "beta"):
        service.create_dataset(installation, "alice", name)
        schema = service.create_schema(installation, name, "bob", "schema-label", SCHEMAS[0])
        objects[name] = service.create_object(installation, name, "bob", "a.txt", "text/plain",
                                              b"hello")
        service.create_annotation(installation, name, "bob", {"name": "schema-label", "version": 0},
                                  [objects[name]], ANNOTATIONS[0])
        assert schema["versions"] == 1
    with installation.db.read() as conn:
        events = list(event_bodies(conn, dataset_row(conn, "alpha").id))
    obj_event = next(e for e in events if e["type"] == "ObjectCreateEvent"
                     and e["object"]["name"] == "a.txt")
    service.review(installation, "alpha", "alice", obj_event["uuid"], accept=True)
    with installation.db.read() as conn:
        events = list(event_bodies(conn, dataset_row(conn, "alpha").id))
    for name in ("alpha", "beta"):
        assert verify_dataset(installation, name).ok
    return {"events": events, "object": objects["alpha"]}


def cli_verify(gonk_proc: Any, installation: Installation, *names: str) -> Any:
    return gonk_proc.run_cli("verify", *names, data_dir=installation.data_dir)


def alpha_id(installation: Installation) -> int:
    with installation.db.read() as conn:
        return dataset_row(conn, "alpha").id


def test_tampered_event_body_is_reported_by_name(installation: Installation, small: dict[str, Any],
                                                 gonk_proc: Any) -> None:
    victim = small["events"][2]  # the ObjectCreateEvent of a.txt
    assert victim["type"] == "ObjectCreateEvent"
    forged = dict(victim, author="mallory")
    ds = alpha_id(installation)
    with installation.db.write() as conn:
        conn.execute(update(t.events).where(t.events.c.dataset_id == ds,
                                            t.events.c.uuid == victim["uuid"])
                     .values(body=json.dumps(forged)))
    verdict = verify_dataset(installation, "alpha")
    assert not verdict.ok
    assert victim["uuid"] in verdict.message and "chain" in verdict.message
    assert verdict.line().startswith("alpha: FAILED")
    assert verify_dataset(installation, "beta").ok  # other datasets are unaffected

    result = cli_verify(gonk_proc, installation)
    assert result.returncode == 1
    assert "FAILED" in result.stdout and victim["uuid"] in result.stdout
    assert cli_verify(gonk_proc, installation, "beta").returncode == 0


def test_rewritten_chain_with_a_forbidden_event_is_reported_by_name(
        installation: Installation, small: dict[str, Any], gonk_proc: Any) -> None:
    """A forger who recomputes every integrity still cannot make a non-owner's review pass."""
    events = small["events"]
    victim = events[-1]
    assert victim["type"] == "ReviewAcceptEvent"
    events[-1] = dict(victim, author="bob")  # bob is not an owner of alpha
    _rewrite_chain(installation, events)
    verdict = verify_dataset(installation, "alpha")
    assert not verdict.ok
    assert victim["uuid"] in verdict.message and "not allowed" in verdict.message
    result = cli_verify(gonk_proc, installation, "alpha")
    assert result.returncode == 1 and victim["uuid"] in result.stdout


def test_tampered_derived_rows_are_reported(installation: Installation, small: dict[str, Any],
                                            gonk_proc: Any) -> None:
    ds = alpha_id(installation)
    pending = next(e for e in small["events"] if e["type"] == "AnnotationCreateEvent")
    # a derived column of the events table: claim the pending annotation was accepted
    with installation.db.write() as conn:
        conn.execute(update(t.events).where(t.events.c.dataset_id == ds,
                                            t.events.c.uuid == pending["uuid"])
                     .values(review="ACCEPTED"))
    verdict = verify_dataset(installation, "alpha")
    assert not verdict.ok and "events" in verdict.message
    assert pending["uuid"] in verdict.message
    result = cli_verify(gonk_proc, installation, "alpha")
    assert result.returncode == 1 and "FAILED" in result.stdout
    assert pending["uuid"] in result.stdout

    # put it back: clean again; then flip a version's flags instead
    with installation.db.write() as conn:
        conn.execute(update(t.events).where(t.events.c.dataset_id == ds,
                                            t.events.c.uuid == pending["uuid"])
                     .values(review="PENDING"))
    assert verify_dataset(installation, "alpha").ok
    obj = small["object"]
    with installation.db.write() as conn:
        conn.execute(update(t.versions).where(
            t.versions.c.dataset_id == ds, t.versions.c.uuid == obj["uuid"],
            t.versions.c.version == 0).values(delete_accepted=True))
    verdict = verify_dataset(installation, "alpha")
    assert not verdict.ok and "versions" in verdict.message and obj["uuid"] in verdict.message
    assert cli_verify(gonk_proc, installation).returncode == 1


def test_missing_last_event_is_reported(installation: Installation, small: dict[str, Any],
                                        gonk_proc: Any) -> None:
    ds = alpha_id(installation)
    last = small["events"][-1]
    with installation.db.write() as conn:
        conn.execute(delete(t.events).where(t.events.c.dataset_id == ds,
                                            t.events.c.uuid == last["uuid"]))
    verdict = verify_dataset(installation, "alpha")
    assert not verdict.ok and "head" in verdict.message
    assert last["integrity"] in verdict.message
    assert cli_verify(gonk_proc, installation, "alpha").returncode == 1


def test_verify_of_unknown_dataset_fails_cleanly(installation: Installation, gonk_proc: Any,
                                                 tmp_path: Path) -> None:
    result = cli_verify(gonk_proc, installation, "nope")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "nope" in result.stderr
    empty = cli_verify(gonk_proc, installation)
    assert empty.returncode == 0


def _rewrite_chain(installation: Installation, events: list[dict[str, Any]]) -> None:
    """Store `events` as alpha's log with every integrity recomputed (a forger's work)."""
    head = ""
    ds = alpha_id(installation)
    with installation.db.write() as conn:
        for event in events:
            event["integrity"] = head = integrity.link(head, event)
            conn.execute(update(t.events).where(t.events.c.dataset_id == ds,
                                                t.events.c.uuid == event["uuid"])
                         .values(body=json.dumps(event), integrity=head))
        conn.execute(update(t.datasets).where(t.datasets.c.id == ds)
                     .values(head_integrity=head))


def test_a_review_by_a_member_without_the_reviewer_role_fails_verify(
        installation: Installation, small: dict[str, Any]) -> None:
    """bob is made an annotator of alpha; a rewritten chain that has him accept a change is
    caught on replay, naming that review: who was entitled to review is in the log."""
    service.set_member(installation, "alpha", "alice", "bob", "annotator")
    service.create_object(installation, "alpha", "alice", "b.txt", "text/plain", b"bee")
    with installation.db.read() as conn:
        events = list(event_bodies(conn, dataset_row(conn, "alpha").id))
    created = events[-1]
    service.review(installation, "alpha", "alice", created["uuid"], accept=True)
    assert verify_dataset(installation, "alpha").ok
    with installation.db.read() as conn:
        events = list(event_bodies(conn, dataset_row(conn, "alpha").id))
    review = events[-1]
    assert review["type"] == "ReviewAcceptEvent"
    events[-1] = dict(review, author="bob")
    _rewrite_chain(installation, events)
    verdict = verify_dataset(installation, "alpha")
    assert not verdict.ok
    assert review["uuid"] in verdict.message and "reviewer role" in verdict.message


def test_accepting_ones_own_change_under_four_eyes_fails_verify(
        installation: Installation, small: dict[str, Any]) -> None:
    service.change_settings(installation, "alpha", "alice", None, True)
    service.create_object(installation, "alpha", "bob", "b.txt", "text/plain", b"bee")
    with installation.db.read() as conn:
        created = list(event_bodies(conn, dataset_row(conn, "alpha").id))[-1]
    service.review(installation, "alpha", "alice", created["uuid"], accept=True)
    assert verify_dataset(installation, "alpha").ok
    with installation.db.read() as conn:
        events = list(event_bodies(conn, dataset_row(conn, "alpha").id))
    events[-2] = dict(events[-2], author="alice")  # the change now alice's own
    _rewrite_chain(installation, events)
    verdict = verify_dataset(installation, "alpha")
    assert not verdict.ok
    assert events[-1]["uuid"] in verdict.message and "another reviewer" in verdict.message
