"""GET /datasets/<d>/stats (and ?as_of=): items by the status of their newest version, the
content's bytes and annotated objects, per-label counts of label kind annotations, exactly,
through a history of creates, accepts, rejects, updates and deletes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gonk.domain import label_kinds
from tests.support.api import (
    DS,
    accept,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    events,
    reject,
)
from tests.support.http import LABEL_SCHEMA, Client, b64

pytestmark = pytest.mark.parametrize("storage_kind", ["sqlite-files", "postgres-s3"],
                                     indirect=True)

D = f"/datasets/{DS}"
UNKNOWN = "0d21d5a7-fe93-4618-a122-7ca9a2ee5116"
DETECTION = label_kinds.template(label_kinds.DETECTION)
CLASSIFICATION = label_kinds.template(label_kinds.CLASSIFICATION)


def _stats(client: Client, query: str = "") -> dict[str, Any]:
    resp = client.get(f"{D}/stats{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.json


def _statuses(accepted: int = 0, pending: int = 0, deleted: int = 0, rejected: int = 0,
              schema: bool = False) -> dict[str, int]:
    return {"accepted": accepted, "pending": pending,
            "deprecated" if schema else "deleted": deleted, "rejected": rejected}


def _content_event(client: Client, kind: str, item: str, version: int,
                   deletion: bool = False) -> str:
    """The create/update event of a version (or its latest delete event)."""
    found = client.get(f"{D}/{kind}/{item}/{version}").json["events"]
    content = [e for e in found if e["review"] is not None
               and e["type"].endswith("DeleteEvent") == deletion]
    return content[0 if not deletion else -1]["uuid"]


def _boxes(*labels: str) -> dict[str, Any]:
    return {"boxes": [{"label": label, "bbox": [1, 2, 3, 4]} for label in labels]}


def _annotate(client: Client, objects: list[tuple[str, int]], doc: Any, schema: str) -> str:
    return create_annotation(client, objects, doc, schema=schema)


def _size(doc: Any) -> int:
    return len(json.dumps(doc).encode())


def _label(schema: str, kind: str, label: str, count: int) -> dict[str, Any]:
    return {"schema": schema, "kind": kind, "label": label, "count": count}


def test_stats_count_statuses_bytes_annotated_objects_and_labels(alice, bob, ds):
    empty = _stats(alice)
    first = events(alice)[0]
    assert empty == {
        "dataset": DS, "at": {"uuid": first["uuid"], "index": 0,
                              "integrity": first["integrity"]},
        "objects": _statuses(), "schemas": _statuses(schema=True), "annotations": _statuses(),
        "bytes": 0, "annotated_objects": 0, "labels": []}

    # schemas: two label kinds and one plain schema, all accepted; one more rejected
    for name, doc in (("schema-det", DETECTION), ("schema-plain", LABEL_SCHEMA),
                      ("schema-cls", CLASSIFICATION), ("schema-gone", {"type": "object"})):
        create_schema(bob, name, doc)
    for name in ("schema-det", "schema-plain", "schema-cls"):
        accept(alice, _content_event(alice, "schemas", name, 0))
    reject(alice, _content_event(alice, "schemas", "schema-gone", 0))
    schema_bytes = sum(_size(d) for d in (DETECTION, LABEL_SCHEMA, CLASSIFICATION))

    # objects: three accepted, one rejected, one pending
    data = [b"one", b"two!", b"three", b"four", b"five"]
    o1, o2, o3, o4, _ = (create_object(bob, d, f"{i}.bin") for i, d in enumerate(data))
    for o in (o1, o2, o3):
        accept(alice, _content_event(alice, "objects", o, 0))
    reject(alice, _content_event(alice, "objects", o4, 0))
    object_bytes = len(b"one") + len(b"two!") + len(b"three")

    # annotations: four accepted (one of a plain schema), one pending, one rejected
    docs = {
        "a1": (_boxes("cat", "dog", "cat", "cat"), "schema-det", [(o1, 0)]),
        "a2": (_boxes("dog"), "schema-det", [(o2, 0)]),
        "a3": ({"label": "bird"}, "schema-plain", [(o1, 0)]),
        "a6": ({"labels": ["cat", "indoor"]}, "schema-cls", [(o3, 0)]),
        "a4": ({"labels": ["pending"]}, "schema-cls", [(o3, 0)]),
        "a5": (_boxes("rejected"), "schema-det", [(o2, 0)]),
    }
    made = {key: _annotate(bob, objects, doc, schema)
            for key, (doc, schema, objects) in docs.items()}
    for key in ("a1", "a2", "a3", "a6"):
        accept(alice, _content_event(alice, "annotations", made[key], 0))
    reject(alice, _content_event(alice, "annotations", made["a5"], 0))
    annotation_bytes = sum(_size(docs[k][0]) for k in ("a1", "a2", "a3", "a6"))

    at_p1 = _stats(alice)
    p1 = events(alice)[-1]
    expected_p1 = {
        "dataset": DS,
        "at": {"uuid": p1["uuid"], "index": len(events(alice)) - 1,
               "integrity": p1["integrity"]},
        "objects": _statuses(accepted=3, pending=1, rejected=1),
        "schemas": _statuses(accepted=3, rejected=1, schema=True),
        "annotations": _statuses(accepted=4, pending=1, rejected=1),
        "bytes": schema_bytes + object_bytes + annotation_bytes,
        "annotated_objects": 3,
        "labels": [_label("schema-det", "detection", "cat", 3),
                   _label("schema-det", "detection", "dog", 2),
                   _label("schema-cls", "classification", "cat", 1),
                   _label("schema-cls", "classification", "indoor", 1)],
    }
    assert at_p1 == expected_p1
    # the bytes are a release's at the same point
    release = alice.post(f"{D}/releases", {"name": "r1"}).json
    assert release["counts"]["bytes"] == at_p1["bytes"]
    assert release["at"] == at_p1["at"]

    # a1 updated (pending: the content keeps v0), then accepted (v1 replaces v0)
    a1_v1 = _boxes("dog", "bird")
    resp = bob.patch(f"{D}/annotations/{made['a1']}",
                     {"schema": {"name": "schema-det", "version": 0}, "annotation": b64(a1_v1)})
    assert resp.status_code == 200, resp.json
    pending_update = _stats(alice)
    # counted by its newest version: pending now
    assert pending_update["annotations"] == _statuses(accepted=3, pending=2, rejected=1)
    assert pending_update["labels"] == expected_p1["labels"]
    accept(alice, _content_event(alice, "annotations", made["a1"], 1))
    updated = _stats(alice)
    assert updated["annotations"] == _statuses(accepted=4, pending=1, rejected=1)
    assert updated["labels"] == [_label("schema-det", "detection", "dog", 2),
                                 _label("schema-cls", "classification", "cat", 1),
                                 _label("schema-cls", "classification", "indoor", 1),
                                 _label("schema-det", "detection", "bird", 1)]
    assert updated["bytes"] == at_p1["bytes"] - _size(docs["a1"][0]) + _size(a1_v1)

    # a2's deletion asked: accepted and pending at once (as the status lists have it)
    assert bob.delete(f"{D}/annotations/{made['a2']}/0").status_code == 200
    asked = _stats(alice)
    assert asked["annotations"] == _statuses(accepted=4, pending=2, rejected=1)
    assert asked["labels"] == updated["labels"]
    accept(alice, _content_event(alice, "annotations", made["a2"], 0, deletion=True))
    deleted = _stats(alice)
    assert deleted["annotations"] == _statuses(accepted=3, pending=1, deleted=1, rejected=1)
    assert deleted["annotated_objects"] == 2  # o2 has no annotation left
    assert deleted["labels"] == [_label("schema-cls", "classification", "cat", 1),
                                 _label("schema-cls", "classification", "indoor", 1),
                                 _label("schema-det", "detection", "bird", 1),
                                 _label("schema-det", "detection", "dog", 1)]

    # o3 deleted: a6 is stale (out of the content, labels gone), though still "accepted"
    assert bob.delete(f"{D}/objects/{o3}/0").status_code == 200
    accept(alice, _content_event(alice, "objects", o3, 0, deletion=True))
    # o1 updated and accepted: a1 and a3 (linked to o1 v0) are stale too
    assert bob.patch(f"{D}/objects/{o1}", {"name": "0.bin", "mimetype": "text/plain",
                                          "object": b64(b"one v1")}).status_code == 200
    accept(alice, _content_event(alice, "objects", o1, 1))
    # a schema deprecated
    assert alice.delete(f"{D}/schemas/schema-plain/0").status_code == 200
    accept(alice, _content_event(alice, "schemas", "schema-plain", 0, deletion=True))
    now = _stats(alice)
    assert now["objects"] == _statuses(accepted=2, pending=1, deleted=1, rejected=1)
    assert now["schemas"] == _statuses(accepted=2, deleted=1, rejected=1, schema=True)
    assert now["annotations"] == _statuses(accepted=3, pending=1, deleted=1, rejected=1)
    assert now["annotated_objects"] == 0
    assert now["labels"] == []
    assert now["bytes"] == (_size(DETECTION) + _size(CLASSIFICATION) + len(b"one v1")
                            + len(b"two!"))
    assert alice.post(f"{D}/releases", {"name": "r2"}).json["counts"]["bytes"] == now["bytes"]

    # as of the old point, by its event uuid (any case) and by the release's name
    assert _stats(alice, f"?as_of={p1['uuid']}") == expected_p1
    assert _stats(alice, f"?as_of={p1['uuid'].upper()}") == expected_p1
    assert _stats(bob, "?as_of=r1") == expected_p1
    assert _stats(alice, f"?as_of={first['uuid']}") == empty
    assert _stats(alice, "?as_of=r2")["labels"] == []
    assert {k: v for k, v in _stats(alice, "?as_of=r2").items() if k != "at"} == {
        k: v for k, v in _stats(alice).items() if k != "at"}


def test_labels_of_any_text_and_schemas_sharing_a_name(alice, ds):
    """Labels that PostgreSQL's text cannot hold as they are (a NUL; a lone surrogate) and
    non-ASCII ones count like any other; per-label order is count, then schema, then label."""
    create_schema(alice, "schema-cls", CLASSIFICATION)
    accept(alice, _content_event(alice, "schemas", "schema-cls", 0))
    objects = [create_object(alice, f"object {i}".encode(), f"{i}.bin") for i in range(3)]
    for o in objects:
        accept(alice, _content_event(alice, "objects", o, 0))
    strange = ["猫", "a\x00b", "\ud800", "z"]
    for o, labels in zip(objects, (strange, ["猫", "z"], ["z"]), strict=True):
        raw = json.dumps({"labels": labels}).encode()  # \u escapes: a lone surrogate too
        resp = alice.post(f"{D}/annotations", {
            "schema": {"name": "schema-cls", "version": 0},
            "object_identifiers": [{"uuid": o, "version": 0}], "annotation": b64(raw)})
        assert resp.status_code == 200, resp.json
        accept(alice, _content_event(alice, "annotations", resp.json["uuid"], 0))
    found = _stats(alice)["labels"]
    assert found == [_label("schema-cls", "classification", "z", 3),
                     _label("schema-cls", "classification", "猫", 2),
                     _label("schema-cls", "classification", "a\x00b", 1),
                     _label("schema-cls", "classification", "\ud800", 1)]


def test_stats_refusals(alice, bob, ds):
    create_object(alice, b"x")
    assert_error(alice.get(f"{D}/stats?as_of=.x"), 400)
    assert_error(alice.get(f"{D}/stats?as_of="), 400)
    assert_error(alice.get(f"{D}/stats?as_of={UNKNOWN}"), 404)
    assert_error(alice.get(f"{D}/stats?as_of=no-such-release"), 404)
    assert alice.post("/datasets", {"name": "other"}).status_code == 200
    elsewhere = events(alice, "other")[0]["uuid"]
    assert_error(alice.get(f"{D}/stats?as_of={elsewhere}"), 404)
    assert_error(alice.get("/datasets/nope/stats"), 404)
    assert_error(alice.get("/datasets/-x/stats"), 400)
    assert_error(alice.get(f"{D}/stats", headers={}), 401)
    assert_error(alice.get(f"{D}/stats", headers={"x-api-key": "wrong"}), 401)
    assert_error(alice.post(f"{D}/stats", {}), 405)
    assert bob.get(f"{D}/stats").status_code == 200  # any user with a key
