"""/datasets/<d>/objects: create, list, info, update, status lists, load, delete, pagination."""

from __future__ import annotations

import json

import pytest

from tests.support.api import (
    DS,
    ITEM_STATUSES,
    UUID_RE,
    accept,
    annotation_body,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    events,
    load_object,
    reject,
    sha256,
    status_list,
    statuses_of,
    unb64,
)
from tests.support.http import b64

BASE = f"/datasets/{DS}/objects"
BIRDS = b"""
 //  //
(o o)(o o)
( V )( V )
"""


def _body(data, name="file.txt", mimetype="text/plain"):
    return {"name": name, "mimetype": mimetype, "object": b64(data)}


def _update(client, uuid, data, name="file.txt"):
    resp = client.patch(f"{BASE}/{uuid}", _body(data, name))
    assert resp.status_code == 200, resp.json
    return resp.json["version"]


# --- create / list / info / update -----------------------------------------------------------


def test_create_object_shape(bob, ds):
    resp = bob.post(BASE, _body(BIRDS, "birds.txt"))
    assert resp.status_code == 200
    assert set(resp.json) == {"uuid", "version"}
    assert UUID_RE.match(resp.json["uuid"])
    assert resp.json["version"] == 0


def test_list_and_info(alice, ds):
    first = create_object(alice, b"one")
    second = create_object(alice, b"two")
    resp = alice.get(BASE)
    assert resp.status_code == 200
    assert resp.json == [{"uuid": first, "versions": 1, "name": "file.txt"},
                         {"uuid": second, "versions": 1, "name": "file.txt"}]
    info = alice.get(f"{BASE}/{second}")
    assert info.status_code == 200
    assert info.json == {"uuid": second, "versions": 1}


def test_update_object(alice, bob, ds):
    uuid = create_object(alice, b"v0")
    resp = bob.patch(f"{BASE}/{uuid}", _body(b"v1", "renamed.bin", "application/octet-stream"))
    assert resp.status_code == 200
    assert resp.json == {"uuid": uuid, "version": 1}
    assert alice.get(f"{BASE}/{uuid}").json == {"uuid": uuid, "versions": 2}
    assert alice.get(BASE).json == [{"uuid": uuid, "versions": 2, "name": "renamed.bin"}]
    loaded = load_object(alice, uuid, 1)
    assert loaded["object"]["name"] == "renamed.bin"
    assert loaded["object"]["format"] == "application/octet-stream"
    assert unb64(loaded["bytes"]) == b"v1"
    assert [e["type"] for e in loaded["events"]] == ["ObjectUpdateEvent"]
    # version 0 is untouched
    assert unb64(load_object(alice, uuid, 0)["bytes"]) == b"v0"


def test_update_with_unchanged_bytes_is_409(alice, ds):
    uuid = create_object(alice, b"same")
    before = events(alice)
    body = assert_error(alice.patch(f"{BASE}/{uuid}", _body(b"same", "other-name.txt")), 409)
    assert body["existing"] == {"uuid": uuid, "version": 0}
    assert events(alice) == before


