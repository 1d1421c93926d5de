"""Finding things in the object, annotation and schema lists: each item's newest name (objects)
or schema (annotations), the ?name= and ?prefix= filters (objects, schemas), ?schema=
(annotations), their paging with `after`/`limit`, and their bad values."""

from __future__ import annotations

from typing import Any

import pytest

from gonk.storage.reads import prefix_upper_bound
from tests.support.api import (
    DS,
    accept,
    assert_error,
    create_annotation,
    create_object,
    create_schema,
    event_of,
    reject,
)
from tests.support.http import Client, b64

OBJECTS = f"/datasets/{DS}/objects"
ANNOTATIONS = f"/datasets/{DS}/annotations"
SCHEMAS = f"/datasets/{DS}/schemas"


def _list(client: Client, base: str, **query: Any) -> Any:
    """GET base with the query parameters (percent-encoded by the test client), asserting 200."""
    resp = client.get(base, query_string=query)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.json


def _rename(client: Client, uuid: str, data: str, name: str) -> int:
    resp = client.patch(f"{OBJECTS}/{uuid}",
                        {"name": name, "mimetype": "text/plain", "object": b64(data)})
    assert resp.status_code == 200, resp.json
    return resp.json["version"]


def _names(page: list[dict[str, Any]]) -> list[str]:
    return [entry["name"] for entry in page]


def _all_pages(client: Client, base: str, limit: int, **query: Any) -> list[dict[str, Any]]:
    """Every page of a filtered list, following the `after` cursor; each page at most `limit`."""
    collected: list[dict[str, Any]] = []
    after = None
    while True:
        params = dict(query, limit=limit) | ({"after": after} if after else {})
        page = _list(client, base, **params)
        assert len(page) <= limit
        if not page:
            return collected
        collected += page
        after = page[-1]["uuid"]


# --- names and schemas in the lists ----------------------------------------------------------


def test_object_list_gives_each_newest_name(alice, bob, ds):
    first = create_object(alice, "one", name="first.txt")
    second = create_object(bob, "two", name="second.txt")
    assert _list(alice, OBJECTS) == [{"uuid": first, "versions": 1, "name": "first.txt"},
                                     {"uuid": second, "versions": 1, "name": "second.txt"}]
    # an update names the object anew, as soon as it is proposed (pending or not)
    assert _rename(bob, first, "one, again", "renamed.txt") == 1
    assert _list(alice, OBJECTS) == [{"uuid": first, "versions": 2, "name": "renamed.txt"},
                                     {"uuid": second, "versions": 1, "name": "second.txt"}]
    # the newest version whatever its status: rejecting it does not bring the old name back
    reject(alice, event_of(alice, "objects", first, 1))
    assert _list(alice, OBJECTS)[0] == {"uuid": first, "versions": 2, "name": "renamed.txt"}
    # the info endpoint keeps the seed's shape
    assert alice.get(f"{OBJECTS}/{first}").json == {"uuid": first, "versions": 2}


def test_annotation_list_gives_each_newest_schema(alice, ds):
    label = create_schema(alice)
    other = create_schema(alice, "schema-other", {"type": "object"})
    obj = create_object(alice, "bird")
    ann = create_annotation(alice, [(obj, 0)])
    assert _list(alice, ANNOTATIONS) == [{
        "uuid": ann, "versions": 1,
        "schema": {"uuid": label["uuid"], "version": 0, "name": "schema-label"}}]
    # the same keys as the annotation's load response, plus the schema's name
    loaded = alice.get(f"{ANNOTATIONS}/{ann}/0").json["annotation"]["schema"]
    listed = _list(alice, ANNOTATIONS)[0]["schema"]
    assert {k: listed[k] for k in loaded} == loaded
    resp = alice.patch(f"{ANNOTATIONS}/{ann}", {"schema": {"name": "schema-other", "version": 0},
                                               "annotation": b64({"anything": 1})})
    assert resp.status_code == 200, resp.json
    assert _list(alice, ANNOTATIONS) == [{
        "uuid": ann, "versions": 2,
        "schema": {"uuid": other["uuid"], "version": 0, "name": "schema-other"}}]
    # a newer version of the schema itself
    resp = alice.patch(f"{SCHEMAS}/schema-label", {"schema": b64({"type": "object"})})
    assert resp.status_code == 200, resp.json
    resp = alice.patch(f"{ANNOTATIONS}/{ann}", {"schema": {"name": "schema-label", "version": 1},
                                               "annotation": b64({"label": "x"})})
    assert resp.status_code == 200, resp.json
    assert _list(alice, ANNOTATIONS)[0]["schema"] == {"uuid": label["uuid"], "version": 1,
                                                      "name": "schema-label"}


