"""Reads "as of" a point of the log, checked against a replay (property-based, hypothesis).

Random histories of creates, updates, deletes, accepts and rejects of objects, schemas and
annotations go through gonk.service (refused operations are skipped). Then, at every point p of
the log, the first p events are replayed through the rules into a MemoryState, and the as-of
answers of gonk.queries (lists and status lists of every kind, filters, item info, version loads
with their events and reviews as they were, schemas by name, objects by hash, the events and
the pending events) must be what that replay says (check_every_point). The diffs of
gonk.releases between points, walked in pages of 3, must be the difference of the two contents
computed here from the replay by the definition (per item its newest version accepted and not
deleted; an annotation only when every object version it links to is in the content). A release
at a drawn point must count and list exactly that content, and `verify` must pass.

test_releases_storage.py uses check_every_point, check_release, replay and stored_log."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import select

from gonk import queries, releases, service
from gonk.domain import events as ev
from gonk.domain import rules
from gonk.domain.errors import GonkError, NotFound
from gonk.domain.memory import MemoryState
from gonk.domain.rules import Version
from gonk.installation import Installation
from gonk.storage import points
from gonk.storage import tables as t
from gonk.storage.datasets import get as dataset_row
from gonk.verify import verify_dataset

KINDS = (rules.SCHEMA, rules.OBJECT, rules.ANNOTATION)  # the order of manifests and diffs
STATUSES = ("accepted", "pending", "deleted", "rejected")
AUTHOR = "alice"

PAYLOADS = [f"payload {n}".encode() for n in range(12)]  # few: some creates collide by hash
OBJECT_NAMES = ["a.txt", "ab.bin", "b.txt"]
SCHEMA_NAMES = ["schema-x", "schema-y"]
SCHEMA_BODIES = [json.dumps({"type": "object", "title": f"t{n}"}).encode() for n in range(4)]
DOCUMENTS = [json.dumps({"label": f"d{n}"}).encode() for n in range(4)]

OPERATIONS = (["create_object"] * 3 + ["update_object"] * 2 + ["delete_object"] * 2
              + ["create_schema", "update_schema", "deprecate_schema"]
              + ["create_annotation"] * 3 + ["update_annotation"] * 2 + ["delete_annotation"]
              + ["review"] * 7)

# One operation: its name, three numbers and a flag, read as the operation needs them (indices
# into what exists when it runs: modulo, so every draw means something and shrinks well).
OPERATION = st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 30), st.integers(0, 30),
                      st.integers(0, 30), st.booleans())
HISTORY = st.lists(OPERATION, min_size=8, max_size=40)
SHORT_HISTORY = st.lists(OPERATION, min_size=8, max_size=25)
PAIRS = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=5)

_datasets = itertools.count(1)


# --- making a history ----------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the test knows of the dataset from the service's answers, to pick targets."""

    objects: list[str] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # uuid -> versions
    attempted: int = 0


def _pending_events(installation: Installation, dataset: str) -> list[str]:
    return [json.loads(body)["uuid"]
            for body in queries.event_page(installation, dataset, None, 10_000, pending=True)]


def _schema_versions(installation: Installation, dataset: str, name: str) -> int:
    try:
        return int(queries.schema_info(installation, dataset, name)["versions"])
    except NotFound:
        return 0


def _live_schemas(installation: Installation, dataset: str) -> list[tuple[str, int]]:
    """(name, version) of the schema versions an annotation may use: accepted or pending."""
    return sorted({(entry["name"], entry["version"]) for status in ("accepted", "pending")
                   for entry in queries.list_by_status(installation, dataset, rules.SCHEMA,
                                                       status, None, None)})


