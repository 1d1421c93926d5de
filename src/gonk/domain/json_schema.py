"""How Gonk runs JSON Schema: jsonschema's validators, with every keyword whose cost a client
controls made to run in bounded time.

A schema and an annotation both come from clients, so validating one against the other must
never stall a worker. jsonschema as it ships has four ways to do so, each closed here:

- **Regular expressions** (`pattern`, `patternProperties`, and the `additionalProperties` and
  `unevaluatedProperties` that look at `patternProperties`) run on Python's backtracking `re`,
  where `^(a+)+$` against thirty a's and a `!` takes minutes while holding the GIL. Gonk runs
  every pattern on RE2 (the `google-re2` package), whose matching is linear in the input. RE2
  refuses what it cannot match in linear time (backreferences, lookaround) and patterns whose
  compiled form is too large: such a schema is refused at creation (422), see
  `pattern_problems`.
- **uniqueItems** falls back to comparing every pair of items when they cannot be sorted
  (3,000 objects: 11 s). Gonk compares hashable canonical forms instead (linear).
- **enum** and **const** compare one by one, and an `enum` of 100,000 values is checked for each
  of an annotation's items. Gonk looks values up in a set of canonical forms built once per
  compiled schema.
- **multipleOf** divides in floating point, which overflows (a 500) for an integer like
  10**400. Gonk divides exactly, with fractions of the numbers as written in decimal, so
  `0.3` is a multiple of `0.1` (in floating point it is not).

And whatever remains (a schema of many branches against a large annotation) is bounded by a
time budget: every keyword checks a per-validation deadline (`ValidationBudget`), and a
validation past it is refused with 422.
"""

from __future__ import annotations

import contextvars
import re
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import jsonschema._keywords
import jsonschema._legacy_keywords
import jsonschema._utils
import re2
from jsonschema import validators
from jsonschema.exceptions import ValidationError

if TYPE_CHECKING:
    from jsonschema.validators import _Validator as Validator


# --- regular expressions on RE2 ----------------------------------------------------------------

MAX_PATTERN_MEMORY = 1024**2
"""RE2's memory budget for one compiled pattern (its program and its DFA caches); a pattern
whose program does not fit is refused. 1 MiB holds any pattern a person writes by hand."""
MAX_CACHED_PATTERNS = 64
"""Compiled patterns kept per worker: at most 64 MiB with MAX_PATTERN_MEMORY each."""


class PatternRefused(ValueError):
    """A pattern RE2 cannot run: not valid, or needing a feature with no linear-time match."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"{pattern!r}: {reason}")
        self.pattern = pattern
        self.reason = reason


_ECMA_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|c([A-Za-z])|(.))", re.DOTALL)


def _to_re2_syntax(pattern: str) -> str:
    """ECMA-262 (what JSON Schema patterns are written in) to RE2 where their syntax differs:
    `\\uXXXX` and `\\cX` become `\\x{...}`. Other escapes are kept as written."""
    if "\\" not in pattern:
        return pattern

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return "\\x{" + match.group(1) + "}"
        if match.group(2):
            return "\\x{%02x}" % (ord(match.group(2).upper()) % 32)
        return match.group(0)

    return _ECMA_ESCAPE.sub(replace, pattern)


_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_PATTERN_MEMORY
_OPTIONS.log_errors = False  # a refused pattern is the client's mistake, not a server log line
_COMPILED: dict[str, Any] = {}
_COMPILED_LOCK = threading.Lock()


def compile_pattern(pattern: str) -> Any:
    """The RE2 form of a JSON Schema pattern (cached), or PatternRefused."""
    compiled = _COMPILED.get(pattern)
    if compiled is None:
        try:
            compiled = re2.compile(_to_re2_syntax(pattern), options=_OPTIONS)
        except re2.error as exc:
            reason = exc.args[0] if exc.args else "not a valid pattern"
            if isinstance(reason, bytes):
                reason = reason.decode("utf-8", "replace")
            raise PatternRefused(pattern, str(reason)) from None
        except (TypeError, ValueError) as exc:  # a lone surrogate cannot be encoded as UTF-8
            raise PatternRefused(pattern, str(exc)) from None
        with _COMPILED_LOCK:
            if len(_COMPILED) >= MAX_CACHED_PATTERNS:
                _COMPILED.pop(next(iter(_COMPILED)))
            _COMPILED[pattern] = compiled
    return compiled


def search(pattern: str, text: str) -> Any:
    """`re.search` with RE2's linear-time matching. It checks the validation deadline first:
    jsonschema matches every pattern against every key of an object inside one keyword call
    (patternProperties, additionalProperties), so a keyword's work can be long."""
    check_deadline()
    return compile_pattern(pattern).search(text)