def test_schema_list_keeps_its_shape(alice, ds):
    label = create_schema(alice)
    assert _list(alice, SCHEMAS) == [{"name": "schema-label", "uuid": label["uuid"],
                                      "versions": 1}]


# --- ?name= and ?prefix= on objects -----------------------------------------------------------

SPECIAL_NAMES = [
    "100%_done.txt", "100%x.txt", "100_.txt", "1000.txt", "a_b", "axb", "a%b", "aXb", "a-b.txt",
    "ab.txt", "ac.txt", "AB.txt", "über.txt", "ü-file", "u.txt", "日本語.txt", "日本.txt",
    "emoji-\U0001F426.png", "emoji-\U0001F427.png", "emoji-.png", "back\\slash", "quote'd",
    "\U0010FFFF-last", "\uFFFF-nonchar",
]


@pytest.fixture
def named(alice, ds) -> dict[str, str]:
    """One object per name of SPECIAL_NAMES, created in that order: {name: uuid}."""
    return {name: create_object(alice, f"bytes of {name}", name=name) for name in SPECIAL_NAMES}


def test_exact_name_filter(alice, named):
    for name, uuid in named.items():
        assert _list(alice, OBJECTS, name=name) == [{"uuid": uuid, "versions": 1, "name": name}]
    assert _list(alice, OBJECTS, name="a") == []
    assert _list(alice, OBJECTS, name="ab.TXT") == []  # case matters
    assert _list(alice, OBJECTS, name="a_b ") == []


@pytest.mark.parametrize("prefix, expected", [
    ("100%", ["100%_done.txt", "100%x.txt"]),  # % is no wildcard
    ("100%_", ["100%_done.txt"]),  # nor _
    ("100_", ["100_.txt"]),
    ("100", ["100%_done.txt", "100%x.txt", "100_.txt", "1000.txt"]),
    ("a_", ["a_b"]),
    ("a%", ["a%b"]),
    ("ab", ["ab.txt"]),  # a locale's collation would put "a-b.txt" here
    ("a-", ["a-b.txt"]),
    ("AB", ["AB.txt"]),  # case-sensitive
    ("aX", ["aXb"]),
    ("ü", ["über.txt", "ü-file"]),
    ("u", ["u.txt"]),
    ("日本", ["日本語.txt", "日本.txt"]),
    ("日本語", ["日本語.txt"]),
    ("emoji-\U0001F426", ["emoji-\U0001F426.png"]),
    ("emoji-", ["emoji-\U0001F426.png", "emoji-\U0001F427.png", "emoji-.png"]),
    ("back\\", ["back\\slash"]),
    ("quote'", ["quote'd"]),
    ("\U0010FFFF", ["\U0010FFFF-last"]),  # no string above it: an open range
    ("\uFFFF", ["\uFFFF-nonchar"]),
    ("100%_done.txt", ["100%_done.txt"]),  # a whole name is its own prefix
    ("100%_done.txt.", []),
    ("zzz", []),
])
def test_prefix_filter_is_exact_about_special_characters(alice, named, prefix, expected):
    page = _list(alice, OBJECTS, prefix=prefix, limit=1000)
    assert _names(page) == expected  # in creation order
    assert [entry["uuid"] for entry in page] == [named[name] for name in expected]


