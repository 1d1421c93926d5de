"""domain/json_schema.py and the validator cache: validation in bounded time and memory, and
every failure of a validator a 422 (DoesNotConform), never an exception that would be a 500.

Ends with a property-based run (hypothesis, a bounded number of examples) over generated
schemas and annotations: patterns, numbers, arrays, enums."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gonk.domain import content, json_schema, rules
from gonk.domain.errors import DoesNotConform, Invalid, TooLarge
from gonk.domain.memory import MemoryState
from gonk.limits import Limits, environment_name


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def validate(schema: Any, document: Any, cache: content.ValidatorCache | None = None,
             seconds: float = 5.0, raw: bytes | None = None) -> None:
    schema_bytes = dumps(schema)
    content.check_annotation(raw if raw is not None else dumps(document),
                             hashlib.sha256(schema_bytes).hexdigest(), lambda: schema_bytes,
                             cache or content.ValidatorCache(10**8), seconds)


# --- patterns ----------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern, text, matches", [
    ("^\\u00e9t\\u00E9$", "été", True),
    ("\\\\u0041", "\\u0041", True),  # an escaped backslash, then "u0041": not an escape
    ("^\\cJ$", "\n", True),
    ("^\\d+$", "123", True),
    ("^\\d+$", "١٢٣", False),  # ECMA-262's \d is ASCII only (Python's re would match)
    ("^[\\w.-]+@", "a.b@x", True),
    ("^\\/path$", "/path", True),
    ("\\p{Greek}", "λ", True),
])
def test_patterns_in_ecma_syntax_run_on_re2(pattern: str, text: str, matches: bool) -> None:
    assert (json_schema.search(pattern, text) is not None) is matches


def test_catastrophic_pattern_is_linear() -> None:
    started = time.monotonic()
    assert json_schema.search("^(a+)+$", "a" * 100_000 + "!") is None
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("pattern", ["(", "(?=x)", "(?<!x)y", "(a)\\1", "a{1001}", "[z-a]",
                                     "(((a{1000}){1000}){1000})"])
def test_patterns_re2_refuses(pattern: str) -> None:
    with pytest.raises(json_schema.PatternRefused):
        json_schema.compile_pattern(pattern)


def test_pattern_problems_point_at_each_pattern() -> None:
    schema = {"properties": {"a": {"pattern": "("}, "pattern": {"type": "string"}},
              "patternProperties": {"ok": {}, "(?=": {}}, "$defs": {"x": {"pattern": "\\1"}},
              "x-vendor": {"pattern": "(?!"},  # unknown keyword: a $ref may point there
              "enum": [{"pattern": "("}], "const": {"pattern": "("},
              "examples": [{"pattern": "("}], "default": {"pattern": "("}}
    paths = [path for path, _ in json_schema.pattern_problems(schema)]
    assert paths == ["/$defs/x/pattern", "/patternProperties/(?=", "/properties/a/pattern",
                     "/x-vendor/pattern"]


def test_a_stored_schema_with_a_refused_pattern_gives_422_not_500() -> None:
    """A schema accepted before patterns ran on RE2 can no longer be used: its annotations
    are refused with the reason."""
    with pytest.raises(DoesNotConform, match="regular expression"):
        validate({"pattern": "(?=a)a"}, "a")


def test_patterns_under_names_of_data_keywords_are_still_patterns() -> None:
    """A property or definition may be named like a data keyword (enum, const...): what it
    holds is a schema, and its patterns are checked."""
    for schema, where in [
            ({"properties": {"enum": {"pattern": "(a)\\1"}}}, "/properties/enum/pattern"),
            ({"$defs": {"const": {"pattern": "(?=a)"}}, "$ref": "#/$defs/const"},
             "/$defs/const/pattern"),
            ({"dependentSchemas": {"default": {"pattern": "("}}},
             "/dependentSchemas/default/pattern")]:
        with pytest.raises(DoesNotConform) as info:
            content.check_schema(dumps(schema))
        assert where in [d["path"] for d in info.value.extra["details"]]


def test_pattern_properties_are_checked_joined_too() -> None:
    """additionalProperties matches a schema's patternProperties joined by `|`: each may fit
    RE2's budget while the join does not."""
    first = "(?:" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678" + "){1000}"
    second = "(?:" + "bcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" + "){1000}"
    json_schema.compile_pattern(first), json_schema.compile_pattern(second)
    with pytest.raises(DoesNotConform, match="regular expression"):
        content.check_schema(dumps({"patternProperties": {first: {}, second: {}},
                                    "additionalProperties": False}))