class _RegexOnRE2:
    """What jsonschema's keyword modules see as `re`: `search` runs on RE2, everything else is
    the standard module. jsonschema matches user patterns with a bare `re.search` in several
    helpers (`pattern`, `patternProperties`, and the evaluated-properties logic behind
    `additionalProperties` and `unevaluatedProperties`); swapping the one name each of its
    modules looks up covers all of them at once, where overriding keywords would miss the
    helpers."""

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    @staticmethod
    def search(pattern: str, string: str, flags: int = 0) -> Any:
        if flags:  # jsonschema never passes flags; refuse rather than ignore them
            raise ValueError("flags are not supported for schema patterns")
        return search(pattern, string)


_KEYWORD_MODULES = (jsonschema._keywords, jsonschema._legacy_keywords, jsonschema._utils)


def _install_re2() -> None:
    for module in _KEYWORD_MODULES:
        if getattr(module, "re", None) is not re and not isinstance(
                getattr(module, "re", None), _RegexOnRE2):
            # a jsonschema release that no longer matches patterns through its module's `re`:
            # refuse to start rather than run user patterns on a backtracking engine
            raise RuntimeError(f"{module.__name__} has no `re` to route to RE2; this "
                               "jsonschema release is not supported")
        module.re = _RegexOnRE2()  # type: ignore[attr-defined]


_install_re2()

# Keywords whose values are data, never schemas: a pattern-like string inside them is not a
# pattern. (Only as keywords: a property or a definition may be named "enum".)
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
# Keywords whose value maps names (of properties, definitions) to schemas.
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions",
                        "dependentSchemas", "dependencies"})


def pattern_problems(schema: Any) -> list[tuple[str, PatternRefused]]:
    """Every `pattern` value and `patternProperties` key in a schema that RE2 refuses, with a
    JSON Pointer to it. It looks everywhere but inside data keywords (enum, const, default,
    examples), also under keywords it does not know, since a `$ref` may point there."""
    problems: list[tuple[str, PatternRefused]] = []
    # (node, its JSON Pointer, whether it is a map of names to schemas)
    stack: list[tuple[Any, str, bool]] = [(schema, "", False)]
    while stack:
        node, path, names = stack.pop()
        if isinstance(node, list):
            stack.extend((value, f"{path}/{index}", False) for index, value in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            where = f"{path}/{_pointer_part(key)}"
            if names:  # every value is a schema, whatever its name
                stack.append((value, where, False))
                continue
            if key in _DATA_KEYWORDS:
                continue
            if key == "pattern" and isinstance(value, str):
                _try_pattern(value, where, problems)
            elif key == "patternProperties" and isinstance(value, dict):
                found = len(problems)
                for pattern in value:
                    _try_pattern(pattern, f"{where}/{_pointer_part(pattern)}", problems)
                if len(problems) == found and len(value) > 1:
                    # additionalProperties matches them joined into one expression
                    _try_pattern("|".join(value), where, problems)
            stack.append((value, where, key in _NAME_MAPS))
    return sorted(problems, key=lambda problem: problem[0])


def _try_pattern(pattern: str, where: str,
                 problems: list[tuple[str, PatternRefused]]) -> None:
    try:
        compile_pattern(pattern)
    except PatternRefused as exc:
        problems.append((where, exc))


def _pointer_part(key: object) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


# --- the time budget ---------------------------------------------------------------------------


class BudgetExceeded(Exception):
    """A validation ran past its deadline."""


_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "gonk_validation_deadline", default=None)


