"""Event types and their JSON form (SPEC section 5).

Events are plain JSON objects (dicts): the JSON returned by the events endpoint is exactly the
object that was hashed, plus `integrity`. These constructors are the only place that builds them.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import UTC, datetime
from typing import Any

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

OWNER_TYPES = {OWNER_ADD, OWNER_REMOVE}
REVIEW_TYPES = {REVIEW_ACCEPT, REVIEW_REJECT}
CREATE_TYPES = {OBJECT_CREATE, OBJECT_UPDATE, ANNOTATION_CREATE, ANNOTATION_UPDATE}
DELETE_TYPES = {OBJECT_DELETE, ANNOTATION_DELETE}
CONTENT_TYPES = CREATE_TYPES | DELETE_TYPES
ALL_TYPES = OWNER_TYPES | REVIEW_TYPES | CONTENT_TYPES

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