def test_schema_patterns_are_never_compiled_by_python_re() -> None:
    """RE2 syntax Python's `re` lacks is accepted, and a huge pattern is refused by RE2 in a
    moment (Python's `re` spent seconds on it and kept it in its cache)."""
    content.check_schema(dumps({"pattern": "^\\p{Lu}\\p{Ll}+$"}))
    validate({"pattern": "^\\p{Lu}\\p{Ll}+$"}, "Éa")
    started = time.monotonic()
    with pytest.raises(DoesNotConform, match="regular expression"):
        content.check_schema(dumps({"pattern": "a" * (3 * 1024 * 1024)}))
    assert time.monotonic() - started < 5


# --- keywords ----------------------------------------------------------------------------------


def test_canonical_follows_json_schema_equality() -> None:
    canon = json_schema.canonical
    assert canon(1) == canon(1.0)
    assert canon(True) != canon(1) and canon(False) != canon(0)
    assert canon({"a": [1, {"b": None}]}) == canon({"a": [1.0, {"b": None}]})
    assert canon({"a": 1, "b": 2}) == canon({"b": 2, "a": 1})
    assert canon([1, 2]) != canon([2, 1])
    assert canon("1") != canon(1)
    assert canon(None) != canon(False)


def test_unique_items_is_linear_and_correct() -> None:
    schema = {"uniqueItems": True}
    items = [{"i": i, "l": [i, str(i)]} for i in range(20000)]
    started = time.monotonic()
    validate(schema, items)
    assert time.monotonic() - started < 5
    with pytest.raises(DoesNotConform, match="items 3 and 20000 are equal"):
        validate(schema, [*items, {"l": [3.0, "3"], "i": 3}])
    validate({"uniqueItems": False}, [1, 1])


def test_enum_and_const() -> None:
    values = [{"k": i} for i in range(50)] + ["a", 1, None, True]
    validate({"enum": values}, {"k": 7.0})
    validate({"enum": values}, 1.0)
    with pytest.raises(DoesNotConform, match="is not one of the 54 values"):
        validate({"enum": values}, False)
    validate({"enum": [1, "x"]}, 1)  # a short enum, compared one by one
    with pytest.raises(DoesNotConform, match="is not one of"):
        validate({"enum": [1, "x"]}, True)
    validate({"const": {"a": [1, 2]}}, {"a": [1.0, 2]})
    with pytest.raises(DoesNotConform, match="was expected"):
        validate({"const": {"a": [1, 2]}}, {"a": [2, 1]})


def test_validator_failures_are_422() -> None:
    """Keywords given values only a schema stored before the dialect check could hold: the
    validator raises on them, and that is the client's 422."""
    with pytest.raises(DoesNotConform, match="could not be validated"):
        validate({"minLength": "three"}, "abc")


def test_time_budget() -> None:
    schema = {"items": {"anyOf": [{"required": [f"k{i}"]} for i in range(40)]
                        + [{"type": "integer"}]}}
    with pytest.raises(DoesNotConform, match="longer than this server's limit of 0.02 s"):
        validate(schema, list(range(100000)), seconds=0.02)
    validate(schema, list(range(100)), seconds=5)