def test_empty_prefix_filters_nothing(alice, named):
    assert _list(alice, OBJECTS, prefix="", limit=1000) == _list(alice, OBJECTS, limit=1000)


def test_filters_apply_to_the_newest_name(alice, ds):
    kept = create_object(alice, "kept", name="img-kept.png")
    moved = create_object(alice, "moved", name="img-moved.png")
    accept(alice, event_of(alice, "objects", moved, 0))
    _rename(alice, moved, "moved, v1", "doc-moved.txt")
    assert [e["uuid"] for e in _list(alice, OBJECTS, prefix="img-")] == [kept]
    assert _list(alice, OBJECTS, name="img-moved.png") == []
    assert _list(alice, OBJECTS, prefix="doc-") == [
        {"uuid": moved, "versions": 2, "name": "doc-moved.txt"}]
    assert _list(alice, OBJECTS, name="doc-moved.txt") == [
        {"uuid": moved, "versions": 2, "name": "doc-moved.txt"}]
    # back to an old name: found once, by that name
    _rename(alice, moved, "moved, v2", "img-moved.png")
    assert [e["uuid"] for e in _list(alice, OBJECTS, prefix="img-")] == [kept, moved]
    assert _list(alice, OBJECTS, name="img-moved.png") == [
        {"uuid": moved, "versions": 3, "name": "img-moved.png"}]
    assert _list(alice, OBJECTS, prefix="doc-") == []


def test_two_objects_with_one_name(alice, ds):
    """Names are not unique: the exact filter finds every object that bears it."""
    first = create_object(alice, "first", name="same.txt")
    second = create_object(alice, "second", name="same.txt")
    assert [e["uuid"] for e in _list(alice, OBJECTS, name="same.txt")] == [first, second]


def test_filters_page_with_after_and_limit(alice, ds):
    created: dict[str, list[str]] = {"img": [], "doc": []}
    for i in range(13):
        kind = "img" if i % 3 else "doc"
        created[kind].append(create_object(alice, f"content {i}", name=f"{kind}-{i:02}"))
    everything = _list(alice, OBJECTS, limit=1000)
    assert len(everything) == 13
    for limit in (1, 2, 3, 25):
        assert [e["uuid"] for e in _all_pages(alice, OBJECTS, limit, prefix="img-")] == \
            created["img"]
        assert [e["uuid"] for e in _all_pages(alice, OBJECTS, limit, prefix="doc-")] == \
            created["doc"]
    # the default page size applies to filtered lists too
    many = [create_object(alice, f"many {i}", name=f"many-{i:02}") for i in range(30)]
    assert [e["uuid"] for e in _list(alice, OBJECTS, prefix="many-")] == many[:25]
    assert [e["uuid"] for e in _list(alice, OBJECTS, prefix="many-", after=many[24])] == \
        many[25:]
    # the cursor is any object of the dataset, matching the filter or not, in creation order
    doc = created["doc"][1]  # doc-03
    assert [e["uuid"] for e in _list(alice, OBJECTS, prefix="img-", after=doc)] == \
        created["img"][2:]
    assert _list(alice, OBJECTS, name="img-04", after=doc) == [
        {"uuid": created["img"][2], "versions": 1, "name": "img-04"}]
    assert _list(alice, OBJECTS, name="img-04", after=created["img"][2]) == []
    # an object renamed out of the filter since its uuid was read still works as a cursor
    _rename(alice, created["img"][0], "renamed", "other")
    assert [e["uuid"] for e in _list(alice, OBJECTS, prefix="img-",
                                     after=created["img"][0])] == created["img"][1:]


def test_filters_never_list_schemas_or_annotations(alice, ds):
    create_schema(alice)
    obj = create_object(alice, "x", name="schemata.txt")
    create_annotation(alice, [(obj, 0)])
    assert [e["uuid"] for e in _list(alice, OBJECTS, prefix="schema")] == [obj]
    assert [e["uuid"] for e in _list(alice, OBJECTS, prefix="")] == [obj]


# --- ?name= and ?prefix= on schemas -----------------------------------------------------------


