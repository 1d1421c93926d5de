"""Shape rules for names and identifiers, shared by the HTTP layer, the rules and the CLI."""

from __future__ import annotations

import re

from .errors import Invalid

DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,127}")
USERNAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
SCHEMA_PREFIX = "schema-"
MAX_OBJECT_NAME = 255
SCHEMA_NAME = re.compile(r"schema-[A-Za-z0-9._-]{1,248}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
MAX_MIMETYPE = 255


def dataset_name(name: object) -> str:
    if not isinstance(name, str) or not DATASET_NAME.fullmatch(name):
        raise Invalid(
            "Dataset names are 1 to 128 characters of A-Z, a-z, 0-9 and '-', "
            "not starting with '-'."
        )
    return name


def username(name: object) -> str:
    if not isinstance(name, str) or not USERNAME.fullmatch(name):
        raise Invalid("Usernames are 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'.")
    return name


UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                       re.IGNORECASE)


def is_uuid(text: object) -> bool:
    """The 8-4-4-4-12 hex form, in any case (no braces, no `urn:uuid:`)."""
    return isinstance(text, str) and UUID_TEXT.fullmatch(text) is not None


SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def is_sha256(text: object) -> bool:
    return isinstance(text, str) and SHA256_HEX.fullmatch(text) is not None


RELEASE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_RELEASE_DESCRIPTION = 10_000


def release_name(name: object) -> str:
    """1 to 128 of A-Z a-z 0-9 . _ -, starting with a letter or digit, and not shaped like a
    UUID: wherever a point is named (`as_of`, `from`, `to`), a UUID is an event's."""
    if not isinstance(name, str) or not RELEASE_NAME.fullmatch(name):
        raise Invalid("Release names are 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' and "
                      "'-', starting with a letter or a digit.")
    if is_uuid(name):
        raise Invalid("A release name may not be a UUID: a UUID names an event of the log.")
    return name


def parse_uuid(text: object, what: str = "identifier") -> str:
    """A UUID in any case, returned in the canonical 36-character lowercase form."""
    if not is_uuid(text):
        raise Invalid(f"The {what} {text!r} is not a UUID (expected 36 characters like "
                      "'0d21d5a7-fe93-4618-a122-7ca9a2ee5116').")
    return str(text).lower()


def parse_version(value: object, what: str = "version") -> int:
    """A version number: an int >= 0 (a decimal string when it comes from a URL)."""
    if isinstance(value, str):
        if not value.isdigit() or not value.isascii() or len(value) > 18:
            raise Invalid(f"The {what} {value!r} is not a whole number of 0 or more.")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"The {what} must be a whole number of 0 or more.")
    return value


def object_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise Invalid("'name' must be a non-empty string.")
    if len(name) > MAX_OBJECT_NAME:
        raise Invalid(f"'name' must be at most {MAX_OBJECT_NAME} characters.")
    if CONTROL_CHARACTERS.search(name):
        raise Invalid("'name' may not contain control characters.")
    if name.startswith(SCHEMA_PREFIX):
        raise Invalid("Object names may not start with 'schema-' (that prefix is for schemas).")
    return name


def schema_name(name: object) -> str:
    """`schema-` then 1 to 248 of A-Z a-z 0-9 . _ - (so every schema is reachable by URL)."""
    if not isinstance(name, str) or not SCHEMA_NAME.fullmatch(name):
        raise Invalid("Schema names are 'schema-' followed by 1 to 248 characters of A-Z, a-z, "
                      "0-9, '.', '_' and '-'.")
    return name


def mimetype(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("'mimetype' must be a non-empty string.")
    if CONTROL_CHARACTERS.search(value):
        raise Invalid("'mimetype' may not contain control characters.")
    if len(value) > MAX_MIMETYPE:
        raise Invalid(f"'mimetype' must be at most {MAX_MIMETYPE} characters.")
    return value
