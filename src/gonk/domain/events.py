"""Event types and their JSON form (SPEC section 5).

Events are plain JSON objects (dicts): the JSON returned by the events endpoint is exactly the
object that was hashed, plus `integrity`. These constructors are the only place that builds them.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import UTC, datetime
from typing import Any

from .errors import Invalid

OWNER_ADD = "OwnerAddEvent"
OWNER_REMOVE = "OwnerRemoveEvent"
OBJECT_CREATE = "ObjectCreateEvent"
OBJECT_UPDATE = "ObjectUpdateEvent"
OBJECT_DELETE = "ObjectDeleteEvent"
ANNOTATION_CREATE = "AnnotationCreateEvent"
ANNOTATION_UPDATE = "AnnotationUpdateEvent"
ANNOTATION_DELETE = "AnnotationDeleteEvent"
REVIEW_ACCEPT = "ReviewAcceptEvent"
REVIEW_REJECT = "ReviewRejectEvent"
# Gonk's own event types, beside the seed's (README, "Members, roles and visibility"): who may
# do what in a dataset is recorded in its chain, so a replay checks every event's author.
MEMBER_SET = "MemberSetEvent"
MEMBER_REMOVE = "MemberRemoveEvent"
SETTINGS = "DatasetSettingsEvent"

OWNER_TYPES = {OWNER_ADD, OWNER_REMOVE}
ACCESS_TYPES = {MEMBER_SET, MEMBER_REMOVE, SETTINGS}
REVIEW_TYPES = {REVIEW_ACCEPT, REVIEW_REJECT}
CREATE_TYPES = {OBJECT_CREATE, OBJECT_UPDATE, ANNOTATION_CREATE, ANNOTATION_UPDATE}
DELETE_TYPES = {OBJECT_DELETE, ANNOTATION_DELETE}
CONTENT_TYPES = CREATE_TYPES | DELETE_TYPES
ALL_TYPES = OWNER_TYPES | ACCESS_TYPES | REVIEW_TYPES | CONTENT_TYPES

# Roles of a dataset's members, each allowing what the ones before it do (owners, apart, may
# also manage members, owners, settings and releases)
VIEWER, ANNOTATOR, REVIEWER = "viewer", "annotator", "reviewer"
ROLES = (VIEWER, ANNOTATOR, REVIEWER)
INTERNAL, PRIVATE = "internal", "private"
VISIBILITIES = (INTERNAL, PRIVATE)

ACTION_CREATE = 1
ACTION_UPDATE = 2
ACTION_DELETE = 4
OWNER_ACTION_ADD = 1
OWNER_ACTION_REMOVE = 2
DECISION_ACCEPT = 1
DECISION_REJECT = 2

HASH_TYPE_SHA256 = 1
SCHEMA_FORMAT = "application/schema+json"
SCHEMA_PREFIX = "schema-"

# Review states of a content event, as the load endpoints report them.
PENDING = "PENDING"
ACCEPTED = "ACCEPTED"
REJECTED = "REJECTED"


def now() -> str:
    """UTC, ISO 8601 with microseconds and a `Z`, as in the seed."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def _base(event_type: str, author: str) -> dict[str, Any]:
    return {"uuid": new_uuid(), "type": event_type, "timestamp": now(), "author": author}


def identifier(item_uuid: str, version: int) -> dict[str, Any]:
    return {"uuid": item_uuid, "version": version}


def object_metadata(
    item_uuid: str, version: int, name: str, fmt: str, size: int, digest: str
) -> dict[str, Any]:
    return {
        "uuid": item_uuid,
        "version": version,
        "name": name,
        "format": fmt,
        "size": size,
        "hash_type": HASH_TYPE_SHA256,
        "hash": digest,
    }


def annotation_metadata(
    item_uuid: str, version: int, schema_uuid: str, schema_version: int, size: int, digest: str
) -> dict[str, Any]:
    return {
        "uuid": item_uuid,
        "version": version,
        "schema": identifier(schema_uuid, schema_version),
        "size": size,
        "hash_type": HASH_TYPE_SHA256,
        "hash": digest,
    }


def owner_event(author: str, owner: str, add: bool) -> dict[str, Any]:
    event = _base(OWNER_ADD if add else OWNER_REMOVE, author)
    event["owner"] = owner
    event["owner_action"] = OWNER_ACTION_ADD if add else OWNER_ACTION_REMOVE
    return event


def member_set(author: str, member: str, role: str) -> dict[str, Any]:
    event = _base(MEMBER_SET, author)
    event["member"] = member
    event["role"] = role
    return event


def member_remove(author: str, member: str) -> dict[str, Any]:
    event = _base(MEMBER_REMOVE, author)
    event["member"] = member
    return event


def settings(author: str, visibility: str, require_other_reviewer: bool) -> dict[str, Any]:
    """The dataset's settings as a whole, after the change."""
    event = _base(SETTINGS, author)
    event["visibility"] = visibility
    event["require_other_reviewer"] = require_other_reviewer
    return event


