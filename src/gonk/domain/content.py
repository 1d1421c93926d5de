"""Content rules that need the bytes: schemas must be valid JSON Schema, annotations must conform
to their schema version. Pure functions of bytes; compiled validators are cached by schema hash.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import referencing
import referencing.exceptions
from jsonschema import validators
from jsonschema.exceptions import SchemaError

from .errors import DoesNotConform

if TYPE_CHECKING:
    # The stubs (types-jsonschema) name jsonschema's reference-resolution error only by its
    # deprecated public alias, which at run time is this same class (but warns when looked up).
    from jsonschema.exceptions import RefResolutionError as _RefResolutionError

    # The stubs' class of every Draft*Validator; it exists only for type checking. Unlike the
    # stubs' Validator protocol, its check_schema takes a boolean schema too.
    from jsonschema.validators import _Validator as Validator
else:
    from jsonschema.exceptions import _RefResolutionError

# The dialects a schema may name in `$schema`; absent means 2020-12.
DIALECTS: dict[str, type[Validator]] = {
    "json-schema.org/draft-04/schema": validators.Draft4Validator,
    "json-schema.org/draft-06/schema": validators.Draft6Validator,
    "json-schema.org/draft-07/schema": validators.Draft7Validator,
    "json-schema.org/draft/2019-09/schema": validators.Draft201909Validator,
    "json-schema.org/draft/2020-12/schema": validators.Draft202012Validator,
}
DEFAULT_DIALECT = validators.Draft202012Validator
MAX_DETAILS = 20


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(data: bytes, what: str) -> Any:
    """UTF-8 JSON (strict: no NaN or Infinity), or DoesNotConform saying why not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DoesNotConform(f"The {what} is not UTF-8 text.",
                             details=[{"path": "", "message": str(exc)}]) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
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


def check_schema(data: bytes) -> None:
    """Raise DoesNotConform unless `data` is a valid JSON Schema in the dialect it names."""
    schema = parse_json(data, "schema")
    if not isinstance(schema, (dict, bool)):
        raise DoesNotConform("A JSON Schema must be a JSON object (or a boolean).",
                             details=[{"path": "", "message": f"got {type(schema).__name__}"}])
    dialect = dialect_of(schema)
    try:
        dialect.check_schema(schema)
    except SchemaError as exc:
        raise DoesNotConform(
            f"The schema is not a valid JSON Schema ({dialect.__name__}).",
            details=[{"path": _path(exc.absolute_path), "message": exc.message[:500]}]) from None
    except RecursionError:
        raise DoesNotConform("The schema is nested too deeply.") from None


_VALIDATORS: dict[str, Any] = {}
_MAX_CACHED = 256


def _validator(schema_hash: str, load_schema: Callable[[], bytes]) -> Any:
    """A compiled validator per schema version, cached by the schema's hash (bytes never change
    under a hash, so the cache never goes stale)."""
    validator = _VALIDATORS.get(schema_hash)
    if validator is None:
        schema = json.loads(load_schema())
        # An empty registry: `$ref`s resolve inside the schema only. Without it, jsonschema
        # would download remote references, letting a client make the server fetch any URL.
        validator = dialect_of(schema)(schema, registry=referencing.Registry())
        if len(_VALIDATORS) >= _MAX_CACHED:
            _VALIDATORS.pop(next(iter(_VALIDATORS)))
        _VALIDATORS[schema_hash] = validator
    return validator


def check_annotation(data: bytes, schema_hash: str, load_schema: Callable[[], bytes]) -> None:
    """Raise DoesNotConform unless `data` is UTF-8 JSON that validates against the schema whose
    bytes have hash `schema_hash` (read with `load_schema` the first time it is needed)."""
    document = parse_json(data, "annotation")
    validator = _validator(schema_hash, load_schema)
    try:
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    except RecursionError:
        raise DoesNotConform("The annotation is nested too deeply.") from None
    except (referencing.exceptions.Unresolvable, _RefResolutionError) as exc:
        ref = getattr(exc, "ref", None)
        raise DoesNotConform(
            "The schema has a $ref that cannot be resolved; references must point inside the "
            "schema itself (Gonk never fetches remote schemas).",
            details=[{"path": "", "message": f"unresolvable $ref {ref!r}" if ref else
                      "unresolvable $ref"}]) from None
    if errors:
        raise DoesNotConform(
            f"The annotation does not conform to its schema: {errors[0].message[:300]}",
            details=[{"path": _path(e.absolute_path), "message": e.message[:500]}
                     for e in errors[:MAX_DETAILS]])


def _path(parts: Any) -> str:
    """A JSON Pointer to where the problem is ("" is the whole document)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