def apply_operation(installation: Installation, dataset: str, ledger: Ledger,
                    op: tuple[str, int, int, int, bool]) -> None:
    """Run one drawn operation through gonk.service; a refusal (GonkError) is skipped. An
    operation that has nothing to act on yet makes what it needs instead (an object, a schema,
    an annotation), and the numbers are shifted by the operation's position, so that a run of
    equal draws does not repeat one refused request: most operations make an event."""
    name, a, b, c, flag = op
    i = ledger.attempted
    ledger.attempted += 1
    a, b, c = a + i, b + 2 * i, c + 3 * i
    inst, ds = installation, dataset
    live_schemas: list[tuple[str, int]] = []
    if name in ("create_annotation", "update_annotation"):
        live_schemas = _live_schemas(inst, ds)
    if name in ("update_annotation", "delete_annotation") and not ledger.annotations:
        name = "create_annotation"
    if name.endswith("_object") or name == "create_annotation":
        if not ledger.objects:
            name = "create_object"
    if name in ("create_annotation", "update_annotation") and not live_schemas:
        name = "create_schema"
    pending = _pending_events(inst, ds) if name == "review" else []
    if name == "review" and not pending:
        name = "create_object"

    def version_of(uuid: str, n: int) -> int:
        return n % ledger.versions[uuid]

    try:
        if name == "create_object":
            made = service.create_object(inst, ds, AUTHOR, OBJECT_NAMES[b % 3], "text/plain",
                                         PAYLOADS[a % len(PAYLOADS)])
            ledger.objects.append(made["uuid"])
            ledger.versions[made["uuid"]] = 1
        elif name == "update_object":
            uuid = ledger.objects[a % len(ledger.objects)]
            made = service.update_object(inst, ds, AUTHOR, uuid, OBJECT_NAMES[c % 3],
                                         "text/plain", PAYLOADS[b % len(PAYLOADS)])
            ledger.versions[uuid] = made["version"] + 1
        elif name == "delete_object":
            uuid = ledger.objects[a % len(ledger.objects)]
            service.delete_object(inst, ds, AUTHOR, uuid, version_of(uuid, b))
        elif name == "create_schema":
            service.create_schema(inst, ds, AUTHOR, SCHEMA_NAMES[a % 2],
                                  SCHEMA_BODIES[b % len(SCHEMA_BODIES)])
        elif name == "update_schema":
            service.update_schema(inst, ds, AUTHOR, SCHEMA_NAMES[a % 2],
                                  SCHEMA_BODIES[b % len(SCHEMA_BODIES)])
        elif name == "deprecate_schema":
            count = _schema_versions(inst, ds, SCHEMA_NAMES[a % 2])
            if not count:
                return
            service.deprecate_schema(inst, ds, AUTHOR, SCHEMA_NAMES[a % 2], b % count)
        elif name == "create_annotation":
            schema_name, schema_version = live_schemas[a % len(live_schemas)]
            picked = {ledger.objects[b % len(ledger.objects)]}
            if flag:
                picked.add(ledger.objects[c % len(ledger.objects)])
            identifiers = [{"uuid": uuid, "version": version_of(uuid, a + c)}
                           for uuid in sorted(picked)]
            made = service.create_annotation(inst, ds, AUTHOR,
                                             {"name": schema_name, "version": schema_version},
                                             identifiers, DOCUMENTS[b % len(DOCUMENTS)])
            ledger.annotations.append(made["uuid"])
            ledger.versions[made["uuid"]] = 1
        elif name == "update_annotation":
            uuid = ledger.annotations[a % len(ledger.annotations)]
            schema_name, schema_version = live_schemas[b % len(live_schemas)]
            made = service.update_annotation(inst, ds, AUTHOR, uuid,
                                             {"name": schema_name, "version": schema_version},
                                             DOCUMENTS[c % len(DOCUMENTS)])
            ledger.versions[uuid] = made["version"] + 1
        elif name == "delete_annotation":
            uuid = ledger.annotations[a % len(ledger.annotations)]
            service.delete_annotation(inst, ds, AUTHOR, uuid, version_of(uuid, b))
        else:  # a review: five in six accepted
            service.review(inst, ds, AUTHOR, pending[a % len(pending)], flag or c % 3 > 0)
    except GonkError:
        pass


# --- what the replay says ------------------------------------------------------------------------


def stored_log(installation: Installation, dataset: str) -> list[str]:
    """The dataset's events as stored (the JSON text), in log order."""
    with installation.db.read() as conn:
        dataset_id = dataset_row(conn, dataset).id
        return list(conn.execute(select(t.events.c.body).where(
            t.events.c.dataset_id == dataset_id).order_by(t.events.c.seq)).scalars())


Content = dict[str, Version]  # item uuid -> the version in the content


def newest_accepted(state: MemoryState) -> Content:
    """Per item, its newest version accepted and not deleted (status word "accepted")."""
    newest: Content = {}
    for (uuid, number), version in state.versions.items():
        if "accepted" in version.status_words() and (
                uuid not in newest or newest[uuid].version < number):
            newest[uuid] = version
    return newest