def test_nested_references_under_unevaluated_properties_meet_the_budget() -> None:
    """unevaluatedProperties follows $ref and dependentSchemas in helpers that call themselves,
    not keywords: ten keys and eight levels were minutes of work before they checked the
    deadline."""
    keys = [f"k{i}" for i in range(10)]
    defs: dict[str, Any] = {f"d{i}": {"dependentSchemas": {k: {"$ref": f"#/$defs/d{i + 1}"}
                                                           for k in keys}} for i in range(8)}
    defs["d8"] = {"type": "object"}
    schema = {"unevaluatedProperties": False, "$ref": "#/$defs/d0", "$defs": defs}
    content.check_schema(dumps(schema))
    started = time.monotonic()
    with pytest.raises(DoesNotConform, match="longer than this server's limit"):
        validate(schema, dict.fromkeys(keys, 1), seconds=0.5)
    assert time.monotonic() - started < 5


def test_many_patterns_against_many_keys_meet_the_budget() -> None:
    """patternProperties matches every pattern against every key inside one keyword call."""
    schema = {"patternProperties": {f"^p{i}$": {} for i in range(250)},
              "additionalProperties": False}
    started = time.monotonic()
    with pytest.raises(DoesNotConform, match="longer than this server's limit"):
        validate(schema, {f"key-{i}": i for i in range(20000)}, seconds=0.3)
    assert time.monotonic() - started < 5


def test_deeply_nested_enum_values_are_refused_at_creation() -> None:
    deep: Any = 1
    for _ in range(600):
        deep = [deep]
    with pytest.raises(DoesNotConform, match="nested too deeply"):
        content.check_schema(dumps({"enum": [deep, *range(10)]}))


# --- the validator cache -----------------------------------------------------------------------


def test_cache_is_bounded_by_bytes_and_least_recently_used_goes_first() -> None:
    cache = content.ValidatorCache(max_bytes=2000)
    schemas = [dumps({"enum": [f"{n}-{i}" for i in range(100)]}) for n in range(4)]
    loads: list[int] = []

    def use(n: int) -> None:
        digest = hashlib.sha256(schemas[n]).hexdigest()
        content.check_annotation(dumps(f"{n}-5"), digest,
                                 lambda: (loads.append(n), schemas[n])[1], cache, 5)

    use(0), use(1), use(0), use(2)  # 800 bytes each: 0 and 2 stay, 1 goes
    assert cache.held_bytes == 1600 and len(cache) == 2
    use(0)
    assert loads == [0, 1, 2]  # 0 was still cached
    use(1)
    assert loads == [0, 1, 2, 1]
    huge = content.ValidatorCache(max_bytes=100)
    digest = hashlib.sha256(schemas[3]).hexdigest()
    content.check_annotation(dumps("3-1"), digest, lambda: schemas[3], huge, 5)
    assert len(huge) == 0 and huge.held_bytes == 0  # larger than the whole budget: not kept


def test_size_limit() -> None:
    content.check_size(b"x" * 10, "schema", 10)
    with pytest.raises(TooLarge, match="at most 9 bytes"):
        content.check_size(b"x" * 10, "schema", 9)


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(environment_name("max_object_identifiers"), "12")
    monkeypatch.setenv(environment_name("validation_seconds"), "0.5")
    limits = Limits.from_environment()
    assert limits.max_object_identifiers == 12 and limits.validation_seconds == 0.5
    assert environment_name("validation_seconds") == "GONK_VALIDATION_SECONDS"
    monkeypatch.setenv("GONK_MAX_SCHEMA_BYTES", "lots")
    with pytest.raises(ValueError, match="GONK_MAX_SCHEMA_BYTES must be a number"):
        Limits.from_environment()


# --- object identifiers: one lookup ------------------------------------------------------------


class CountingState(MemoryState):
    def __init__(self) -> None:
        super().__init__()
        self.single_lookups = 0
        self.batch_lookups = 0

    def version(self, item_uuid: str, version: int) -> rules.Version | None:
        self.single_lookups += 1
        return super().version(item_uuid, version)

    def versions_of(self, keys: tuple[tuple[str, int], ...]
                    ) -> dict[tuple[str, int], rules.Version]:
        self.batch_lookups += 1
        return super().versions_of(keys)


