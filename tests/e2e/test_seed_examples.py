"""End to end: the seed's code examples, in the seed's order, against a real `gonk-api run`
started by a real `gonk-api init`; and the command line's behaviour from SPEC section 2.

The client functions below are the seed's examples with `print` replaced by `return resp`; they
use nothing but `requests`, as a seed client would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from conftest import STORAGE_KINDS, process_storage, recompute_chain, running_site
from services import use_s3_endpoint

# One `site` per storage combination serves several tests: under pytest-xdist they stay on one
# worker, so each site starts once.
pytestmark = pytest.mark.xdist_group("seed-examples")

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
TIMEOUT = 10

# --- the seed's payloads, verbatim ------------------------------------------------------------

SCHEMA_V0 = b'''{ "$schema": "http://json-schema.org/draft-04/schema#", "$id": "https://computeheavy.com/dataset-name/schema-example.schema.json", "title": "schema-example", "description": "Captures a label for an object.", "type": "object", "properties": { "label": { "type": "string" } }, "required": [ "label" ] }'''

SCHEMA_V1 = b'''{ "$schema": "http://json-schema.org/draft-04/schema#", "$id": "https://computeheavy.com/example-dataset/schema-example.schema.json", "title": "schema-example", "description": "Captures a bounding box and label in an image.", "definitions": { "point": { "type": "object", "properties": { "x": { "type": "number" }, "y": { "type": "number" } }, "required": [ "x", "y" ] } }, "type": "object", "properties": { "label": { "type": "string" }, "points": { "type": "array", "items": { "$ref": "#/definitions/point" }, "minItems": 2, "maxItems": 2 } }, "required": [ "points", "label" ] }'''

BIRDS_V0 = b""" // // // // // (o o) (o o) (o o) (o o) (o o) ( V ) ( V ) ( V ) ( V ) ( V ) /--m-m-----m-m-----m-m-----m-m-----m-m--/ """

BIRDS_V1 = b""" //// //// //// //// (o o) (o o) (o o) (o o) ( V ) ( V ) ( V ) ( V ) /--m-m-----m-m-----m-m-------------m-m--/ """

ANNOTATION_V0 = {"label": "bird", "points": [{"x": 1, "y": 0}, {"x": 7, "y": 5}]}
ANNOTATION_V1 = {"label": "bird", "points": [{"x": 8, "y": 0}, {"x": 15, "y": 5}]}


# --- the seed's client code -------------------------------------------------------------------


def create_dataset(host: str, key: str, dataset_name: str) -> requests.Response:
    return requests.post(f"http://{host}/datasets", headers={"x-api-key": key},
                         json={"name": dataset_name}, timeout=TIMEOUT)