class ValidationBudget:
    """`with ValidationBudget(seconds):` validation inside raises BudgetExceeded once `seconds`
    have passed (checked at every keyword, so it stops within one keyword's work of the
    deadline; each keyword's work is itself bounded, see the module's docstring)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> ValidationBudget:
        self._token = _DEADLINE.set(time.monotonic() + self.seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        _DEADLINE.reset(self._token)


Keyword = Callable[[Any, Any, Any, Any], Iterator[ValidationError] | None]


def check_deadline() -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExceeded


def _within_budget(keyword: Keyword) -> Keyword:
    def checked(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        check_deadline()
        return keyword(validator, value, instance, schema)

    checked.__name__ = getattr(keyword, "__name__", "keyword")
    return checked


# jsonschema's helpers behind unevaluatedProperties and unevaluatedItems follow $ref,
# $dynamicRef and dependentSchemas by calling themselves (through their module's global name),
# not through keywords: each call checks the deadline too, or a schema of nested references
# would grow their work exponentially past it.
_RECURSIVE_HELPERS = ("find_evaluated_property_keys_by_schema",
                      "find_evaluated_item_indexes_by_schema")


def _install_helper_deadlines() -> None:
    for module in _KEYWORD_MODULES:
        for name in _RECURSIVE_HELPERS:
            helper = getattr(module, name, None)
            if helper is None or getattr(helper, "_gonk_checked", False):
                continue

            def checked(*args: Any, _helper: Any = helper) -> Any:
                check_deadline()
                return _helper(*args)

            checked._gonk_checked = True  # type: ignore[attr-defined]
            setattr(module, name, checked)
    if not all(getattr(getattr(jsonschema._keywords, name, None), "_gonk_checked", False)
               for name in _RECURSIVE_HELPERS):
        raise RuntimeError("jsonschema's unevaluated* helpers were not found; this jsonschema "
                           "release is not supported")


_install_helper_deadlines()


# --- equality in linear time -------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """A hashable form of a JSON value, equal for values JSON Schema calls equal: 1 and 1.0 are
    equal, true and 1 are not, objects compare without order."""
    if value is True or value is False:
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)  # Python: 1 == 1.0 and hash(1) == hash(1.0)
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null",)
    if isinstance(value, list):
        return ("array", tuple(canonical(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, canonical(item)) for key, item in value.items()))
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Any
                  ) -> Iterator[ValidationError]:
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: dict[Any, int] = {}
    for index, item in enumerate(instance):
        key = canonical(item)
        if key in seen:
            yield ValidationError(f"items {seen[key]} and {index} are equal; "
                                  "the items must be unique")
            return
        seen[key] = index


_ENUM_SETS: contextvars.ContextVar[dict[int, frozenset[Any]] | None] = contextvars.ContextVar(
    "gonk_enum_sets", default=None)
"""The canonical forms of the enums of the schema being validated, by the id of each enum's
list (see enum_sets and EnumSets)."""


def enum_sets(schema: Any) -> dict[int, frozenset[Any]]:
    """A set of canonical forms for every `enum` list in `schema`, by the list's id, built once
    per compiled schema (it lives beside the schema, so the ids stay valid)."""
    sets: dict[int, frozenset[Any]] = {}
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            enums = node.get("enum")
            if isinstance(enums, list) and len(enums) > 8:
                sets[id(enums)] = frozenset(canonical(value) for value in enums)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sets


class EnumSets:
    """`with EnumSets(sets):` the enum keyword looks values up in `sets` (from enum_sets)."""

    def __init__(self, sets: dict[int, frozenset[Any]]) -> None:
        self.sets = sets

    def __enter__(self) -> EnumSets:
        self._token = _ENUM_SETS.set(self.sets)
        return self

    def __exit__(self, *exc: object) -> None:
        _ENUM_SETS.reset(self._token)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _enum(validator: Any, enums: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not isinstance(enums, list):
        return
    sets = _ENUM_SETS.get()
    known = sets.get(id(enums)) if sets is not None else None
    key = canonical(instance)
    if known is None:  # a short enum (or one outside a cached schema): compare one by one
        found = any(key == canonical(value) for value in enums)
    else:
        found = key in known
    if not found:
        listed = _short(enums) if len(enums) <= 10 else f"the {len(enums)} values of its enum"
        yield ValidationError(f"{_short(instance)} is not one of {listed}")


def _const(validator: Any, const: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if canonical(instance) != canonical(const):
        yield ValidationError(f"{_short(const)} was expected")


def _exact(number: int | float) -> Fraction:
    """A JSON number as the decimal it was written as (floats by their shortest repr)."""
    return Fraction(number) if isinstance(number, int) else Fraction(repr(number))


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any
                 ) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "number") or not validator.is_type(divisor, "number"):
        return
    if divisor <= 0:
        return  # check_schema refuses it; a stored schema from before gets no division by 0
    if (_exact(instance) / _exact(divisor)).denominator != 1:
        yield ValidationError(f"{_short(instance)} is not a multiple of {divisor}")


_REPLACED: dict[str, Keyword] = {
    "uniqueItems": _unique_items,
    "enum": _enum,
    "const": _const,
    "multipleOf": _multiple_of,
}


def _bounded(dialect: type[Validator]) -> type[Validator]:
    keywords: dict[str, Keyword] = dict(dialect.VALIDATORS)
    for name in _REPLACED:
        if name in keywords:
            keywords[name] = _REPLACED[name]
    bounded = validators.extend(
        dialect, {name: _within_budget(keyword) for name, keyword in keywords.items()})
    bounded.__name__ = dialect.__name__  # messages name the dialect as clients know it
    return bounded


DIALECTS: dict[str, type[Validator]] = {
    "json-schema.org/draft-04/schema": _bounded(validators.Draft4Validator),
    "json-schema.org/draft-06/schema": _bounded(validators.Draft6Validator),
    "json-schema.org/draft-07/schema": _bounded(validators.Draft7Validator),
    "json-schema.org/draft/2019-09/schema": _bounded(validators.Draft201909Validator),
    "json-schema.org/draft/2020-12/schema": _bounded(validators.Draft202012Validator),
}
"""The dialects a schema may name in `$schema` (absent means 2020-12), as bounded validators."""
DEFAULT_DIALECT = DIALECTS["json-schema.org/draft/2020-12/schema"]