def content(state: MemoryState) -> Content:
    """The content of a replayed state, by the definition: per item its newest version accepted
    and not deleted; an annotation only if every object version it links to is in it."""
    newest = newest_accepted(state)
    return {uuid: version for uuid, version in newest.items()
            if version.kind != rules.ANNOTATION or not stale(state, newest, uuid)}


def links(state: MemoryState, annotation_uuid: str) -> list[tuple[str, int]]:
    """The object versions an annotation links to, in the order its create event listed them."""
    found = sorted((link.position, link.object_uuid, link.object_version)
                   for link in state.links if link.annotation_uuid == annotation_uuid)
    return [(uuid, number) for _, uuid, number in found]


def stale(state: MemoryState, newest: Content, annotation_uuid: str) -> bool:
    return any(uuid not in newest or newest[uuid].version != number
               for uuid, number in links(state, annotation_uuid))


def in_order(state: MemoryState, kind: str) -> list[rules.Item]:
    return sorted((item for item in state.items.values() if item.kind == kind),
                  key=lambda item: item.created_seq)


def expected_list(state: MemoryState, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in in_order(state, kind):
        newest = state.versions[(item.uuid, item.versions - 1)]
        if kind == rules.SCHEMA:
            found.append({"name": item.name, "uuid": item.uuid, "versions": item.versions})
        elif kind == rules.ANNOTATION:
            assert newest.schema_uuid is not None
            found.append({"uuid": item.uuid, "versions": item.versions, "schema": {
                "uuid": newest.schema_uuid, "version": newest.schema_version,
                "name": state.items[newest.schema_uuid].name}})
        else:
            found.append({"uuid": item.uuid, "versions": item.versions, "name": newest.name})
    return found


def expected_status(state: MemoryState, kind: str, status: str) -> list[dict[str, Any]]:
    found = sorted((state.items[v.uuid].created_seq, v.version, v)
                   for v in state.versions.values()
                   if v.kind == kind and status in v.status_words())
    if kind == rules.SCHEMA:
        return [{"uuid": v.uuid, "name": v.name, "version": v.version} for *_, v in found]
    return [{"uuid": v.uuid, "version": v.version} for *_, v in found]


def expected_metadata(v: Version) -> dict[str, Any]:
    if v.kind == rules.ANNOTATION:
        return {"uuid": v.uuid, "version": v.version,
                "schema": {"uuid": v.schema_uuid, "version": v.schema_version},
                "size": v.size, "hash_type": 1, "hash": v.hash}
    return {"uuid": v.uuid, "version": v.version, "name": v.name, "format": v.format,
            "size": v.size, "hash_type": 1, "hash": v.hash}


def expected_load(state: MemoryState, v: Version) -> dict[str, Any]:
    noun = queries.NOUN[v.kind]
    touching = sorted((e for e in state.events.values()
                       if (e.target_uuid, e.target_version) == (v.uuid, v.version)),
                      key=lambda e: e.seq)
    result: dict[str, Any] = {
        noun: expected_metadata(v), "bytes": None,
        "events": [{"uuid": e.uuid, "type": e.type, "review": e.review} for e in touching]}
    if v.kind == rules.OBJECT:
        result["annotations"] = [
            {"uuid": a.uuid, "versions": a.versions} for a in in_order(state, rules.ANNOTATION)
            if (v.uuid, v.version) in links(state, a.uuid)]
    elif v.kind == rules.ANNOTATION:
        result["objects"] = [{"uuid": uuid, "version": number}
                             for uuid, number in links(state, v.uuid)]
    return result


# --- the checks ----------------------------------------------------------------------------------

# A read: what it asks, as a key of `expectations` and an argument of `read`.
Key = tuple[Any, ...]
PAGED = ("paged objects", "paged pending")


def _paged(read_page: Callable[[str | None], list[Any]],
           cursor: Callable[[Any], str]) -> list[Any]:
    """Every page of a list in pages of 2, each cursor the last entry of the page before."""
    found: list[Any] = []
    after = None
    while True:
        page = read_page(after)
        assert len(page) <= 2
        found += page
        if len(page) < 2:
            return found
        after = cursor(page[-1])


def read(inst: Installation, ds: str, at: str, key: Key) -> Any:
    """One as-of read (at `at`: an event uuid or a release name), NotFound for a 404."""
    try:
        match key:
            case ("list", kind):
                return queries.list_items(inst, ds, kind, None, None, as_of=at)
            case ("status", kind, status):
                return queries.list_by_status(inst, ds, kind, status, None, None, as_of=at)
            case ("paged objects",):
                return _paged(lambda after: queries.list_items(inst, ds, rules.OBJECT, after, 2,
                                                               as_of=at),
                              lambda entry: str(entry["uuid"]))
            case ("named", name):
                return queries.list_items(inst, ds, rules.OBJECT, None, None, name=name,
                                          as_of=at)
            case ("prefix", prefix):
                return queries.list_items(inst, ds, rules.OBJECT, None, None, prefix=prefix,
                                          as_of=at)
            case ("annotations of", name):
                return queries.list_items(inst, ds, rules.ANNOTATION, None, None,
                                          schema_name=name, as_of=at)
            case ("schema info", name):
                return queries.schema_info(inst, ds, name, as_of=at)
            case ("schema load", name, number):
                return queries.load_version(inst, ds, rules.SCHEMA, None, number,
                                            schema_name=name, with_bytes=False, as_of=at)
            case ("item", kind, uuid):
                return queries.item_info(inst, ds, kind, uuid, as_of=at)
            case ("load", kind, uuid, number):
                return queries.load_version(inst, ds, kind, uuid, number, with_bytes=False,
                                            as_of=at)
            case ("hash", digest):
                return queries.objects_with_hash(inst, ds, digest, as_of=at)
            case ("events",):
                return queries.event_page(inst, ds, None, 10_000, as_of=at)
            case ("pending",):
                return queries.event_page(inst, ds, None, 10_000, pending=True, as_of=at)
            case ("paged pending",):
                return _paged(lambda after: queries.event_page(inst, ds, after, 2, pending=True,
                                                               as_of=at),
                              lambda body: str(json.loads(body)["uuid"]))
        raise AssertionError(f"no read {key}")
    except NotFound:
        return NotFound


def expectations(state: MemoryState, final: MemoryState, log: list[str]) -> dict[Key, Any]:
    """Every as-of read the checks make, by key (see `read`), and what it answers at the point
    whose replay is `state` (NotFound for a 404): lists and status lists of every kind (objects
    and pending events also walked in pages), the filters, schemas by name, every item and
    version of the whole log `final` (so also before they existed), objects by hash, the log
    and the events awaiting review."""
    p = len(state.events)
    found: dict[Key, Any] = {}
    for kind in KINDS:
        found[("list", kind)] = expected_list(state, kind)
        for status in STATUSES:
            found[("status", kind, status)] = expected_status(state, kind, status)
    objects = expected_list(state, rules.OBJECT)
    found[("paged objects",)] = objects
    found[("named", "a.txt")] = [o for o in objects if o["name"] == "a.txt"]
    found[("prefix", "a")] = [o for o in objects if o["name"].startswith("a")]
    annotations = expected_list(state, rules.ANNOTATION)
    for name in SCHEMA_NAMES:
        uuids = state.schema_names.get(name, [])
        found[("annotations of", name)] = (
            [a for a in annotations if a["schema"]["uuid"] in uuids] if uuids else NotFound)
        holder = state.schema_named(name)
        found[("schema info", name)] = NotFound if holder is None else {
            "name": name, "uuid": holder.uuid, "versions": holder.versions}
        most = max((item.versions for item in final.items.values() if item.name == name),
                   default=0)
        for number in range(most):
            found[("schema load", name, number)] = (
                NotFound if holder is None or number >= holder.versions
                else expected_load(state, state.versions[(holder.uuid, number)]))
    for item in final.items.values():
        then = state.items.get(item.uuid)
        found[("item", item.kind, item.uuid)] = (
            NotFound if then is None else {"uuid": item.uuid, "versions": then.versions})
    for (uuid, number), version in final.versions.items():
        was = state.versions.get((uuid, number))
        found[("load", version.kind, uuid, number)] = (
            NotFound if was is None else expected_load(state, was))
    for payload in PAYLOADS:
        digest = hashlib.sha256(payload).hexdigest()
        live = sorted((state.items[v.uuid].created_seq, v.version, v.uuid)
                      for v in state.versions.values()
                      if v.kind == rules.OBJECT and v.hash == digest and v.live)
        found[("hash", digest)] = [{"uuid": uuid, "version": number} for _, number, uuid in live]
    found[("events",)] = log[:p]
    awaiting = {e.uuid for e in state.events.values() if e.review == ev.PENDING}
    found[("pending",)] = [body for body in log[:p] if json.loads(body)["uuid"] in awaiting]
    found[("paged pending",)] = found[("pending",)]
    return found


def replay(log: list[str]) -> list[MemoryState]:
    """The replayed state at every point 0..len(log) (copies, one per point)."""
    state = MemoryState()
    states = [copy.deepcopy(state)]
    for seq, body in enumerate(log, start=1):
        state.apply(rules.decide(state, json.loads(body), seq))
        states.append(copy.deepcopy(state))
    return states


def check_every_point(installation: Installation, dataset: str) -> list[MemoryState]:
    """Every read of `expectations` at every point of the dataset's log against the replay up to
    it. A read is made at each point where its answer differs from the point before or after
    (so on both sides of every change: an off-by-one in a condition shows there), and at the
    first and last points; between those its answer is the same, so asking there too would
    only make the test slower. Returns the replayed states (index p: right after event #p)."""
    log = stored_log(installation, dataset)
    states = replay(log)
    final = states[-1]
    expected: list[dict[Key, Any]] = [{}] + [expectations(state, final, log) for state in states[1:]]
    n = len(log)
    for p in range(1, n + 1):
        at = json.loads(log[p - 1])["uuid"]
        for key, value in expected[p].items():
            if 1 < p < n and value == expected[p - 1][key] == expected[p + 1][key]:
                continue
            if key[0] in PAGED and 1 < p < n and p % 4:
                continue  # the same list as an unpaged key, at one changing point in four
            assert read(installation, dataset, at, key) == value, f"at #{p} ({at}): {key}"
    return states


def expected_diff(final: MemoryState, old: Content, new: Content) -> list[dict[str, Any]]:
    def side(v: Version | None) -> dict[str, Any] | None:
        return None if v is None else {"version": v.version, "name": v.name, "sha256": v.hash}

    changes = []
    for kind in KINDS:
        for item in in_order(final, kind):
            before, after = old.get(item.uuid), new.get(item.uuid)
            if before is None and after is None:
                continue
            if before is not None and after is not None and before.version == after.version:
                continue
            change = "added" if before is None else "removed" if after is None else "changed"
            changes.append({"kind": kind, "uuid": item.uuid, "change": change,
                            "from": side(before), "to": side(after)})
    return changes


def walk_diff(installation: Installation, dataset: str, start: str | None, end: str | None,
              limit: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = releases.diff_page(installation, dataset, start, end, after, limit)
        assert len(page) <= limit
        found += page
        if len(page) < limit:
            return found
        after = page[-1]["uuid"]


def expected_manifest_line(state: MemoryState, v: Version) -> dict[str, Any]:
    line: dict[str, Any] = {"kind": v.kind, "uuid": v.uuid, "version": v.version,
                            "name": v.name, "size": v.size, "sha256": v.hash}
    if v.kind == rules.ANNOTATION:
        line["mimetype"] = "application/json"
        line["schema"] = {"uuid": v.schema_uuid, "version": v.schema_version}
        line["objects"] = [{"uuid": uuid, "version": number}
                           for uuid, number in sorted(links(state, v.uuid))]
    else:
        line["mimetype"] = v.format
    return line


def check_release(installation: Installation, dataset: str, name: str,
                  state: MemoryState, final: MemoryState) -> None:
    """A release's counts and manifest are the content of `state` (its point's replay)."""
    inside = content(state)
    release, lines = releases.release_manifest(installation, dataset, name)
    raw = b"".join(lines)
    assert hashlib.sha256(raw).hexdigest() == release.manifest_sha256
    expected = [expected_manifest_line(state, inside[item.uuid])
                for kind in KINDS for item in in_order(final, kind) if item.uuid in inside]
    assert [json.loads(line) for line in raw.splitlines()] == expected
    newest = newest_accepted(state)
    stale_count = sum(1 for uuid, v in newest.items()
                      if v.kind == rules.ANNOTATION and stale(state, newest, uuid))
    kinds = [v.kind for v in inside.values()]
    assert releases.get_release(installation, dataset, name)["counts"] == {
        "objects": kinds.count(rules.OBJECT), "schemas": kinds.count(rules.SCHEMA),
        "annotations": kinds.count(rules.ANNOTATION),
        "bytes": sum(v.size for v in inside.values()), "stale_annotations": stale_count}


def describe(states: list[MemoryState], contents: list[Content]) -> None:
    """What the history reached (hypothesis's statistics: --hypothesis-show-statistics), and a
    push towards longer logs."""
    final = states[-1]
    target(float(len(final.events)), label="events")
    event(f"events: {len(final.events) // 10 * 10}+")
    words = set().union(*(v.status_words() for v in final.versions.values()))
    for word in sorted(words):
        event(f"a version {word}")
    if any(v.delete_pending and not v.create_pending for v in final.versions.values()):
        event("a deletion pending")
    if any(len(uuids) > 1 for uuids in final.schema_names.values()):
        event("a schema name passed on")
    if any(newest_accepted(state).keys() != inside.keys()
           for state, inside in zip(states, contents, strict=True)):
        event("a stale annotation")
    if any(v.kind == rules.ANNOTATION for inside in contents for v in inside.values()):
        event("an annotation in a content")


# --- the property --------------------------------------------------------------------------------


def run_history(installation: Installation, history: list[tuple[str, int, int, int, bool]],
                pairs: list[tuple[int, int]], release_at: int) -> None:
    """Make the history in a new dataset, check every point, diffs between consecutive points,
    between the ends and between drawn `pairs`, and a release at a drawn point."""
    dataset = f"points-{next(_datasets)}"
    service.create_dataset(installation, AUTHOR, dataset)
    ledger = Ledger()
    for op in history:
        apply_operation(installation, dataset, ledger, op)
    states = check_every_point(installation, dataset)
    log = stored_log(installation, dataset)
    n = len(log)
    uuids: list[str | None] = [None] + [json.loads(body)["uuid"] for body in log]
    contents = [content(state) for state in states]
    final = states[-1]
    if currently_in_test_context():
        describe(states, contents)

    def check_diff(i: int, j: int, limit: int, to_latest: bool = False) -> None:
        expected = expected_diff(final, contents[i], contents[j])
        # both ways of reading a diff: the items the accepts between the points touched
        # (points close together), and every item (points.CANDIDATE_EVENTS apart or more)
        for close in (points.CANDIDATE_EVENTS, -1):
            with mock.patch.object(points, "CANDIDATE_EVENTS", close):
                found = walk_diff(installation, dataset, uuids[i],
                                  None if to_latest else uuids[j], limit)
            assert found == expected, f"diff #{i} -> #{j} (candidates within {close} events)"

    for p in range(1, n + 1):  # each event's own change, and from the empty dataset
        check_diff(p - 1, p, 3)
    # (`to` names an event: point 0, the empty dataset, is only ever a `from`)
    for i, j in [(0, n), (n, 1), (n, n), *((i % (n + 1), 1 + j % n) for i, j in pairs)]:
        check_diff(i, j, 3)
    check_diff(pairs[0][0] % (n + 1), n, 3, to_latest=True)

    # a release at a drawn point: its counts and manifest, reads by its name, verify
    point = 1 + release_at % n
    made = releases.create_release(installation, dataset, AUTHOR, "r1", "", uuids[point])
    assert made["at"] == {"uuid": uuids[point], "index": point - 1,
                          "integrity": json.loads(log[point - 1])["integrity"]}
    check_release(installation, dataset, "r1", states[point], final)
    for key, value in expectations(states[point], final, log).items():  # as_of=<its name>
        assert read(installation, dataset, "r1", key) == value, f"as of r1: {key}"
    assert walk_diff(installation, dataset, "r1", None, 3) == \
        expected_diff(final, contents[point], contents[n])
    verdict = verify_dataset(installation, dataset)
    assert verdict.ok, verdict.message


# Examples take up to a few seconds: no deadline; the installation is shared by the examples of
# a test, each in a dataset of its own.
SLOW = settings(deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("storage_kind", ["sqlite-files"], indirect=True)
@settings(SLOW, max_examples=12)
@given(history=HISTORY, pairs=PAIRS, release_at=st.integers(0, 60))
def test_as_of_reads_and_diffs_equal_the_replay(
        installation: Installation, history: list[tuple[str, int, int, int, bool]],
        pairs: list[tuple[int, int]], release_at: int) -> None:
    run_history(installation, history, pairs, release_at)


@pytest.mark.parametrize("storage_kind", ["postgres-files"], indirect=True)
@settings(SLOW, max_examples=3)
@given(history=SHORT_HISTORY, pairs=PAIRS, release_at=st.integers(0, 60))
def test_as_of_reads_and_diffs_equal_the_replay_on_postgres(
        installation: Installation, history: list[tuple[str, int, int, int, bool]],
        pairs: list[tuple[int, int]], release_at: int) -> None:
    run_history(installation, history, pairs, release_at)