def test_object_identifiers_are_looked_up_together() -> None:
    state = CountingState()
    keys = [f"00000000-0000-4000-8000-{i:012x}" for i in range(500)]
    for key in keys:
        state.versions[(key, 0)] = rules.Version(key, 0, rules.OBJECT, None, "text/plain", 1,
                                                 "0" * 64)
    found = rules.check_object_identifiers(state, [{"uuid": k, "version": 0} for k in keys])
    assert found == tuple((k, 0) for k in keys)
    assert (state.single_lookups, state.batch_lookups) == (0, 1)


def test_object_identifier_shape_and_limit() -> None:
    ident = {"uuid": "00000000-0000-4000-8000-000000000001", "version": 0}
    with pytest.raises(Invalid, match="at most 2 object versions; this one lists 3"):
        rules.parse_object_identifiers([ident] * 3, limit=2)
    with pytest.raises(Invalid, match="listed twice"):
        rules.parse_object_identifiers([ident, dict(ident, uuid=ident["uuid"].upper())])
    assert rules.parse_object_identifiers([ident] * 1, limit=1) == ((ident["uuid"], 0),)


# --- property-based: no schema and annotation make validation fail other than with 422 --------

PATTERNS = st.sampled_from([
    "^(a+)+$", "(a|aa)*b", "^([a-z]+)*[0-9]$", "\\d{2,}", "(", "(?=a)", "a{2000}", "[",
    "\\u00e9", "^\\w+@\\w+$", "(x+x+)+y", ".*.*.*=.*", "[\\s\\S]*?", "\\p{L}", "a{,3}"])
NUMBERS = st.one_of(st.integers(min_value=-10**500, max_value=10**500),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([0.1, 0.3, 1e-300, 1e300, 5e-324]))
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=60)
    | st.builds(lambda n: "a" * n + "!", st.integers(0, 60)),
    lambda children: st.lists(children, max_size=8)
    | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30)


def _keyword() -> Any:
    return st.one_of(
        st.builds(lambda p: {"pattern": p}, PATTERNS),
        st.builds(lambda p: {"patternProperties": {p: {"type": "string"}},
                             "additionalProperties": False}, PATTERNS),
        st.builds(lambda p: {"patternProperties": {p: True}, "unevaluatedProperties": False},
                  PATTERNS),
        st.builds(lambda p: {"propertyNames": {"pattern": p}}, PATTERNS),
        st.builds(lambda n: {"multipleOf": n}, NUMBERS),
        st.builds(lambda n: {"minimum": n, "exclusiveMaximum": n}, NUMBERS),
        st.builds(lambda u: {"uniqueItems": u}, st.booleans()),
        st.builds(lambda values: {"enum": values}, st.lists(JSON, max_size=12)),
        st.builds(lambda value: {"const": value}, JSON),
        st.builds(lambda n: {"maxItems": n, "minItems": n}, st.integers(0, 5)),
        st.builds(lambda s: {"items": s}, st.builds(lambda p: {"pattern": p}, PATTERNS)),
        st.builds(lambda s: {"contains": s}, st.builds(lambda n: {"multipleOf": n}, NUMBERS)),
        st.just({"format": "regex"}),
    )


SCHEMAS = st.builds(
    lambda draft, parts: {**({"$schema": draft} if draft else {}),
                          **{k: v for part in parts for k, v in part.items()}},
    st.sampled_from([None, "http://json-schema.org/draft-04/schema#",
                     "http://json-schema.org/draft-07/schema#",
                     "https://json-schema.org/draft/2019-09/schema"]),
    st.lists(_keyword(), min_size=1, max_size=4))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, document=JSON)
def test_any_schema_and_annotation_is_accepted_or_refused_with_a_4xx(schema: Any,
                                                                     document: Any) -> None:
    cache = content.ValidatorCache(10**7)
    try:
        content.check_schema(dumps(schema))
    except DoesNotConform:
        return
    try:
        raw = dumps(document)
    except ValueError:
        return
    started = time.monotonic()
    try:
        validate(schema, None, cache, seconds=2, raw=raw)
    except (DoesNotConform, TooLarge):
        pass
    assert time.monotonic() - started < 5