def test_update_unknown_object_is_404(alice, ds):
    create_object(alice, b"x")
    assert_error(alice.patch(f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116", _body(b"y")), 404)


def test_update_annotation_uuid_as_object_is_404(alice, ds):
    uuid = create_object(alice, b"x")
    create_schema(alice)
    ann = create_annotation(alice, [(uuid, 0)])
    assert_error(alice.patch(f"{BASE}/{ann}", _body(b"y")), 404)
    assert_error(alice.get(f"{BASE}/{ann}"), 404)
    assert_error(alice.get(f"{BASE}/{ann}/0"), 404)
    assert_error(alice.delete(f"{BASE}/{ann}/0"), 404)


def test_info_unknown_is_404(alice, ds):
    assert_error(alice.get(f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116"), 404)


def test_empty_bytes_are_allowed(alice, ds):
    uuid = create_object(alice, b"", "empty.txt")
    loaded = load_object(alice, uuid)
    assert loaded["bytes"] == ""
    assert loaded["object"]["size"] == 0
    assert loaded["object"]["hash"] == sha256(b"")


def test_name_rules(alice, ds):
    assert alice.post(BASE, _body(b"a", "n" * 255)).status_code == 200
    for name in ("", "n" * 256, "schema-x", "x" * 10_000):
        assert_error(alice.post(BASE, _body(b"b", name)), 400, "name")
    for mimetype in ("", "   ", "m" * 256):
        assert_error(alice.post(BASE, _body(b"c", "f", mimetype)), 400, "mimetype")
    assert len(alice.get(BASE).json) == 1


@pytest.mark.parametrize("missing", ["name", "mimetype", "object"])
def test_missing_fields_are_400(alice, ds, missing):
    body = _body(b"data")
    del body[missing]
    assert_error(alice.post(BASE, body), 400, missing)
    uuid = create_object(alice, b"other")
    assert_error(alice.patch(f"{BASE}/{uuid}", body), 400, missing)
    assert alice.get(f"{BASE}/{uuid}").json["versions"] == 1


def test_bad_base64_is_400(alice, ds):
    for text in ("***", "abc", "YWJj\n", "YW Jj", "YWJj-_==", "====="):
        assert_error(alice.post(BASE, {"name": "f", "mimetype": "text/plain", "object": text}),
                     400, "base64")
    assert alice.get(BASE).json == []


# --- duplicates ------------------------------------------------------------------------------


def test_duplicate_bytes_is_409_with_existing(alice, bob, ds):
    uuid = create_object(alice, BIRDS)
    before = events(alice)
    body = assert_error(bob.post(BASE, _body(BIRDS, "copy.txt")), 409)
    assert body["existing"] == {"uuid": uuid, "version": 0}
    # an update of another object to the same bytes is refused the same way
    other = create_object(alice, b"other")
    body = assert_error(alice.patch(f"{BASE}/{other}", _body(BIRDS)), 409)
    assert body["existing"] == {"uuid": uuid, "version": 0}
    assert len(events(alice)) == len(before) + 1


def test_duplicate_of_updated_version_reports_that_version(alice, ds):
    uuid = create_object(alice, b"v0")
    _update(alice, uuid, b"v1")
    body = assert_error(alice.post(BASE, _body(b"v1")), 409)
    assert body["existing"] == {"uuid": uuid, "version": 1}


def test_bytes_of_rejected_or_deleted_objects_can_be_used_again(alice, ds):
    rejected = create_object(alice, b"rejected bytes")
    reject(alice, event_of(alice, "objects", rejected, 0))
    again = create_object(alice, b"rejected bytes")
    assert again != rejected
    deleted = create_object(alice, b"deleted bytes")
    accept(alice, event_of(alice, "objects", deleted, 0))
    alice.delete(f"{BASE}/{deleted}/0")
    accept(alice, event_of(alice, "objects", deleted, 0, "DeleteEvent"))
    assert create_object(alice, b"deleted bytes") != deleted


def test_same_bytes_in_other_dataset_is_fine(alice, ds):
    create_object(alice, BIRDS)
    alice.post("/datasets", {"name": "other"})
    create_object(alice, BIRDS, dataset="other")


# --- load ------------------------------------------------------------------------------------


def test_load_object_shape(alice, bob, ds):
    uuid = create_object(bob, BIRDS, "birds.txt")
    resp = alice.get(f"{BASE}/{uuid}/0")
    assert resp.status_code == 200
    body = resp.json
    assert set(body) == {"object", "bytes", "events", "annotations"}
    assert body["object"] == {"uuid": uuid, "version": 0, "name": "birds.txt",
                              "format": "text/plain", "size": len(BIRDS), "hash_type": 1,
                              "hash": sha256(BIRDS)}
    assert unb64(body["bytes"]) == BIRDS
    assert body["events"] == [{"uuid": events(alice)[-1]["uuid"], "type": "ObjectCreateEvent",
                               "review": "PENDING"}]
    assert body["annotations"] == []


def test_load_binary_bytes_roundtrip(alice, ds):
    data = bytes(range(256)) * 4
    uuid = create_object(alice, data, "bin", "application/octet-stream")
    assert unb64(load_object(alice, uuid)["bytes"]) == data


def test_load_lists_annotations_of_that_version_only(alice, ds):
    uuid = create_object(alice, b"v0")
    create_schema(alice)
    ann = create_annotation(alice, [(uuid, 0)])
    resp = alice.patch(f"/datasets/{DS}/annotations/{ann}",
                       {"schema": {"name": "schema-label", "version": 0},
                        "annotation": b64({"label": "cat"})})
    assert resp.status_code == 200
    assert load_object(alice, uuid, 0)["annotations"] == [{"uuid": ann, "versions": 2}]
    # an object update does not carry annotations over
    _update(alice, uuid, b"v1")
    assert load_object(alice, uuid, 1)["annotations"] == []


def test_load_events_follow_reviews(alice, ds):
    uuid = create_object(alice, b"x")
    create_uuid = event_of(alice, "objects", uuid, 0)
    accept(alice, create_uuid)
    review_uuid = events(alice)[-1]["uuid"]
    alice.delete(f"{BASE}/{uuid}/0")
    delete_uuid = events(alice)[-1]["uuid"]
    reject(alice, delete_uuid)
    reject_uuid = events(alice)[-1]["uuid"]
    assert load_object(alice, uuid)["events"] == [
        {"uuid": create_uuid, "type": "ObjectCreateEvent", "review": "ACCEPTED"},
        {"uuid": review_uuid, "type": "ReviewAcceptEvent", "review": None},
        {"uuid": delete_uuid, "type": "ObjectDeleteEvent", "review": "REJECTED"},
        {"uuid": reject_uuid, "type": "ReviewRejectEvent", "review": None},
    ]


def test_load_errors(alice, ds):
    uuid = create_object(alice, b"x")
    assert_error(alice.get(f"{BASE}/{uuid}/1"), 404)
    assert_error(alice.get(f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116/0"), 404)
    assert_error(alice.get(f"{BASE}/not-a-uuid/0"), 400, "uuid")
    assert_error(alice.get(f"{BASE}/{uuid[:-1]}/0"), 400, "uuid")
    assert_error(alice.get(f"{BASE}/{uuid}/x"), 400, "version")
    assert_error(alice.get(f"{BASE}/{uuid}/-1"), 400, "version")
    assert_error(alice.get(f"{BASE}/{uuid}/" + "9" * 30), 400, "version")


def test_rejected_and_deleted_bytes_remain_loadable(alice, ds):
    rejected = create_object(alice, b"nope")
    reject(alice, event_of(alice, "objects", rejected, 0))
    deleted = create_object(alice, b"gone")
    accept(alice, event_of(alice, "objects", deleted, 0))
    alice.delete(f"{BASE}/{deleted}/0")
    accept(alice, event_of(alice, "objects", deleted, 0, "DeleteEvent"))
    assert unb64(load_object(alice, rejected)["bytes"]) == b"nope"
    assert unb64(load_object(alice, deleted)["bytes"]) == b"gone"


# --- delete and status lists -----------------------------------------------------------------


def test_delete_object(alice, bob, ds):
    uuid = create_object(alice, b"x")
    resp = bob.delete(f"{BASE}/{uuid}/0")
    assert resp.status_code == 200
    assert resp.json == {"uuid": uuid, "version": 0}
    event = events(alice)[-1]
    assert event["type"] == "ObjectDeleteEvent"
    assert event["action"] == 4
    assert event["object_identifier"] == {"uuid": uuid, "version": 0}


def test_delete_errors(alice, ds):
    uuid = create_object(alice, b"x")
    assert_error(alice.delete(f"{BASE}/{uuid}/1"), 404)
    assert_error(alice.delete(f"{BASE}/0d21d5a7-fe93-4618-a122-7ca9a2ee5116/0"), 404)
    assert_error(alice.delete(f"{BASE}/zzz/0"), 400)
    assert_error(alice.delete(f"{BASE}/{uuid}/one"), 400)


def test_delete_conflicts(alice, ds):
    uuid = create_object(alice, b"x")
    alice.delete(f"{BASE}/{uuid}/0")
    assert_error(alice.delete(f"{BASE}/{uuid}/0"), 409, "pending")
    accept(alice, event_of(alice, "objects", uuid, 0, "CreateEvent"))
    accept(alice, event_of(alice, "objects", uuid, 0, "DeleteEvent"))
    assert_error(alice.delete(f"{BASE}/{uuid}/0"), 409, "deleted")
    rejected = create_object(alice, b"y")
    reject(alice, event_of(alice, "objects", rejected, 0))
    before = events(alice)
    assert_error(alice.delete(f"{BASE}/{rejected}/0"), 409, "rejected")
    assert events(alice) == before


def test_accepting_deletion_of_pending_create_is_409(alice, ds):
    # SPEC is silent; current behaviour: the creation must be reviewed first
    uuid = create_object(alice, b"x")
    alice.delete(f"{BASE}/{uuid}/0")
    assert_error(alice.put(f"/datasets/{DS}/events/"
                           f"{event_of(alice, 'objects', uuid, 0, 'DeleteEvent')}/accept"), 409)


def test_status_lists_through_the_lifecycle(alice, ds):
    uuid = create_object(alice, b"x")
    assert statuses_of(alice, BASE, uuid, 0) == {"pending"}
    accept(alice, event_of(alice, "objects", uuid, 0))
    assert statuses_of(alice, BASE, uuid, 0) == {"accepted"}
    alice.delete(f"{BASE}/{uuid}/0")
    assert statuses_of(alice, BASE, uuid, 0) == {"accepted", "pending"}
    reject(alice, event_of(alice, "objects", uuid, 0, "DeleteEvent"))
    assert statuses_of(alice, BASE, uuid, 0) == {"accepted"}
    alice.delete(f"{BASE}/{uuid}/0")
    accept(alice, event_of(alice, "objects", uuid, 0, "DeleteEvent"))
    assert statuses_of(alice, BASE, uuid, 0) == {"deleted"}
    # rejected creation
    other = create_object(alice, b"y")
    reject(alice, event_of(alice, "objects", other, 0))
    assert statuses_of(alice, BASE, other, 0) == {"rejected"}
    # delete proposed on a pending version: still pending, not accepted
    third = create_object(alice, b"z")
    alice.delete(f"{BASE}/{third}/0")
    assert statuses_of(alice, BASE, third, 0) == {"pending"}
    reject(alice, event_of(alice, "objects", third, 0, "CreateEvent"))
    assert statuses_of(alice, BASE, third, 0) == {"rejected", "pending"}


def test_status_list_entries_and_order(alice, ds):
    a = create_object(alice, b"a0")
    b = create_object(alice, b"b0")
    _update(alice, a, b"a1")
    assert status_list(alice, BASE, "pending") == [
        {"uuid": a, "version": 0}, {"uuid": a, "version": 1}, {"uuid": b, "version": 0}]
    for status in ("accepted", "deleted", "rejected"):
        assert status_list(alice, BASE, status) == []


@pytest.mark.parametrize("word", ["deprecated", "Accepted", "all", "x" * 10_000, "0d21d5a7"])
def test_invalid_status_word_is_400_with_valid_statuses(alice, ds, word):
    body = assert_error(alice.get(f"{BASE}/{word}"), 400)
    assert body["valid_statuses"] == ITEM_STATUSES


# --- uppercase UUIDs -------------------------------------------------------------------------


def test_uppercase_uuids_work_everywhere(alice, ds):
    uuid = create_object(alice, b"v0")
    upper = uuid.upper()
    assert alice.get(f"{BASE}/{upper}").json == {"uuid": uuid, "versions": 1}
    assert alice.patch(f"{BASE}/{upper}", _body(b"v1")).json == {"uuid": uuid, "version": 1}
    assert load_object(alice, upper, 1)["object"]["uuid"] == uuid
    event_uuid = event_of(alice, "objects", upper, 0)
    resp = alice.put(f"/datasets/{DS}/events/{event_uuid.upper()}/accept")
    assert resp.status_code == 200
    assert resp.json == {"uuid": event_uuid}  # the canonical, lowercase uuid
    assert statuses_of(alice, BASE, uuid, 0) == {"accepted"}
    resp = alice.delete(f"{BASE}/{upper}/0")
    assert resp.json == {"uuid": uuid, "version": 0}
    other = create_object(alice, b"other")
    assert alice.get(f"{BASE}?after={upper}").json == [{"uuid": other, "versions": 1,
                                                        "name": "file.txt"}]
    assert alice.get(f"{BASE}/pending?after={upper}").json == [{"uuid": other, "version": 0}]
    create_schema(alice)
    resp = alice.post(f"/datasets/{DS}/annotations", annotation_body([(upper, 0)]))
    assert resp.status_code == 200
    ann = alice.get(f"/datasets/{DS}/annotations/{resp.json['uuid']}/0").json
    assert ann["objects"] == [{"uuid": uuid, "version": 0}]


def test_mixed_case_uuid(alice, ds):
    uuid = create_object(alice, b"v0")
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(uuid))
    assert alice.get(f"{BASE}/{mixed}").json == {"uuid": uuid, "versions": 1}


# --- pagination ------------------------------------------------------------------------------


def _walk(client, path, limit):
    """Follow `after` cursors from the start; return the pages."""
    pages, after = [], None
    while True:
        query = f"?limit={limit}" + (f"&after={after}" if after else "")
        resp = client.get(path + query)
        assert resp.status_code == 200, resp.json
        if not resp.json:
            return pages
        pages.append(resp.json)
        after = resp.json[-1]["uuid"]
        assert len(pages) < 100


def test_default_limit_is_25_and_limits_are_honoured(alice, ds):
    created = [create_object(alice, f"object {i}") for i in range(30)]
    page = alice.get(BASE).json
    assert [e["uuid"] for e in page] == created[:25]
    assert [e["uuid"] for e in alice.get(f"{BASE}?limit=1").json] == created[:1]
    assert [e["uuid"] for e in alice.get(f"{BASE}?limit=1000").json] == created
    assert [e["uuid"] for e in alice.get(f"{BASE}?after={created[24]}").json] == created[25:]
    assert [e["uuid"] for e in alice.get(f"{BASE}/pending").json] == created[:25]
    assert alice.get(f"{BASE}?after={created[-1]}").json == []


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc", "1.5", "", "9" * 30, "%EF%BC%91"])
def test_bad_limit_is_400(alice, ds, limit):
    create_object(alice, b"x")
    assert_error(alice.get(f"{BASE}?limit={limit}"), 400, "limit")
    assert_error(alice.get(f"{BASE}/pending?limit={limit}"), 400, "limit")


@pytest.mark.parametrize("after", ["abc", "", "0d21d5a7-fe93-4618-a122-7ca9a2ee511", "1" * 36,
                                   "x" * 10_000])
def test_malformed_after_is_400(alice, ds, after):
    create_object(alice, b"x")
    assert_error(alice.get(f"{BASE}?after={after}"), 400)
    assert_error(alice.get(f"{BASE}/accepted?after={after}"), 400)


def test_unknown_after_is_404(alice, ds):
    create_object(alice, b"x")
    create_schema(alice)
    schema_uuid = alice.get(f"/datasets/{DS}/schemas/schema-label").json["uuid"]
    for after in ("0d21d5a7-fe93-4618-a122-7ca9a2ee5116", schema_uuid):
        assert_error(alice.get(f"{BASE}?after={after}"), 404)
        assert_error(alice.get(f"{BASE}/pending?after={after}"), 404)
    # an object of another dataset is not a cursor here
    alice.post("/datasets", {"name": "other"})
    foreign = create_object(alice, b"foreign", dataset="other")
    assert_error(alice.get(f"{BASE}?after={foreign}"), 404)


def test_pages_never_repeat_or_skip_with_many_versions(alice, ds):
    created = []
    for i in range(12):
        uuid = create_object(alice, f"object {i} v0")
        created.append(uuid)
        for v in range(1, i % 4 + 1):
            _update(alice, uuid, f"object {i} v{v}")
    expected = [{"uuid": u, "versions": i % 4 + 1, "name": "file.txt"}
                for i, u in enumerate(created)]
    for limit in (1, 2, 3, 5, 7, 12, 25):
        pages = _walk(alice, BASE, limit)
        assert [e for page in pages for e in page] == expected, limit
        assert all(len(page) <= limit for page in pages)


def test_status_pages_never_split_versions(alice, ds):
    created, expected = [], []
    for i in range(8):
        uuid = create_object(alice, f"object {i} v0")
        created.append(uuid)
        count = (i * 5) % 4 + 1  # 1, 2, 3, 4, 1, ...
        for v in range(1, count):
            _update(alice, uuid, f"object {i} v{v}")
        expected += [{"uuid": uuid, "version": v} for v in range(count)]
    assert status_list(alice, BASE, "pending", "?limit=1000") == expected
    for limit in (1, 2, 3, 4, 5, 9, 1000):
        pages = _walk(alice, f"{BASE}/pending", limit)
        flat = [e for page in pages for e in page]
        assert flat == expected, limit
        for page in pages:
            # a page holds every version of each uuid it mentions
            for uuid in {e["uuid"] for e in page}:
                versions = [e["version"] for e in page if e["uuid"] == uuid]
                assert versions == [e["version"] for e in expected if e["uuid"] == uuid]
            # and exceeds the limit only to finish its last uuid
            if len(page) > limit:
                assert len({e["uuid"] for e in page[limit - 1:]}) == 1


def test_cursor_stays_valid_after_item_leaves_status_list(alice, ds):
    a = create_object(alice, b"a")
    b = create_object(alice, b"b")
    c = create_object(alice, b"c")
    accept(alice, event_of(alice, "objects", b, 0))
    # b left "pending", but it still marks a position
    assert status_list(alice, BASE, "pending", f"?after={b}") == [{"uuid": c, "version": 0}]
    assert status_list(alice, BASE, "pending", f"?after={a}") == [{"uuid": c, "version": 0}]
    assert status_list(alice, BASE, "accepted", f"?after={a}") == [{"uuid": b, "version": 0}]


# --- auth, methods, content type -------------------------------------------------------------


@pytest.mark.parametrize("method,suffix,body", [
    ("GET", "", None), ("POST", "", _body(b"new")), ("GET", "/{u}", None),
    ("PATCH", "/{u}", _body(b"newer")), ("GET", "/pending", None), ("GET", "/{u}/0", None),
    ("DELETE", "/{u}/0", None),
])
def test_every_object_endpoint_needs_a_key(alice, ds, method, suffix, body):
    uuid = create_object(alice, b"x")
    before = events(alice)
    for headers in ({}, {"x-api-key": "bad"}, {"x-api-key": "x" * 10_000}):
        assert_error(alice.request(method, BASE + suffix.format(u=uuid), body, headers=headers),
                     401)
    assert events(alice) == before


@pytest.mark.parametrize("method,suffix", [
    ("PUT", ""), ("DELETE", ""), ("PATCH", ""), ("POST", "/{u}"), ("DELETE", "/{u}"),
    ("PUT", "/{u}"), ("POST", "/{u}/0"), ("PATCH", "/{u}/0"), ("PUT", "/{u}/0"),
    ("PATCH", "/accepted"), ("POST", "/pending"), ("DELETE", "/pending"),
])
def test_wrong_methods_are_405(alice, ds, method, suffix):
    uuid = create_object(alice, b"x")
    before = events(alice)
    assert_error(alice.request(method, BASE + suffix.format(u=uuid)), 405)
    assert events(alice) == before


def test_json_with_charset_is_accepted(alice, ds):
    resp = alice.request("POST", BASE, data=json.dumps(_body(b"x")),
                         content_type="application/json; charset=UTF-8")
    assert resp.status_code == 200
    uuid = resp.json["uuid"]
    resp = alice.request("PATCH", f"{BASE}/{uuid}", data=json.dumps(_body(b"y")),
                         content_type="application/json;charset=utf-8")
    assert resp.json == {"uuid": uuid, "version": 1}


def test_a_body_without_content_type_is_415(alice, ds):
    data = json.dumps(_body(b"x"))
    assert_error(alice.request("POST", BASE, data=data), 415)
    uuid = create_object(alice, b"x")
    assert_error(alice.request("PATCH", f"{BASE}/{uuid}", data=json.dumps(_body(b"y"))), 415)
    assert alice.get(f"{BASE}/{uuid}").json["versions"] == 1


def test_a_raw_upload_needs_a_name(alice, ds):
    before = events(alice)
    data = json.dumps(_body(b"x"))
    assert_error(alice.request("POST", BASE, data=data, content_type="text/plain"), 400, "?name=")
    uuid = create_object(alice, b"x")
    assert_error(alice.request("PATCH", f"{BASE}/{uuid}", data=b"y",
                               content_type="application/xml"), 400, "?name=")
    assert alice.get(f"{BASE}/{uuid}").json["versions"] == 1
    assert len(events(alice)) == len(before) + 1


@pytest.mark.parametrize("field,value", [("name", "a\x00b"), ("name", "line\nbreak"),
                                         ("mimetype", "text/plain\r\n")])
def test_control_characters_in_names_and_mimetypes_are_400(alice, ds, field, value):
    body = {"name": "f.txt", "mimetype": "text/plain", "object": b64(b"x")} | {field: value}
    before = events(alice)
    assert_error(alice.post(f"/datasets/{DS}/objects", body), 400, "control characters")
    assert events(alice) == before