def list_datasets(host: str, key: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets", headers={"x-api-key": key}, timeout=TIMEOUT)


def schema_create(host: str, key: str, dataset_name: str) -> requests.Response:
    return requests.post(
        f"http://{host}/datasets/{dataset_name}/schemas", headers={"x-api-key": key},
        json={"name": "schema-example", "schema": base64.b64encode(SCHEMA_V0).decode()},
        timeout=TIMEOUT)


def schema_list(host: str, key: str, dataset_name: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/schemas",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def schema_info(host: str, key: str, dataset_name: str, schema_name: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/schemas/{schema_name}",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def schema_update(host: str, key: str, dataset_name: str, schema_name: str) -> requests.Response:
    return requests.patch(
        f"http://{host}/datasets/{dataset_name}/schemas/{schema_name}",
        headers={"x-api-key": key}, json={"schema": base64.b64encode(SCHEMA_V1).decode()},
        timeout=TIMEOUT)


def schema_list_status(host: str, key: str, dataset_name: str,
                       schema_status: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/schemas/{schema_status}",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def schema_details(host: str, key: str, dataset_name: str, schema_name: str,
                   schema_version: int) -> requests.Response:
    return requests.get(
        f"http://{host}/datasets/{dataset_name}/schemas/{schema_name}/{schema_version}",
        headers={"x-api-key": key}, timeout=TIMEOUT)


def schema_deprecate(host: str, key: str, dataset_name: str, schema_name: str,
                     schema_version: int) -> requests.Response:
    return requests.delete(
        f"http://{host}/datasets/{dataset_name}/schemas/{schema_name}/{schema_version}",
        headers={"x-api-key": key}, timeout=TIMEOUT)


def owner_list(host: str, key: str, dataset_name: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/owners",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def owner_add(host: str, key: str, dataset_name: str, user: str) -> requests.Response:
    return requests.put(f"http://{host}/datasets/{dataset_name}/owners/{user}",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def owner_remove(host: str, key: str, dataset_name: str, user: str) -> requests.Response:
    return requests.delete(f"http://{host}/datasets/{dataset_name}/owners/{user}",
                           headers={"x-api-key": key}, timeout=TIMEOUT)


def object_create(host: str, key: str, dataset_name: str) -> requests.Response:
    return requests.post(
        f"http://{host}/datasets/{dataset_name}/objects", headers={"x-api-key": key},
        json={"name": "birds.txt", "mimetype": "text/plain",
              "object": base64.b64encode(BIRDS_V0).decode()}, timeout=TIMEOUT)


def objects_list(host: str, key: str, dataset_name: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/objects",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def object_info(host: str, key: str, dataset_name: str, object_uuid: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/objects/{object_uuid}",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def object_update(host: str, key: str, dataset_name: str, object_uuid: str) -> requests.Response:
    return requests.patch(
        f"http://{host}/datasets/{dataset_name}/objects/{object_uuid}",
        headers={"x-api-key": key},
        json={"name": "birds.txt", "mimetype": "text/plain",
              "object": base64.b64encode(BIRDS_V1).decode()}, timeout=TIMEOUT)


def objects_list_status(host: str, key: str, dataset_name: str,
                        object_status: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/objects/{object_status}",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def object_details(host: str, key: str, dataset_name: str, object_uuid: str,
                   object_version: int) -> requests.Response:
    return requests.get(
        f"http://{host}/datasets/{dataset_name}/objects/{object_uuid}/{object_version}",
        headers={"x-api-key": key}, timeout=TIMEOUT)


def object_delete(host: str, key: str, dataset_name: str, object_uuid: str,
                  object_version: int) -> requests.Response:
    return requests.delete(
        f"http://{host}/datasets/{dataset_name}/objects/{object_uuid}/{object_version}",
        headers={"x-api-key": key}, timeout=TIMEOUT)


def events_list(host: str, key: str, dataset_name: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/events",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def event_accept(host: str, key: str, dataset_name: str, event_uuid: str) -> requests.Response:
    return requests.put(f"http://{host}/datasets/{dataset_name}/events/{event_uuid}/accept",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def event_reject(host: str, key: str, dataset_name: str, event_uuid: str) -> requests.Response:
    return requests.put(f"http://{host}/datasets/{dataset_name}/events/{event_uuid}/reject",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def annotation_create(host: str, key: str, dataset_name: str, object_uuid: str,
                      object_version: int, schema_version: int) -> requests.Response:
    annotation_buf = json.dumps(ANNOTATION_V0).encode()
    return requests.post(
        f"http://{host}/datasets/{dataset_name}/annotations", headers={"x-api-key": key},
        json={"schema": {"name": "schema-example", "version": schema_version},
              "object_identifiers": [{"uuid": object_uuid, "version": object_version}],
              "annotation": base64.b64encode(annotation_buf).decode()}, timeout=TIMEOUT)


def annotations_list(host: str, key: str, dataset_name: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/annotations",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def annotation_info(host: str, key: str, dataset_name: str,
                    annotation_uuid: str) -> requests.Response:
    return requests.get(f"http://{host}/datasets/{dataset_name}/annotations/{annotation_uuid}",
                        headers={"x-api-key": key}, timeout=TIMEOUT)


def annotation_update(host: str, key: str, dataset_name: str, annotation_uuid: str,
                      schema_version: int) -> requests.Response:
    annotation_buf = json.dumps(ANNOTATION_V1).encode()
    return requests.patch(
        f"http://{host}/datasets/{dataset_name}/annotations/{annotation_uuid}",
        headers={"x-api-key": key},
        json={"schema": {"name": "schema-example", "version": schema_version},
              "annotation": base64.b64encode(annotation_buf).decode()}, timeout=TIMEOUT)


def annotations_list_status(host: str, key: str, dataset_name: str,
                            annotation_status: str) -> requests.Response:
    return requests.get(
        f"http://{host}/datasets/{dataset_name}/annotations/{annotation_status}",
        headers={"x-api-key": key}, timeout=TIMEOUT)


def annotation_details(host: str, key: str, dataset_name: str, annotation_uuid: str,
                       annotation_version: int) -> requests.Response:
    return requests.get(
        f"http://{host}/datasets/{dataset_name}/annotations/{annotation_uuid}/"
        f"{annotation_version}", headers={"x-api-key": key}, timeout=TIMEOUT)


def annotation_delete(host: str, key: str, dataset_name: str, annotation_uuid: str,
                      annotation_version: int) -> requests.Response:
    return requests.delete(
        f"http://{host}/datasets/{dataset_name}/annotations/{annotation_uuid}/"
        f"{annotation_version}", headers={"x-api-key": key}, timeout=TIMEOUT)


# --- helpers ----------------------------------------------------------------------------------


def ok(resp: requests.Response) -> Any:
    """The JSON body of a 200 response (failing with the body otherwise)."""
    assert resp.status_code == 200, f"{resp.request.method} {resp.url}: {resp.status_code} " \
                                    f"{resp.text}"
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp.json()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def event_refs(load: dict[str, Any]) -> list[tuple[str, str | None]]:
    for ref in load["events"]:
        assert set(ref) == {"uuid", "type", "review"}
        assert UUID_RE.match(ref["uuid"])
    return [(ref["type"], ref["review"]) for ref in load["events"]]


# --- the running installation -----------------------------------------------------------------


@pytest.fixture(scope="module", params=STORAGE_KINDS)
def site(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    """`gonk-api init`, `gonk-api users add user-two`, then `gonk-api run` on a free port; once
    per storage combination (SQLite or PostgreSQL, files or S3)."""
    with running_site(tmp_path_factory.mktemp("seed") / "gonk-data", request.param, request,
                      ("user-one", "user-two")) as site:
        site.key_two = site.keys[1]
        yield site


# --- the seed, in order -----------------------------------------------------------------------


def test_seed_code_examples_in_order(site: SimpleNamespace, gonk_proc: Any) -> None:
    host, key, ds = site.host, site.key, "dataset-name"

    # POST /datasets, GET /datasets
    assert ok(create_dataset(host, key, ds)) == {"dataset": ds}
    assert ok(list_datasets(host, key)) == [ds]

    # POST schema, GET schemas, GET schema info
    created = ok(schema_create(host, key, ds))
    assert set(created) == {"name", "uuid", "versions"}
    assert created["name"] == "schema-example" and created["versions"] == 1
    assert UUID_RE.match(created["uuid"])
    schema_uuid = created["uuid"]
    summary = {"name": "schema-example", "uuid": schema_uuid, "versions": 1}
    assert ok(schema_list(host, key, ds)) == [summary]
    assert ok(schema_info(host, key, ds, "schema-example")) == summary

    # PATCH schema: the seed's draft-04 version with definitions/points
    assert ok(schema_update(host, key, ds, "schema-example")) == {
        "name": "schema-example", "uuid": schema_uuid, "versions": 2}
    assert ok(schema_info(host, key, ds, "schema-example"))["versions"] == 2

    # GET schemas by status
    assert ok(schema_list_status(host, key, ds, "pending")) == [
        {"uuid": schema_uuid, "name": "schema-example", "version": 0},
        {"uuid": schema_uuid, "name": "schema-example", "version": 1},
    ]
    for status in ("accepted", "deprecated", "rejected"):
        assert ok(schema_list_status(host, key, ds, status)) == []

    # GET schema load
    load = ok(schema_details(host, key, ds, "schema-example", 1))
    assert set(load) == {"schema", "bytes", "events"}
    assert load["schema"] == {
        "format": "application/schema+json", "hash": sha256(SCHEMA_V1), "hash_type": 1,
        "name": "schema-example", "size": len(SCHEMA_V1), "uuid": schema_uuid, "version": 1}
    assert base64.b64decode(load["bytes"]) == SCHEMA_V1
    assert event_refs(load) == [("ObjectUpdateEvent", "PENDING")]
    schema_v1_event = load["events"][0]["uuid"]
    load0 = ok(schema_details(host, key, ds, "schema-example", 0))
    assert base64.b64decode(load0["bytes"]) == SCHEMA_V0
    assert event_refs(load0) == [("ObjectCreateEvent", "PENDING")]

    # DELETE schema (deprecate) version 0: version 1, the one with points, stays usable
    assert ok(schema_deprecate(host, key, ds, "schema-example", 0)) == {
        "uuid": schema_uuid, "version": 0, "name": "schema-example"}
    load0 = ok(schema_details(host, key, ds, "schema-example", 0))
    assert event_refs(load0) == [("ObjectCreateEvent", "PENDING"),
                                 ("ObjectDeleteEvent", "PENDING")]

    # owners: list, add (a user made with `users add`), remove
    assert ok(owner_list(host, key, ds)) == ["user-one"]
    assert ok(owner_add(host, key, ds, "user-two")) == {"user": "user-two"}
    assert ok(owner_list(host, key, ds)) == ["user-one", "user-two"]
    assert ok(owner_remove(host, key, ds, "user-two")) == {"user": "user-two"}
    assert ok(owner_list(host, key, ds)) == ["user-one"]

    # objects: create, list, info, update, list by status, load, delete
    created = ok(object_create(host, key, ds))
    assert set(created) == {"uuid", "version"} and created["version"] == 0
    object_uuid = created["uuid"]
    assert UUID_RE.match(object_uuid)
    assert ok(objects_list(host, key, ds)) == [{"uuid": object_uuid, "versions": 1}]
    assert ok(object_info(host, key, ds, object_uuid)) == {"uuid": object_uuid, "versions": 1}
    assert ok(object_update(host, key, ds, object_uuid)) == {"uuid": object_uuid, "version": 1}
    assert ok(object_info(host, key, ds, object_uuid)) == {"uuid": object_uuid, "versions": 2}
    assert ok(objects_list_status(host, key, ds, "pending")) == [
        {"uuid": object_uuid, "version": 0}, {"uuid": object_uuid, "version": 1}]
    assert ok(objects_list_status(host, key, ds, "accepted")) == []
    load = ok(object_details(host, key, ds, object_uuid, 1))
    assert set(load) == {"object", "bytes", "events", "annotations"}
    assert load["object"] == {
        "format": "text/plain", "hash": sha256(BIRDS_V1), "hash_type": 1, "name": "birds.txt",
        "size": len(BIRDS_V1), "uuid": object_uuid, "version": 1}
    assert base64.b64decode(load["bytes"]) == BIRDS_V1
    assert event_refs(load) == [("ObjectUpdateEvent", "PENDING")]
    assert load["annotations"] == []
    object_v1_event = load["events"][0]["uuid"]
    assert ok(object_delete(host, key, ds, object_uuid, 1)) == {
        "uuid": object_uuid, "version": 1}
    load = ok(object_details(host, key, ds, object_uuid, 1))
    assert event_refs(load) == [("ObjectUpdateEvent", "PENDING"), ("ObjectDeleteEvent", "PENDING")]
    object_delete_event = load["events"][1]["uuid"]

    # events: list (full events, chained), accept, reject
    events = ok(events_list(host, key, ds))
    assert [e["type"] for e in events] == [
        "OwnerAddEvent", "ObjectCreateEvent", "ObjectUpdateEvent", "ObjectDeleteEvent",
        "OwnerAddEvent", "OwnerRemoveEvent", "ObjectCreateEvent", "ObjectUpdateEvent",
        "ObjectDeleteEvent"]
    for event in events:
        assert UUID_RE.match(event["uuid"]) and HEX64_RE.match(event["integrity"])
        assert TIMESTAMP_RE.match(event["timestamp"]) and event["author"] == "user-one"
        assert "review" not in event
    assert events[0] == {**events[0], "owner": "user-one", "owner_action": 1}
    assert set(events[0]) == {"uuid", "type", "timestamp", "author", "integrity", "owner",
                              "owner_action"}
    assert set(events[1]) == {"uuid", "type", "timestamp", "author", "integrity", "action",
                              "object"}
    assert events[1]["action"] == 1 and events[2]["action"] == 2 and events[3]["action"] == 4
    assert events[1]["object"] == {**load0["schema"]}
    assert events[3]["object_identifier"] == {"uuid": schema_uuid, "version": 0}
    assert events[5]["owner"] == "user-two" and events[5]["owner_action"] == 2
    recompute_chain(events)

    assert ok(event_accept(host, key, ds, schema_v1_event)) == {"uuid": schema_v1_event}
    assert ok(event_accept(host, key, ds, object_v1_event)) == {"uuid": object_v1_event}
    assert ok(event_reject(host, key, ds, object_delete_event)) == {"uuid": object_delete_event}
    assert ok(schema_list_status(host, key, ds, "accepted")) == [
        {"uuid": schema_uuid, "name": "schema-example", "version": 1}]
    assert ok(objects_list_status(host, key, ds, "accepted")) == [
        {"uuid": object_uuid, "version": 1}]
    # every event that touched the version, reviews included (with review null)
    assert event_refs(ok(object_details(host, key, ds, object_uuid, 1))) == [
        ("ObjectUpdateEvent", "ACCEPTED"), ("ObjectDeleteEvent", "REJECTED"),
        ("ReviewAcceptEvent", None), ("ReviewRejectEvent", None)]

    # annotations: the seed's annotation against the schema's 2nd version (definitions/points)
    created = ok(annotation_create(host, key, ds, object_uuid, 1, schema_version=1))
    assert set(created) == {"uuid", "version"} and created["version"] == 0
    annotation_uuid = created["uuid"]
    assert UUID_RE.match(annotation_uuid)
    assert ok(annotations_list(host, key, ds)) == [{"uuid": annotation_uuid, "versions": 1}]
    assert ok(annotation_info(host, key, ds, annotation_uuid)) == {
        "uuid": annotation_uuid, "versions": 1}
    assert ok(object_details(host, key, ds, object_uuid, 1))["annotations"] == [
        {"uuid": annotation_uuid, "versions": 1}]
    assert ok(object_details(host, key, ds, object_uuid, 0))["annotations"] == []
    assert ok(annotation_update(host, key, ds, annotation_uuid, schema_version=1)) == {
        "uuid": annotation_uuid, "version": 1}
    assert ok(annotations_list_status(host, key, ds, "pending")) == [
        {"uuid": annotation_uuid, "version": 0}, {"uuid": annotation_uuid, "version": 1}]
    load = ok(annotation_details(host, key, ds, annotation_uuid, 0))
    assert set(load) == {"annotation", "bytes", "events", "objects"}
    annotation_buf = json.dumps(ANNOTATION_V0).encode()
    assert load["annotation"] == {
        "hash": sha256(annotation_buf), "hash_type": 1,
        "schema": {"uuid": schema_uuid, "version": 1}, "size": len(annotation_buf),
        "uuid": annotation_uuid, "version": 0}
    assert base64.b64decode(load["bytes"]) == annotation_buf
    assert event_refs(load) == [("AnnotationCreateEvent", "PENDING")]
    assert load["objects"] == [{"uuid": object_uuid, "version": 1}]
    assert ok(annotation_details(host, key, ds, annotation_uuid, 1))["objects"] == [
        {"uuid": object_uuid, "version": 1}]
    assert ok(annotation_delete(host, key, ds, annotation_uuid, 1)) == {
        "uuid": annotation_uuid, "version": 1}
    assert event_refs(ok(annotation_details(host, key, ds, annotation_uuid, 1))) == [
        ("AnnotationUpdateEvent", "PENDING"), ("AnnotationDeleteEvent", "PENDING")]

    # the whole log still chains, and `gonk-api verify` agrees while the server runs
    events = ok(events_list(host, key, ds))
    assert len(events) == 9 + 3 + 3
    recompute_chain(events)
    verified = gonk_proc.run_cli("verify", ds, data_dir=site.data_dir, env=site.env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK" in verified.stdout


def test_seed_annotation_does_not_conform_to_first_schema_version_with_points_required(
        site: SimpleNamespace) -> None:
    """The annotation is checked against the version it names: {"label"} alone fails v1."""
    host, key, ds = site.host, site.key, "conformance"
    ok(create_dataset(host, key, ds))
    ok(schema_create(host, key, ds))
    ok(schema_update(host, key, ds, "schema-example"))
    object_uuid = ok(object_create(host, key, ds))["uuid"]
    resp = requests.post(
        f"http://{host}/datasets/{ds}/annotations", headers={"x-api-key": key},
        json={"schema": {"name": "schema-example", "version": 1},
              "object_identifiers": [{"uuid": object_uuid, "version": 0}],
              "annotation": base64.b64encode(b'{"label": "bird"}').decode()}, timeout=TIMEOUT)
    assert resp.status_code == 422, resp.text
    assert "error" in resp.json()
    # ... and conforms to version 0 (label only), so the same request naming v0 is accepted.
    resp = annotation_create(host, key, ds, object_uuid, 0, schema_version=0)
    assert ok(resp)["version"] == 0


def test_non_owner_cannot_review_or_manage_owners(site: SimpleNamespace) -> None:
    host, ds = site.host, "owned-by-one"
    ok(create_dataset(host, site.key, ds))
    object_uuid = ok(object_create(host, site.key_two, ds))["uuid"]  # anyone may propose
    event_uuid = ok(object_details(host, site.key, ds, object_uuid, 0))["events"][0]["uuid"]
    assert event_accept(host, site.key_two, ds, event_uuid).status_code == 403
    assert owner_add(host, site.key_two, ds, "user-two").status_code == 403
    assert ok(event_accept(host, site.key, ds, event_uuid)) == {"uuid": event_uuid}
    assert event_reject(host, site.key, ds, event_uuid).status_code == 409


def test_rekey_makes_the_old_key_401_at_once(site: SimpleNamespace, gonk_proc: Any) -> None:
    host, old_key = site.host, site.key_two
    assert list_datasets(host, old_key).status_code == 200
    rekeyed = gonk_proc.run_cli("users", "rekey", "user-two", data_dir=site.data_dir,
                                env=site.env)
    assert rekeyed.returncode == 0, rekeyed.stderr
    new_key = gonk_proc.last_line(rekeyed.stdout)
    assert new_key != old_key
    # the very next request, against the server that was already running
    resp = list_datasets(host, old_key)
    assert resp.status_code == 401 and "error" in resp.json()
    assert list_datasets(host, new_key).status_code == 200
    assert list_datasets(host, site.key).status_code == 200  # other users are untouched
    site.key_two = new_key
    assert requests.get(f"http://{host}/datasets", timeout=TIMEOUT).status_code == 401


# --- the command line (SPEC section 2) --------------------------------------------------------


def tree(path: Path) -> dict[str, str]:
    """Every file under path with a hash of its bytes."""
    return {str(p.relative_to(path)): sha256(p.read_bytes())
            for p in sorted(path.rglob("*")) if p.is_file()}


@dataclass
class Installation:
    """Where a test's `gonk-api` commands keep their data: `data_dir` and the environment `env`
    that names the storage (process_storage)."""

    data_dir: Path
    env: dict[str, str]

    def cli(self, gonk_proc: Any, *args: str) -> Any:
        return gonk_proc.run_cli(*args, data_dir=self.data_dir, env=self.env)

    def open(self) -> Any:
        from gonk.instance import Instance

        return Instance.open(self.data_dir, self.env.get("GONK_DATABASE_URL"),
                             self.env.get("GONK_BLOB_URL"))

    def key_owner(self, key: str) -> str | None:
        from gonk.users import user_for_key

        instance = self.open()
        try:
            return user_for_key(instance, key)
        finally:
            instance.close()

    def users_table(self) -> list[tuple[Any, ...]]:
        """Every row of the users table, as stored."""
        from sqlalchemy import select

        from gonk.storage import tables

        instance = self.open()
        try:
            with instance.db.read() as conn:
                rows = conn.execute(select(tables.users).order_by(tables.users.c.name)).all()
            return [tuple(row) for row in rows]
        finally:
            instance.close()

    def snapshot(self) -> tuple[Any, ...]:
        """What a command that must change nothing must leave as it is: the files of the data
        directory (with SQLite, the database itself) and the users table."""
        files = tree(self.data_dir) if self.data_dir.exists() else {}
        return files, self.users_table()


@pytest.fixture(params=STORAGE_KINDS)
def installation(tmp_path: Path, request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[Installation]:
    """A place for a new installation of each storage combination, not yet initialised. The
    S3 variables are also set in this process, so that the test can open it too."""
    with process_storage(request.param, request) as env:
        if "AWS_ENDPOINT_URL" in env:
            use_s3_endpoint(monkeypatch, env["AWS_ENDPOINT_URL"])
        yield Installation(data_dir=tmp_path / "gonk-data", env=env)


@pytest.mark.parametrize("args", [
    ("users", "list"), ("users", "add", "someone"), ("users", "rekey", "someone"),
    ("run", "--port", "1"), ("verify",),
])
def test_any_command_before_init_fails_and_says_run_init(tmp_path: Path, gonk_proc: Any,
                                                         args: tuple[str, ...]) -> None:
    data_dir = tmp_path / "gonk-data"
    result = gonk_proc.run_cli(*args, data_dir=data_dir)
    assert result.returncode == 1
    assert "init" in (result.stdout + result.stderr)
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()  # nothing was created


def test_init_twice_fails_and_changes_nothing(installation: Installation, gonk_proc: Any) -> None:
    first = installation.cli(gonk_proc, "init", "--username", "alice")
    assert first.returncode == 0, first.stderr
    key = gonk_proc.last_line(first.stdout)
    before = installation.snapshot()
    for username in ("alice", "mallory"):
        again = installation.cli(gonk_proc, "init", "--username", username)
        assert again.returncode == 1
        assert again.stderr.strip() and "Traceback" not in again.stderr
        assert installation.snapshot() == before
    listed = installation.cli(gonk_proc, "users", "list")
    assert listed.returncode == 0 and listed.stdout.splitlines() == ["alice"]
    assert installation.key_owner(key) == "alice"


def test_keys_are_alone_on_the_last_line_and_work(installation: Installation,
                                                  gonk_proc: Any) -> None:
    init = installation.cli(gonk_proc, "init", "--username", "alice")
    added = installation.cli(gonk_proc, "users", "add", "bob.smith_2-x")
    rekeyed = installation.cli(gonk_proc, "users", "rekey", "alice")
    keys = []
    for result in (init, added, rekeyed):
        assert result.returncode == 0, result.stderr
        assert result.stdout.endswith("\n")
        line = result.stdout.splitlines()[-1]
        assert line == line.strip() and " " not in line and len(line) >= 32
        keys.append(line)
    assert len(set(keys)) == 3
    assert installation.key_owner(keys[0]) is None  # replaced by the rekey
    assert installation.key_owner(keys[1]) == "bob.smith_2-x"
    assert installation.key_owner(keys[2]) == "alice"
    listed = installation.cli(gonk_proc, "users", "list")
    assert listed.returncode == 0
    assert sorted(listed.stdout.splitlines()) == ["alice", "bob.smith_2-x"]
    # keys are stored only as hashes: in no row, and (SQLite) nowhere in the database's files
    stored = repr(installation.users_table())
    files = b"".join(p.read_bytes() for p in installation.data_dir.glob("gonk.db*"))
    for k in keys:
        assert k not in stored
        assert k.encode() not in files


def test_users_add_existing_and_rekey_unknown_fail(installation: Installation,
                                                   gonk_proc: Any) -> None:
    init = installation.cli(gonk_proc, "init", "--username", "alice")
    key = gonk_proc.last_line(init.stdout)
    again = installation.cli(gonk_proc, "users", "add", "alice")
    assert again.returncode == 1
    assert "alice" in again.stderr and "Traceback" not in again.stderr
    assert installation.key_owner(key) == "alice"  # the existing user's key still works
    unknown = installation.cli(gonk_proc, "users", "rekey", "nobody")
    assert unknown.returncode == 1
    assert "nobody" in unknown.stderr and "Traceback" not in unknown.stderr
    listed = installation.cli(gonk_proc, "users", "list")
    assert listed.stdout.splitlines() == ["alice"]


BAD_USERNAMES = ["has space", "x" * 65, "émile", "a:b/c"]


def test_bad_usernames_are_refused(installation: Installation, gonk_proc: Any) -> None:
    run = {"data_dir": installation.data_dir, "env": installation.env}
    for result in gonk_proc.run_many(
            *[("init", "--username", bad) for bad in ("", BAD_USERNAMES[0])], **run):
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip()
    not_yet = installation.cli(gonk_proc, "users", "list")  # the refused inits made nothing
    assert not_yet.returncode == 1 and "init" in not_yet.stderr
    assert not (installation.data_dir / "gonk.db").exists()
    init = installation.cli(gonk_proc, "init", "--username", "x" * 64)
    assert init.returncode == 0, init.stderr
    before = installation.snapshot()
    for result in gonk_proc.run_many(
            *[("users", "add", bad) for bad in BAD_USERNAMES],
            ("users", "rekey", BAD_USERNAMES[1]), **run):
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip()
    assert installation.snapshot() == before
    listed = installation.cli(gonk_proc, "users", "list")
    assert listed.stdout.splitlines() == ["x" * 64]


def test_data_dir_defaults_to_the_working_directory_and_follows_the_env_var(
        tmp_path: Path, gonk_proc: Any) -> None:
    # no option, no env var: ./gonk-data in the current directory, so init and run agree
    init = gonk_proc.run_cli("init", "--username", "alice", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "gonk-data" / "gonk.db").is_file()
    listed = gonk_proc.run_cli("users", "list", cwd=tmp_path)
    assert listed.stdout.splitlines() == ["alice"]
    # GONK_DATA_DIR points elsewhere
    elsewhere = tmp_path / "elsewhere"
    env = gonk_proc.clean_env(GONK_DATA_DIR=str(elsewhere))
    assert gonk_proc.run_cli("users", "list", cwd=tmp_path, env=env).returncode == 1
    init = gonk_proc.run_cli("init", "--username", "bob", cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr
    assert (elsewhere / "gonk.db").is_file()
    assert gonk_proc.run_cli("users", "list", env=env).stdout.splitlines() == ["bob"]
    # the option wins over the env var
    listed = gonk_proc.run_cli("users", "list", data_dir=tmp_path / "gonk-data", env=env)
    assert listed.stdout.splitlines() == ["alice"]