def test_schema_list_filters(alice, ds):
    label = create_schema(alice, "schema-label")
    labels = create_schema(alice, "schema-label_s", {"type": "object"})
    box = create_schema(alice, "schema-box", {"type": "array"})
    entry = {s["name"]: s for s in (label, labels, box)}
    assert _list(alice, SCHEMAS, name="schema-label") == [entry["schema-label"]]
    assert _list(alice, SCHEMAS, prefix="schema-label") == [entry["schema-label"],
                                                            entry["schema-label_s"]]
    assert _list(alice, SCHEMAS, prefix="schema-label_") == [entry["schema-label_s"]]
    assert _list(alice, SCHEMAS, prefix="schema-") == [label, labels, box]
    assert _list(alice, SCHEMAS, prefix="sch") == [label, labels, box]
    assert _list(alice, SCHEMAS, prefix="schema-b") == [box]
    assert _list(alice, SCHEMAS, prefix="schema-c") == []
    assert _list(alice, SCHEMAS, name="schema-nothing") == []


# --- ?schema= on annotations ------------------------------------------------------------------


def test_annotations_filtered_by_schema(alice, ds):
    create_schema(alice, "schema-label")
    create_schema(alice, "schema-label2", {"type": "object"})
    objs = [create_object(alice, f"object {i}") for i in range(3)]
    labelled, other = [], []
    for i in range(7):
        if i % 2:
            other.append(create_annotation(alice, [(objs[i % 3], 0)], {"n": i},
                                           schema="schema-label2"))
        else:
            labelled.append(create_annotation(alice, [(objs[i % 3], 0)], {"label": str(i)}))
    page = _list(alice, ANNOTATIONS, schema="schema-label", limit=1000)
    assert [e["uuid"] for e in page] == labelled
    assert {e["schema"]["name"] for e in page} == {"schema-label"}
    assert [e["uuid"] for e in _list(alice, ANNOTATIONS, schema="schema-label2")] == other
    for limit in (1, 3):
        assert [e["uuid"] for e in _all_pages(alice, ANNOTATIONS, limit,
                                              schema="schema-label")] == labelled
    # the cursor may be any annotation
    assert [e["uuid"] for e in _list(alice, ANNOTATIONS, schema="schema-label",
                                     after=other[0])] == labelled[1:]
    # an update to the other schema moves the annotation
    resp = alice.patch(f"{ANNOTATIONS}/{labelled[0]}",
                       {"schema": {"name": "schema-label2", "version": 0},
                        "annotation": b64({"moved": True})})
    assert resp.status_code == 200, resp.json
    assert [e["uuid"] for e in _list(alice, ANNOTATIONS, schema="schema-label")] == labelled[1:]
    # ... and lists it in its place in creation order (it was the first annotation)
    assert [e["uuid"] for e in _list(alice, ANNOTATIONS, schema="schema-label2")] == \
        [labelled[0], *other]


def test_schema_filter_follows_a_reused_name(alice, ds):
    """A name passes to a new schema once the old one is rejected: the filter finds the
    annotations of both schemas that bore it."""
    old = create_schema(alice, "schema-label")
    obj = create_object(alice, "x")
    first = create_annotation(alice, [(obj, 0)])
    reject(alice, event_of(alice, "schemas", "schema-label", 0))
    new = create_schema(alice, "schema-label", {"type": "object"})
    assert new["uuid"] != old["uuid"]
    second = create_annotation(alice, [(obj, 0)], {"anything": 1})
    page = _list(alice, ANNOTATIONS, schema="schema-label")
    assert [(e["uuid"], e["schema"]["uuid"]) for e in page] == [(first, old["uuid"]),
                                                              (second, new["uuid"])]