def object_write(author: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """ObjectCreateEvent for version 0, ObjectUpdateEvent for later versions."""
    create = metadata["version"] == 0
    event = _base(OBJECT_CREATE if create else OBJECT_UPDATE, author)
    event["action"] = ACTION_CREATE if create else ACTION_UPDATE
    event["object"] = metadata
    return event


def object_delete(author: str, item_uuid: str, version: int) -> dict[str, Any]:
    event = _base(OBJECT_DELETE, author)
    event["action"] = ACTION_DELETE
    event["object_identifier"] = identifier(item_uuid, version)
    return event


def annotation_create(
    author: str, metadata: dict[str, Any], objects: list[dict[str, Any]]
) -> dict[str, Any]:
    event = _base(ANNOTATION_CREATE, author)
    event["action"] = ACTION_CREATE
    event["annotation"] = metadata
    event["object_identifiers"] = objects
    return event


def annotation_update(author: str, metadata: dict[str, Any]) -> dict[str, Any]:
    event = _base(ANNOTATION_UPDATE, author)
    event["action"] = ACTION_UPDATE
    event["annotation"] = metadata
    return event


def annotation_delete(author: str, item_uuid: str, version: int) -> dict[str, Any]:
    event = _base(ANNOTATION_DELETE, author)
    event["action"] = ACTION_DELETE
    event["annotation_identifier"] = identifier(item_uuid, version)
    return event


def review(author: str, target_event_uuid: str, accept: bool) -> dict[str, Any]:
    event = _base(REVIEW_ACCEPT if accept else REVIEW_REJECT, author)
    event["decision"] = DECISION_ACCEPT if accept else DECISION_REJECT
    event["event_uuid"] = target_event_uuid
    return event


# --- the shape of each event type ---------------------------------------------------------------
# Which fields an event of each type must have, and which of them hold an object (a nested shape)
# or a list. Values are checked by the rules (names, UUIDs, versions...); this is only the shape,
# so that a rule never meets a missing field or a list where it expects an object.

_IDENTIFIER_SHAPE: dict[str, Any] = {"uuid": None, "version": None}
_OBJECT_SHAPE: dict[str, Any] = {"uuid": None, "version": None, "name": None, "format": None,
                                 "size": int, "hash_type": None, "hash": str}
_ANNOTATION_SHAPE: dict[str, Any] = {"uuid": None, "version": None, "schema": _IDENTIFIER_SHAPE,
                                     "size": int, "hash_type": None, "hash": str}
_COMMON_SHAPE: dict[str, Any] = {"uuid": str, "type": str, "timestamp": None, "author": None}
_OWNER_SHAPE = {**_COMMON_SHAPE, "owner": None, "owner_action": None}
_REVIEW_SHAPE = {**_COMMON_SHAPE, "decision": None, "event_uuid": None}
SHAPES: dict[str, dict[str, Any]] = {
    OWNER_ADD: _OWNER_SHAPE,
    OWNER_REMOVE: _OWNER_SHAPE,
    OBJECT_CREATE: {**_COMMON_SHAPE, "action": None, "object": _OBJECT_SHAPE},
    OBJECT_UPDATE: {**_COMMON_SHAPE, "action": None, "object": _OBJECT_SHAPE},
    OBJECT_DELETE: {**_COMMON_SHAPE, "action": None, "object_identifier": _IDENTIFIER_SHAPE},
    ANNOTATION_CREATE: {**_COMMON_SHAPE, "action": None, "annotation": _ANNOTATION_SHAPE,
                        "object_identifiers": list},
    ANNOTATION_UPDATE: {**_COMMON_SHAPE, "action": None, "annotation": _ANNOTATION_SHAPE},
    ANNOTATION_DELETE: {**_COMMON_SHAPE, "action": None,
                        "annotation_identifier": _IDENTIFIER_SHAPE},
    REVIEW_ACCEPT: _REVIEW_SHAPE,
    REVIEW_REJECT: _REVIEW_SHAPE,
    MEMBER_SET: {**_COMMON_SHAPE, "member": None, "role": None},
    MEMBER_REMOVE: {**_COMMON_SHAPE, "member": None},
    SETTINGS: {**_COMMON_SHAPE, "visibility": None, "require_other_reviewer": None},
}
"""For each event type, its fields: None (any JSON value; the rules check it), a type (str, int,
list) or a nested shape (a JSON object with those fields)."""


def check_shape(event: object) -> str:
    """The event's type, once the event has every field its type needs, each of the right kind
    (SHAPES); Invalid ("Malformed ...") otherwise. Extra fields are allowed (and hashed)."""
    if not isinstance(event, dict):
        raise Invalid("Malformed event: an event is a JSON object.")
    event_type = event.get("type")
    if not isinstance(event_type, str) or event_type not in SHAPES:
        raise Invalid(f"Unknown event type {event_type!r}.")
    shape = SHAPES[event_type]
    _check_fields(event, shape, event_type, "")
    return event_type


def _check_fields(value: dict[str, Any], shape: dict[str, Any], event_type: str,
                  where: str) -> None:
    for name, expected in shape.items():
        path = f"{where}{name}"
        if name not in value:
            raise Invalid(f"Malformed {event_type}: no {path!r}.")
        field = value[name]
        if isinstance(expected, dict):
            if not isinstance(field, dict):
                raise Invalid(f"Malformed {event_type}: {path!r} must be an object.")
            _check_fields(field, expected, event_type, f"{path}.")
        elif expected is int and (isinstance(field, bool) or not isinstance(field, int)
                                  or field < 0):
            raise Invalid(f"Malformed {event_type}: {path!r} must be a whole number of 0 or "
                          "more.")
        elif expected in (str, list) and not isinstance(field, expected):
            kind = "a string" if expected is str else "a list"
            raise Invalid(f"Malformed {event_type}: {path!r} must be {kind}.")
