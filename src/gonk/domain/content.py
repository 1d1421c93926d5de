"""Content rules that need the bytes: schemas must be valid JSON Schema, annotations must conform
to their schema version. Pure functions of bytes; compiled validators are cached by schema hash.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

import referencing
import referencing.exceptions
from jsonschema import FormatChecker
from jsonschema.exceptions import SchemaError

from . import json_schema, label_kinds
from .errors import DoesNotConform, GonkError, TooLarge

if TYPE_CHECKING:
    # The stubs (types-jsonschema) name jsonschema's reference-resolution error only by its
    # deprecated public alias, which at run time is this same class (but warns when looked up).
    from jsonschema.exceptions import RefResolutionError as _RefResolutionError

    # The stubs' class of every Draft*Validator; it exists only for type checking. Unlike the
    # stubs' Validator protocol, its check_schema takes a boolean schema too.
    from jsonschema.validators import _Validator as Validator
else:
    from jsonschema.exceptions import _RefResolutionError

log = logging.getLogger("gonk.content")

DIALECTS = json_schema.DIALECTS
DEFAULT_DIALECT = json_schema.DEFAULT_DIALECT
MAX_DETAILS = 20


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is beyond the range of a double")
    return value


def parse_json(data: bytes, what: str) -> Any:
    """UTF-8 JSON (strict: no NaN or Infinity, no number beyond a double's range), or
    DoesNotConform saying why not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DoesNotConform(f"The {what} is not UTF-8 text.",
                             details=[{"path": "", "message": str(exc)}]) from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise DoesNotConform(f"The {what} is not valid JSON.",
                             details=[{"path": "", "message": str(exc)[:500]}]) from None


def dialect_of(schema: Any) -> type[Validator]:
    if not isinstance(schema, dict) or "$schema" not in schema:
        return DEFAULT_DIALECT
    uri = schema["$schema"]
    if isinstance(uri, str):
        key = uri.split("://", 1)[-1].rstrip("#")
        if key in DIALECTS:
            return DIALECTS[key]
    raise DoesNotConform(
        f"Unsupported $schema {uri!r}: use draft-04, -06, -07, 2019-09 or 2020-12 "
        "(or leave $schema out for 2020-12).",
        details=[{"path": "$schema", "message": "unknown dialect"}])


def check_size(data: bytes, what: str, limit: int) -> None:
    if len(data) > limit:
        raise TooLarge(f"The {what} is {len(data)} bytes; this server accepts {what}s of at "
                       f"most {limit} bytes.")


def check_schema(data: bytes) -> None:
    """Raise DoesNotConform unless `data` is a valid JSON Schema in the dialect it names, every
    regular expression in it runs on RE2 (json_schema.pattern_problems)."""
    schema = parse_json(data, "schema")
    if not isinstance(schema, (dict, bool)):
        raise DoesNotConform("A JSON Schema must be a JSON object (or a boolean).",
                             details=[{"path": "", "message": f"got {type(schema).__name__}"}])
    dialect = dialect_of(schema)
    try:
        dialect.check_schema(schema, format_checker=_formats_but_regex(dialect))
        json_schema.enum_sets(schema)  # every enum value can be compared (not nested too deep)
    except SchemaError as exc:
        raise DoesNotConform(
            f"The schema is not a valid JSON Schema ({dialect.__name__}).",
            details=[{"path": _path(exc.absolute_path), "message": exc.message[:500]}]) from None
    except RecursionError:
        raise DoesNotConform("The schema is nested too deeply.") from None
    _check_patterns(schema)
    try:
        label_kinds.declared_kind(schema)
    except label_kinds.UnknownKind as exc:
        raise DoesNotConform(str(exc), details=[{"path": f"/{label_kinds.KIND_KEYWORD}",
                                                 "message": "unknown label kind"}]) from None


def _formats_but_regex(dialect: type[Validator]) -> FormatChecker:
    """The dialect's format checks for its metaschema, but "regex", which would compile every
    pattern with Python's `re` (seconds for a large one, and memory kept in `re`'s cache):
    patterns are checked by RE2 alone (_check_patterns)."""
    checker = dialect.FORMAT_CHECKER
    return FormatChecker(formats=[name for name in checker.checkers if name != "regex"])


def _check_patterns(schema: Any) -> None:
    problems = json_schema.pattern_problems(schema)
    if problems:
        where, first = problems[0]
        raise DoesNotConform(
            f"The schema has a regular expression Gonk cannot run: {first.pattern[:200]!r} "
            f"({first.reason}). Gonk matches patterns in linear time (RE2 syntax: no "
            "backreferences or lookaround, repetition counts up to 1000).",
            details=[{"path": path, "message": f"{problem.pattern[:200]!r}: {problem.reason}"}
                     for path, problem in problems[:MAX_DETAILS]])


@dataclass
class Compiled:
    """A schema version ready to validate with: its validator and its enums as sets."""

    validator: Any
    enum_sets: dict[int, frozenset[Any]]
    cost: int  # the schema's size in bytes: what the cache counts
    kind: str | None = None  # the label kind the schema declares (label_kinds)


class ValidatorCache:
    """Compiled schemas by the schema's hash (bytes never change under a hash, so an entry never
    goes stale), least recently used out first once the schemas held add up to more than
    `max_bytes` of schema text. A schema larger than the whole budget is compiled for each use
    and never kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Compiled] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        return self._held

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, schema_hash: str, load_schema: Callable[[], bytes]) -> Compiled:
        with self._lock:
            entry = self._entries.get(schema_hash)
            if entry is not None:
                self._entries.move_to_end(schema_hash)
                return entry
        data = load_schema()
        entry = _compile(data)
        if entry.cost <= self.max_bytes:
            with self._lock:
                if schema_hash not in self._entries:
                    self._entries[schema_hash] = entry
                    self._held += entry.cost
                while self._held > self.max_bytes:
                    _, evicted = self._entries.popitem(last=False)
                    self._held -= evicted.cost
        return entry


def _compile(data: bytes) -> Compiled:
    schema = json.loads(data)
    # A schema stored before patterns ran on RE2 may hold one RE2 refuses: it cannot be used.
    _check_patterns(schema)
    # An empty registry: `$ref`s resolve inside the schema only. Without it, jsonschema would
    # download remote references, letting a client make the server fetch any URL.
    validator = dialect_of(schema)(schema, registry=referencing.Registry())
    try:
        kind = label_kinds.declared_kind(schema)
    except label_kinds.UnknownKind as exc:  # stored before kinds were checked
        raise DoesNotConform(f"The annotation's schema cannot be used: {exc}") from None
    return Compiled(validator, json_schema.enum_sets(schema), len(data), kind)


@dataclass(frozen=True)
class Labels:
    """The labels of an annotation of a schema that declares a label kind: the kind, and how
    many labels of each class the document holds (label_kinds.label_counts; none for captions),
    sorted by label. The write path stores them beside the annotation's version, so that the
    dataset's statistics never read annotation bytes (gonk/stats.py)."""

    kind: str
    counts: tuple[tuple[str, int], ...]


def labels_of(kind: str, document: Any) -> Labels:
    """The Labels of a document that has the kind's shape (label_kinds.misfit is None)."""
    return Labels(kind, tuple(sorted(label_kinds.label_counts(kind, document).items())))


def check_annotation(data: bytes, schema_hash: str, load_schema: Callable[[], bytes],
                     cache: ValidatorCache, seconds: float) -> Labels | None:
    """Raise DoesNotConform unless `data` is UTF-8 JSON that validates against the schema whose
    bytes have hash `schema_hash` (read with `load_schema` when not in `cache`), within
    `seconds` of validation. Returns the document's Labels when the schema declares a label
    kind (None when it declares none)."""
    document = parse_json(data, "annotation")
    try:
        compiled = cache.get(schema_hash, load_schema)
        with json_schema.ValidationBudget(seconds), json_schema.EnumSets(compiled.enum_sets):
            errors = sorted(islice(compiled.validator.iter_errors(document), MAX_DETAILS),
                            key=_position)
    except GonkError:  # the schema's own refusal, or its store unavailable (503): as they are
        raise
    except json_schema.BudgetExceeded:
        raise DoesNotConform(
            f"Validating the annotation against its schema took longer than this server's "
            f"limit of {seconds:g} s, so it was refused. Split it, or simplify the schema "
            "(GONK_VALIDATION_SECONDS sets the limit).") from None
    except RecursionError:
        raise DoesNotConform("The annotation (or a value in its schema) is nested too "
                             "deeply.") from None
    except json_schema.PatternRefused as exc:
        raise DoesNotConform(
            f"The schema has a regular expression Gonk cannot run: {exc.pattern[:200]!r} "
            f"({exc.reason}).") from None
    except (referencing.exceptions.Unresolvable, _RefResolutionError) as exc:
        ref = getattr(exc, "ref", None)
        raise DoesNotConform(
            "The schema has a $ref that cannot be resolved; references must point inside the "
            "schema itself (Gonk never fetches remote schemas).",
            details=[{"path": "", "message": f"unresolvable $ref {ref!r}" if ref else
                      "unresolvable $ref"}]) from None
    except Exception as exc:  # a keyword that cannot apply to this input: the client's 422
        log.warning("validation against schema %s failed", schema_hash, exc_info=True)
        raise DoesNotConform(
            "The annotation could not be validated against its schema "
            f"({type(exc).__name__}: {str(exc)[:200]}).") from None
    if errors:
        raise DoesNotConform(
            f"The annotation does not conform to its schema: {errors[0].message[:300]}",
            details=[{"path": _path(e.absolute_path), "message": e.message[:500]}
                     for e in errors])
    if compiled.kind is None:
        return None
    misfit = label_kinds.misfit(compiled.kind, document)
    if misfit is not None:
        raise DoesNotConform(
            f"The annotation does not have the shape of the label kind "
            f"'{compiled.kind}' its schema declares: {misfit}",
            details=[{"path": "", "message": misfit}])
    return labels_of(compiled.kind, document)


def _position(error: Any) -> list[tuple[int, Any]]:
    """Where an error is, sortable whether its path parts are indexes or property names."""
    return [(0, part) if isinstance(part, int) else (1, str(part))
            for part in error.absolute_path]


def _path(parts: Any) -> str:
    """A JSON Pointer to where the problem is ("" is the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
