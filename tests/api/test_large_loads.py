"""Loads without the bytes: `?bytes=false`, and versions larger than the JSON limit, whose
metadata, events and links still load (with "bytes": null and "bytes_url"); and the 413 of a
JSON upload too large for JSON, which points to the raw upload where there is one."""

from __future__ import annotations

import base64
import json

import pytest

from tests.support.api import (
    DS,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    events,
)
from tests.support.http import LABEL_SCHEMA, b64

BASE = f"/datasets/{DS}/objects"
BIG = bytes(range(256)) * 8  # 2048 bytes


def _raw(client, path, data, content_type="application/x-big", method="POST"):
    return client.request(method, path, data=data, content_type=content_type)


def test_a_load_past_the_json_limit_answers_the_metadata_without_bytes(app, alice, ds):
    uuid = _raw(alice, f"{BASE}?name=dir/big.bin", BIG).json["uuid"]
    create_schema(alice)
    annotation = create_annotation(alice, [(uuid, 0)])
    app.config["MAX_CONTENT_LENGTH"] = len(BIG) - 1
    resp = alice.get(f"{BASE}/{uuid}/0")
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["bytes"] is None
    assert body["bytes_url"] == f"{BASE}/{uuid}/0/bytes"
    assert body["object"]["name"] == "dir/big.bin"
    assert body["object"]["size"] == len(BIG) and body["object"]["format"] == "application/x-big"
    assert [e["type"] for e in body["events"]] == ["ObjectCreateEvent"]
    assert body["events"][0]["uuid"] == event_of(alice, "objects", uuid, 0)
    assert body["annotations"] == [{"uuid": annotation, "versions": 1}]
    assert alice.get(body["bytes_url"]).data == BIG
    # at the limit exactly, the bytes come inside the JSON, and there is no bytes_url
    app.config["MAX_CONTENT_LENGTH"] = len(BIG)
    at_limit = alice.get(f"{BASE}/{uuid}/0").json
    assert base64.b64decode(at_limit["bytes"]) == BIG and "bytes_url" not in at_limit


def test_bytes_false_leaves_the_bytes_out(alice, ds):
    uuid = create_object(alice, b"small bytes", "small.txt")
    full = alice.get(f"{BASE}/{uuid}/0").json
    assert set(full) == {"object", "bytes", "events", "annotations"}  # the seed's shape
    assert base64.b64decode(full["bytes"]) == b"small bytes"
    lean = alice.get(f"{BASE}/{uuid}/0?bytes=false")
    assert lean.status_code == 200
    expected = {**full, "bytes": None, "bytes_url": f"{BASE}/{uuid}/0/bytes"}
    assert lean.json == expected
    assert alice.get(f"{BASE}/{uuid}/0?bytes=true").json == full


@pytest.mark.parametrize("value", ["", "yes", "1", "0", "no", "TRUE ", "null"])
def test_bytes_takes_true_or_false_only(alice, ds, value):
    uuid = create_object(alice, b"x")
    assert_error(alice.get(f"{BASE}/{uuid}/0?bytes={value}"), 400, "'bytes'")
    schema = create_schema(alice)
    assert_error(alice.get(f"/datasets/{DS}/schemas/schema-label/0?bytes={value}"), 400)
    ann = create_annotation(alice, [(uuid, 0)])
    assert_error(alice.get(f"/datasets/{DS}/annotations/{ann}/0?bytes={value}"), 400)
    assert schema["versions"] == 1


def test_schema_loads_without_bytes_and_its_bytes_url(alice, ds):
    create_schema(alice)
    lean = alice.get(f"/datasets/{DS}/schemas/schema-label/0?bytes=false")
    assert lean.status_code == 200
    body = lean.json
    url = f"/datasets/{DS}/schemas/schema-label/0/bytes"
    assert body["bytes"] is None and body["bytes_url"] == url
    assert body["schema"]["name"] == "schema-label"
    assert [e["type"] for e in body["events"]] == ["ObjectCreateEvent"]
    document = alice.get(url)
    assert document.status_code == 200
    assert document.mimetype == "application/schema+json"
    assert json.loads(document.data) == LABEL_SCHEMA
    assert document.headers["ETag"] == f'"{body["schema"]["hash"]}"'
    assert document.headers["Content-Disposition"] == "inline; filename=schema-label.json"
    assert "bytes_url" not in alice.get(f"/datasets/{DS}/schemas/schema-label/0").json
    assert_error(alice.get(f"/datasets/{DS}/schemas/schema-label/1/bytes"), 404)
    assert_error(alice.get(f"/datasets/{DS}/schemas/schema-nope/0/bytes"), 404)
    assert_error(alice.get(f"/datasets/{DS}/schemas/label/0/bytes"), 400)


def test_annotation_loads_without_bytes_and_its_bytes_url(app, alice, ds):
    create_schema(alice)
    obj = create_object(alice, b"an object")
    ann = create_annotation(alice, [(obj, 0)], {"label": "owl"})
    url = f"/datasets/{DS}/annotations/{ann}/0/bytes"
    body = alice.get(f"/datasets/{DS}/annotations/{ann}/0?bytes=false").json
    assert body["bytes"] is None and body["bytes_url"] == url
    assert body["objects"] == [{"uuid": obj, "version": 0}]
    document = alice.get(url)
    assert document.status_code == 200 and document.mimetype == "application/json"
    assert json.loads(document.data) == {"label": "owl"}
    assert document.headers["Content-Disposition"] == f"inline; filename={ann}.json"
    # past the JSON limit (lowered since), the annotation still loads, without its bytes
    app.config["MAX_CONTENT_LENGTH"] = 5
    past = alice.get(f"/datasets/{DS}/annotations/{ann}/0")
    assert past.status_code == 200 and past.json["bytes"] is None
    assert past.json["bytes_url"] == url
    assert_error(alice.get(f"/datasets/{DS}/annotations/{obj}/0/bytes"), 404)


def test_json_upload_too_large_points_to_the_raw_upload(app, alice, ds):
    uuid = create_object(alice, b"v0", "v0.txt")
    app.config["MAX_CONTENT_LENGTH"] = 300
    before = events(alice)
    big = {"name": "big.bin", "mimetype": "application/x-big", "object": b64(BIG)}
    create = assert_error(alice.post(BASE, big), 413, "?name=")
    assert "300" in create["error"] and f"POST {BASE}?name=" in create["error"]
    update = assert_error(alice.patch(f"{BASE}/{uuid}", big), 413, "?name=")
    assert f"PATCH {BASE}/{uuid}?name=" in update["error"]
    # the raw upload it names does take the file
    assert _raw(alice, f"{BASE}?name=big.bin", BIG).status_code == 200
    assert len(events(alice)) == len(before) + 1


def test_other_endpoints_413_without_a_raw_upload_to_point_to(app, alice, ds):
    app.config["MAX_CONTENT_LENGTH"] = 200
    create_schema_body = {"name": "schema-big", "schema": b64({"description": "x" * 300})}
    for resp in (alice.post(f"/datasets/{DS}/schemas", create_schema_body),
                 alice.post("/datasets", {"name": "x" * 300}),
                 alice.post(f"/datasets/{DS}/annotations", {"annotation": "x" * 300})):
        body = assert_error(resp, 413, "200")
        assert "?name=" not in body["error"] and "nothing was stored" in body["error"]
    # a raw upload past the stream limit is told that limit, not pointed anywhere
    app.config["GONK_MAX_STREAM_BYTES"] = 100
    body = assert_error(_raw(alice, f"{BASE}?name=big.bin", BIG), 413, "100")
    assert "?name=" not in body["error"]
