"""Unit tests of the content checks: JSON Schemas and annotations (SPEC section 6, Content)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from gonk.domain import content
from gonk.domain.errors import DoesNotConform
from gonk.limits import Limits

DRAFTS = {
    "draft-04": "http://json-schema.org/draft-04/schema#",
    "draft-06": "http://json-schema.org/draft-06/schema#",
    "draft-07": "http://json-schema.org/draft-07/schema#",
    "2019-09": "https://json-schema.org/draft/2019-09/schema",
    "2020-12": "https://json-schema.org/draft/2020-12/schema",
}

BOX_SCHEMA = {
    "$schema": DRAFTS["draft-04"],
    "$id": "https://computeheavy.com/example-dataset/schema-example.schema.json",
    "title": "schema-example",
    "definitions": {
        "point": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            "required": ["x", "y"],
        }
    },
    "type": "object",
    "properties": {
        "label": {"type": "string"},
        "points": {"type": "array", "items": {"$ref": "#/definitions/point"},
                   "minItems": 2, "maxItems": 2},
    },
    "required": ["points", "label"],
}


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def does_not_conform(data: bytes) -> DoesNotConform:
    with pytest.raises(DoesNotConform) as info:
        content.check_schema(data)
    err = info.value
    assert err.status == 422
    assert isinstance(err.extra.get("details"), list) and err.extra["details"]
    for detail in err.extra["details"]:
        assert set(detail) == {"path", "message"}
    return err


CACHE = content.ValidatorCache(Limits().schema_cache_bytes)
SECONDS = Limits().validation_seconds


def check(schema: Any, document: Any, raw: bytes | None = None) -> None:
    """check_annotation with a schema given as a value (its hash keys the validator cache)."""
    schema_bytes = schema if isinstance(schema, bytes) else dumps(schema)
    data = raw if raw is not None else dumps(document)
    content.check_annotation(data, hashlib.sha256(schema_bytes).hexdigest(),
                             lambda: schema_bytes, CACHE, SECONDS)


def annotation_error(schema: Any, document: Any = None, raw: bytes | None = None
                     ) -> DoesNotConform:
    with pytest.raises(DoesNotConform) as info:
        check(schema, document, raw)
    assert info.value.status == 422
    return info.value


# --- check_schema: valid ---------------------------------------------------------------------


@pytest.mark.parametrize("draft", list(DRAFTS))
def test_valid_schema_in_each_dialect(draft: str) -> None:
    schema = {"$schema": DRAFTS[draft], "type": "object",
              "properties": {"label": {"type": "string", "minLength": 1}},
              "required": ["label"]}
    content.check_schema(dumps(schema))  # no exception


@pytest.mark.parametrize("uri", [
    "http://json-schema.org/draft-04/schema",
    "https://json-schema.org/draft-04/schema#",
    "http://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2019-09/schema#",
])
def test_dialect_uri_variants(uri: str) -> None:
    content.check_schema(dumps({"$schema": uri, "type": "string"}))


def test_seed_example_schema_is_valid() -> None:
    content.check_schema(dumps(BOX_SCHEMA))


def test_schema_without_dollar_schema_is_valid_as_2020_12() -> None:
    content.check_schema(b'{"type": "object", "properties": {"a": {"type": "integer"}}}')
    assert content.dialect_of({"type": "object"}) is content.DIALECTS["json-schema.org/draft/2020-12/schema"]


def test_empty_and_boolean_schemas_are_valid() -> None:
    content.check_schema(b"{}")
    content.check_schema(b"true")
    content.check_schema(b"false")


@pytest.mark.parametrize("draft,validator", [
    ("draft-04", "Draft4Validator"), ("draft-06", "Draft6Validator"),
    ("draft-07", "Draft7Validator"), ("2019-09", "Draft201909Validator"),
    ("2020-12", "Draft202012Validator"),
])
def test_dialect_of_names_the_right_validator(draft: str, validator: str) -> None:
    assert content.dialect_of({"$schema": DRAFTS[draft]}).__name__ == validator


# --- check_schema: invalid -------------------------------------------------------------------


@pytest.mark.parametrize("draft", [None, *DRAFTS])
def test_type_must_be_a_type_name(draft: str | None) -> None:
    schema: dict[str, Any] = {"type": 5}
    if draft:
        schema["$schema"] = DRAFTS[draft]
    err = does_not_conform(dumps(schema))
    assert "not a valid JSON Schema" in err.message


def test_invalid_nested_keyword_names_its_path() -> None:
    err = does_not_conform(dumps({"properties": {"a": {"minLength": -1}}}))
    assert err.extra["details"][0]["path"] == "/properties/a/minLength"


def test_validity_follows_the_named_dialect() -> None:
    """exclusiveMinimum is a boolean in draft-04 and a number from draft-06 on."""
    numeric = {"type": "number", "minimum": 0, "exclusiveMinimum": 5}
    boolean = {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    does_not_conform(dumps({"$schema": DRAFTS["draft-04"], **numeric}))
    content.check_schema(dumps({"$schema": DRAFTS["draft-04"], **boolean}))
    content.check_schema(dumps({"$schema": DRAFTS["draft-07"], **numeric}))
    does_not_conform(dumps({"$schema": DRAFTS["draft-07"], **boolean}))
    does_not_conform(dumps(boolean))  # no $schema: 2020-12


@pytest.mark.parametrize("data", [b"{not json", b"", b"{'a': 1}", b'{"type": "object"',
                                  b'{"a": 1} trailing'])
def test_non_json_schema(data: bytes) -> None:
    err = does_not_conform(data)
    assert "not valid JSON" in err.message


def test_non_utf8_schema() -> None:
    err = does_not_conform(b'{"title": "caf\xe9"}')
    assert "UTF-8" in err.message


@pytest.mark.parametrize("data", [b'{"minimum": NaN}', b'{"maximum": Infinity}',
                                  b'{"minimum": -Infinity}'])
def test_nan_and_infinity_are_not_json(data: bytes) -> None:
    does_not_conform(data)


@pytest.mark.parametrize("value", [[], [{"type": "string"}], "string", 5, None])
def test_schema_must_be_object_or_boolean(value: Any) -> None:
    err = does_not_conform(dumps(value))
    assert "JSON object" in err.message


@pytest.mark.parametrize("uri", [
    "http://json-schema.org/draft-03/schema#",
    "http://example.com/my-dialect",
    "json-schema.org/draft-08/schema",
    "",
    5,
    None,
])
def test_unknown_dialect(uri: Any) -> None:
    err = does_not_conform(dumps({"$schema": uri, "type": "object"}))
    assert "$schema" in err.message
    assert err.extra["details"][0]["path"] == "$schema"


def test_error_json_carries_details() -> None:
    err = does_not_conform(b"[")
    body = err.to_json()
    assert body["error"] == err.message
    assert body["details"] == err.extra["details"]


# --- check_annotation ------------------------------------------------------------------------


LABEL = {"$schema": DRAFTS["draft-04"], "type": "object",
         "properties": {"label": {"type": "string"}}, "required": ["label"]}


def test_conforming_annotation_passes() -> None:
    check(LABEL, {"label": "cat"})
    check(BOX_SCHEMA, {"label": "box", "points": [{"x": 0, "y": 1}, {"x": 2.5, "y": 3}]})


@pytest.mark.parametrize("draft", list(DRAFTS))
def test_annotation_checked_in_each_dialect(draft: str) -> None:
    schema = {"$schema": DRAFTS[draft], "type": "object",
              "properties": {"n": {"type": "integer", "maximum": 3}}}
    check(schema, {"n": 3})
    err = annotation_error(schema, {"n": 4})
    assert err.extra["details"] == [{"path": "/n", "message": err.extra["details"][0]["message"]}]
    assert "3" in err.extra["details"][0]["message"]


def test_missing_required_property_at_root() -> None:
    err = annotation_error(LABEL, {"name": "cat"})
    assert err.extra["details"][0]["path"] == ""
    assert "label" in err.extra["details"][0]["message"]
    assert "does not conform" in err.message


def test_nested_error_path_is_json_pointer() -> None:
    err = annotation_error(BOX_SCHEMA, {"label": "box",
                                        "points": [{"x": 0, "y": 1}, {"x": "two", "y": 3}]})
    assert [d["path"] for d in err.extra["details"]] == ["/points/1/x"]
    assert "number" in err.extra["details"][0]["message"]


def test_every_error_is_reported_in_path_order() -> None:
    err = annotation_error(BOX_SCHEMA, {"label": 5, "points": [{"x": 0}, {"x": 1, "y": "a"}]})
    paths = [d["path"] for d in err.extra["details"]]
    assert set(paths) == {"/label", "/points/0", "/points/1/y"}
    assert paths == sorted(paths)


def test_pointer_escapes_tilde_and_slash() -> None:
    schema = {"properties": {"a/b": {"type": "string"}, "c~d": {"type": "string"}}}
    err = annotation_error(schema, {"a/b": 1, "c~d": 2})
    assert {d["path"] for d in err.extra["details"]} == {"/a~1b", "/c~0d"}


def test_details_are_capped() -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    err = annotation_error(schema, list(range(content.MAX_DETAILS + 10)))
    assert len(err.extra["details"]) == content.MAX_DETAILS


def test_false_schema_rejects_everything() -> None:
    annotation_error(False, {})
    check(True, {"anything": [1, 2]})


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"label": NaN}', b'{"label": Infinity}',
                                 b'{"label": "cat"} x'])
def test_non_json_annotation(raw: bytes) -> None:
    err = annotation_error(LABEL, raw=raw)
    assert "not valid JSON" in err.message
    assert err.extra["details"][0]["path"] == ""


def test_non_utf8_annotation() -> None:
    err = annotation_error(LABEL, raw=b'{"label": "caf\xe9"}')
    assert "UTF-8" in err.message


def test_utf8_annotation_text_is_fine() -> None:
    check(LABEL, None, raw='{"label": "caf\u00e9 \U0001f408"}'.encode())


def test_unresolvable_remote_ref_does_not_conform() -> None:
    schema = {"$ref": "https://example.invalid/never-fetched.json"}
    err = annotation_error(schema, {"a": 1})
    assert "reference" in err.message


def test_validator_is_cached_by_schema_hash() -> None:
    schema_bytes = dumps({"type": "object", "title": "cache-test", "required": ["k"]})
    digest = hashlib.sha256(schema_bytes).hexdigest()
    loads: list[int] = []

    def load() -> bytes:
        loads.append(1)
        return schema_bytes

    content.check_annotation(b'{"k": 1}', digest, load, CACHE, SECONDS)
    content.check_annotation(b'{"k": 2}', digest, load, CACHE, SECONDS)
    with pytest.raises(DoesNotConform):
        content.check_annotation(b"{}", digest, load, CACHE, SECONDS)
    assert len(loads) == 1


def test_parse_json_rejects_constants_and_returns_value() -> None:
    assert content.parse_json(b'{"a": [1, 2.5, null, true]}', "thing") == {
        "a": [1, 2.5, None, True]}
    with pytest.raises(DoesNotConform, match="thing"):
        content.parse_json(b"NaN", "thing")
