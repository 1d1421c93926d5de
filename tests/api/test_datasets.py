"""POST/GET /datasets: creation, listing, names, authentication and the generic HTTP errors."""

from __future__ import annotations

import json

import pytest

from tests.support.api import DS, assert_error, events
from tests.support.http import b64


def test_create_dataset_returns_its_name(alice):
    resp = alice.post("/datasets", {"name": "birds-2024"})
    assert resp.status_code == 200
    assert resp.json == {"dataset": "birds-2024"}


def test_list_datasets_is_sorted_and_complete(alice, bob):
    for name in ("zebra", "Apple", "mango", "0-first"):
        assert alice.post("/datasets", {"name": name}).status_code == 200
    assert bob.post("/datasets", {"name": "bobs"}).status_code == 200
    resp = bob.get("/datasets")
    assert resp.status_code == 200
    assert resp.json == sorted(["zebra", "Apple", "mango", "0-first", "bobs"])


def test_list_datasets_empty(alice):
    resp = alice.get("/datasets")
    assert resp.status_code == 200
    assert resp.json == []


def test_creator_is_first_owner_and_first_event(alice):
    alice.post("/datasets", {"name": "ds"})
    assert alice.get("/datasets/ds/owners").json == ["alice"]
    log = events(alice, "ds")
    assert len(log) == 1
    assert log[0]["type"] == "OwnerAddEvent"
    assert log[0]["owner"] == "alice" and log[0]["author"] == "alice"
    assert log[0]["owner_action"] == 1


def test_duplicate_dataset_name_is_409_and_changes_nothing(alice, bob, ds):
    before = events(alice)
    body = assert_error(bob.post("/datasets", {"name": DS}), 409)
    assert "exists" in body["error"]
    assert events(alice) == before
    assert alice.get("/datasets/ds/owners").json == ["alice"]


def test_dataset_names_are_case_sensitive(alice):
    assert alice.post("/datasets", {"name": "Data"}).status_code == 200
    assert alice.post("/datasets", {"name": "data"}).status_code == 200
    assert alice.get("/datasets").json == ["Data", "data"]


@pytest.mark.parametrize("name", ["a", "A-1", "0", "x" * 128, "a-", "my-data-set"])
def test_valid_dataset_names(alice, name):
    resp = alice.post("/datasets", {"name": name})
    assert resp.status_code == 200
    assert resp.json == {"dataset": name}
    assert name in alice.get("/datasets").json


@pytest.mark.parametrize("name", [
    "..", ".", "-x", "-", "", "x" * 129, "a b", "a_b", "a.b", "a/b", "ü", "a\nb", "x" * 10_000,
    " a", "a\x00",
])
def test_bad_dataset_names_are_400(alice, name):
    body = assert_error(alice.post("/datasets", {"name": name}), 400)
    assert "dataset name" in body["error"].lower()
    assert alice.get("/datasets").json == []


@pytest.mark.parametrize("body", [{}, {"name": None}, {"name": 5}, {"name": ["ds"]},
                                  {"name": {"n": 1}}, {"nme": "ds"}, {"name": True}])
def test_missing_or_mistyped_name_is_400(alice, body):
    assert_error(alice.post("/datasets", body), 400, "name")
    assert alice.get("/datasets").json == []


def test_non_json_and_array_bodies_are_400(alice):
    assert_error(alice.request("POST", "/datasets", data="{name: ds}",
                               content_type="application/json"), 400)
    assert_error(alice.request("POST", "/datasets", data="",
                               content_type="application/json"), 400)
    assert_error(alice.post("/datasets", ["ds"]), 400)
    assert alice.get("/datasets").json == []


def test_wrong_content_type_is_415(alice):
    data = json.dumps({"name": "ds"})
    assert_error(alice.request("POST", "/datasets", data=data, content_type="text/plain"), 415)
    assert_error(alice.request("POST", "/datasets", data=data,
                               content_type="application/x-www-form-urlencoded"), 415)
    assert_error(alice.request("POST", "/datasets", data=data), 415)
    assert alice.get("/datasets").json == []


def test_json_with_charset_is_accepted(alice):
    resp = alice.request("POST", "/datasets", data=json.dumps({"name": "ds"}),
                         content_type="application/json; charset=utf-8")
    assert resp.status_code == 200
    assert resp.json == {"dataset": "ds"}


@pytest.mark.parametrize("method,path", [("GET", "/datasets"), ("POST", "/datasets")])
def test_missing_or_unknown_key_is_401(alice, method, path):
    for headers in ({}, {"x-api-key": ""}, {"x-api-key": "not-a-key"},
                    {"x-api-key": alice.key + "x"}, {"X-Api-Key": alice.key[:-1]}):
        resp = alice.request(method, path, {"name": "ds"}, headers=headers)
        assert_error(resp, 401)
    assert alice.get("/datasets").json == []


def test_header_name_is_case_insensitive(alice):
    resp = alice.get("/datasets", headers={"X-API-KEY": alice.key})
    assert resp.status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_method_not_allowed_on_datasets_is_405(alice, method):
    body = assert_error(alice.request(method, "/datasets"), 405)
    assert "GET" in body["error"] and "POST" in body["error"]


# ("/" is the web app's page: tests/web/; a file the app does not have is 404 like any route)
# (/datasets/ds is a route now: the dataset's settings, tests/api/test_members.py)
@pytest.mark.parametrize("path", ["/nothing", "/datasets/ds/nothing",
                                  "/datasets/ds/objects/a/b/c", "/datasets/", "/app",
                                  "/app/nothing.js", "/app/../README.md"])
def test_unknown_routes_are_404(alice, ds, path):
    assert_error(alice.get(path), 404)


def test_unknown_dataset_is_404_on_every_resource(alice):
    for path in ("owners", "events", "schemas", "objects", "annotations", "objects/pending",
                 "schemas/schema-x", "annotations/accepted"):
        assert_error(alice.get(f"/datasets/nope/{path}"), 404, "nope")


@pytest.mark.parametrize("name", ["..", "%2E%2E", "-x", "a.b", "%2e"])
def test_traversal_like_names_in_paths_are_rejected(alice, ds, name):
    for path in ("owners", "events", "objects", "schemas", "annotations"):
        resp = alice.get(f"/datasets/{name}/{path}")
        assert resp.status_code in (400, 404), resp.status_code
        assert_error(resp, resp.status_code)
    resp = alice.put(f"/datasets/{name}/owners/bob")
    assert resp.status_code in (400, 404)
    assert alice.get("/datasets").json == [DS]


def test_request_larger_than_limit_is_413(app, alice, ds):
    app.config["MAX_CONTENT_LENGTH"] = 200
    before = events(alice)
    big = {"name": "big.bin", "mimetype": "application/octet-stream", "object": b64(b"x" * 500)}
    body = assert_error(alice.post(f"/datasets/{DS}/objects", big), 413)
    assert "200" in body["error"]
    assert_error(alice.post("/datasets", {"name": "x" * 300}), 413)
    assert events(alice) == before
    assert alice.get("/datasets").json == [DS]
    # a body under the limit still works
    small = {"name": "s", "mimetype": "text/plain", "object": b64(b"x")}
    assert alice.post(f"/datasets/{DS}/objects", small).status_code == 200


def test_rekeyed_user_old_key_stops_working_at_once(alice, installation):
    from gonk.users import rekey_user

    old = alice.key
    new = rekey_user(installation, "alice")
    assert_error(alice.get("/datasets", headers={"x-api-key": old}), 401)
    resp = alice.get("/datasets", headers={"x-api-key": new})
    assert resp.status_code == 200
