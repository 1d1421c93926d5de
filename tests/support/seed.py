"""The seed's code examples, in the seed's order, against a real `gonk-api` server: run by
tests/e2e/test_seed_examples.py against `gonk-api run` and by tests/e2e/test_serve.py against
`gonk-api serve` (gunicorn workers).

The client functions below are the seed's examples with `print` replaced by `return resp`; they
use nothing but `requests`, as a seed client would.
"""

from __future__ import annotations

import base64
import json
import re
from types import SimpleNamespace
from typing import Any

import requests

from tests.support.api import HEX64_RE, UUID_RE, sha256
from tests.support.chain import recompute_chain

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


def event_refs(load: dict[str, Any]) -> list[tuple[str, str | None]]:
    for ref in load["events"]:
        assert set(ref) == {"uuid", "type", "review"}
        assert UUID_RE.match(ref["uuid"])
    return [(ref["type"], ref["review"]) for ref in load["events"]]


# --- the seed, in order -----------------------------------------------------------------------


def seed_code_examples_in_order(site: SimpleNamespace, gonk_proc: Any) -> None:
    """The seed's code examples, in the seed's order, against `site` (running_site with the
    users "user-one" and "user-two"), checking every answer; `gonk_proc` runs `gonk-api verify`
    at the end."""
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
    # the seed's fields, exactly, and the newest name beside them (issue 10: finding things)
    assert ok(objects_list(host, key, ds)) == [
        {"uuid": object_uuid, "versions": 1, "name": "birds.txt"}]
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
    listed = ok(annotations_list(host, key, ds))
    assert [{k: a[k] for k in ("uuid", "versions")} for a in listed] == [
        {"uuid": annotation_uuid, "versions": 1}]
    assert listed[0]["schema"]["name"] == "schema-example"
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