# --- bad values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query, words", [
    ({"name": "a", "prefix": "a"}, "not both"),
    ({"name": ""}, "name"),
    ({"name": "x" * 256}, "255"),
    ({"name": "schema-label"}, "schema-"),
    ({"name": "tab\there"}, "control"),
    ({"prefix": "x" * 256}, "255"),
    ({"prefix": "nul\x00"}, "control"),
    ({"prefix": "line\nbreak"}, "control"),
    ({"hash": "0" * 64, "name": "a"}, "hash"),
    ({"hash": "0" * 64, "prefix": "a"}, "hash"),
    ({"prefix": "a", "limit": "0"}, "limit"),
    ({"prefix": "a", "after": "nope"}, "after"),
])
def test_bad_object_filters_are_400(alice, ds, query, words):
    create_object(alice, "x", name="a")
    assert_error(alice.get(OBJECTS, query_string=query), 400, words)


def test_filters_with_an_unknown_cursor_are_404(alice, ds):
    obj = create_object(alice, "x", name="a")
    unknown = "00000000-0000-4000-8000-000000000000"
    assert_error(alice.get(OBJECTS, query_string={"prefix": "a", "after": unknown}), 404)
    assert_error(alice.get(OBJECTS, query_string={"name": "a", "after": unknown}), 404)
    create_schema(alice)
    ann = create_annotation(alice, [(obj, 0)])
    assert_error(alice.get(OBJECTS, query_string={"prefix": "a", "after": ann}), 404)
    assert_error(alice.get(ANNOTATIONS, query_string={"schema": "schema-label", "after": obj}),
                 404)


@pytest.mark.parametrize("query, status, words", [
    ({"name": "a"}, 400, "schema="),
    ({"prefix": "a"}, 400, "schema="),
    ({"schema": "label"}, 400, "schema names"),
    ({"schema": ""}, 400, "schema names"),
    ({"schema": "schema-" + "x" * 249}, 400, "schema names"),
    ({"schema": "schema-label", "limit": "1001"}, 400, "limit"),
    ({"schema": "schema-nothing"}, 404, "schema-nothing"),
])
def test_bad_annotation_filters(alice, ds, query, status, words):
    create_schema(alice)
    assert_error(alice.get(ANNOTATIONS, query_string=query), status, words)


@pytest.mark.parametrize("query, words", [
    ({"name": "label"}, "schema names"),
    ({"name": "schema-a", "prefix": "schema-"}, "not both"),
    ({"prefix": "\x01"}, "control"),
])
def test_bad_schema_filters_are_400(alice, ds, query, words):
    assert_error(alice.get(SCHEMAS, query_string=query), 400, words)


def test_filters_need_a_key_and_a_dataset(alice, bob, ds):
    assert_error(alice.get(OBJECTS, query_string={"prefix": "a"}, headers={}), 401)
    assert_error(alice.get("/datasets/nope/objects", query_string={"prefix": "a"}), 404)
    assert_error(alice.get("/datasets/nope/annotations",
                           query_string={"schema": "schema-label"}), 404)
    assert bob.get(OBJECTS, query_string={"prefix": "a"}).status_code == 200


# --- how prefixes become index ranges ---------------------------------------------------------


@pytest.mark.parametrize("prefix, bound", [
    ("a", "b"), ("ab", "ac"), ("a%", "a&"), ("a_", "a`"), ("z", "{"), ("ü", "ý"),
    ("a\uD7FF", "a\uE000"),  # past the surrogates, which no stored text holds
    ("a\U0010FFFF", "b"), ("\U0010FFFF\U0010FFFF", None), ("\U0001F426", "\U0001F427"),
])
def test_prefix_upper_bound(prefix, bound):
    assert prefix_upper_bound(prefix) == bound


def test_names_compare_in_code_point_order(installation):
    """A prefix is a range of the name index only if names compare byte by byte: PostgreSQL's
    "C" collation on the column (whatever the database's locale), SQLite's default."""
    from sqlalchemy import text

    with installation.db.read() as conn:
        if conn.dialect.name == "postgresql":
            collation = conn.execute(text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'versions' AND column_name = 'name'")).scalar()
            assert collation == "C"
        else:
            assert conn.execute(text("SELECT 'a-b' < 'ab' AND 'ab' < 'a~' "
                                     "AND 'Z' < 'a'")).scalar() == 1
