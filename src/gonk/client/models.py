"""The typed results of `gonk.Client`: what the server answered, as frozen dataclasses.

Each keeps the server's JSON as `raw` too, so a field added to the API later is readable
before this module names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class VersionRef:
    """One version of an item (object, schema or annotation): `uuid` and `version`.
    `existing` is True when an upload found these bytes already in the dataset and returned the
    version holding them instead of creating one (see `Dataset.upload`)."""

    uuid: str
    version: int
    existing: bool = False

    @classmethod
    def of(cls, raw: dict[str, Any], existing: bool = False) -> VersionRef:
        return cls(str(raw["uuid"]), int(raw["version"]), existing)

    def as_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "version": self.version}


@dataclass(frozen=True)
class ItemInfo:
    """An object or annotation: its uuid and how many versions it has."""

    uuid: str
    versions: int


@dataclass(frozen=True)
class ObjectSummary:
    """An entry of the object list: `name` is the newest version's name."""

    uuid: str
    versions: int
    name: str


@dataclass(frozen=True)
class SchemaInfo:
    """A schema: its name, uuid and number of versions."""

    name: str
    uuid: str
    versions: int

    @classmethod
    def of(cls, raw: dict[str, Any]) -> SchemaInfo:
        return cls(raw["name"], raw["uuid"], int(raw["versions"]))


@dataclass(frozen=True)
class SchemaVersionRef:
    """A schema version in a status list: uuid, name and version."""

    uuid: str
    name: str
    version: int


@dataclass(frozen=True)
class AnnotationSummary:
    """An entry of the annotation list: `schema` is the schema version its newest version is
    validated against (`{"uuid", "version", "name"}`)."""

    uuid: str
    versions: int
    schema: dict[str, Any]


@dataclass(frozen=True)
class EventReview:
    """An event that touched a version, as a load reports it: `review` is PENDING, ACCEPTED
    or REJECTED for content events, None for the others."""

    uuid: str
    type: str
    review: str | None


@dataclass(frozen=True)
class Metadata:
    """A version's metadata: `format` is the mimetype, `hash` the sha256 of its bytes."""

    uuid: str
    version: int
    size: int
    hash: str
    name: str | None = None
    format: str | None = None
    schema: dict[str, Any] | None = None  # annotations: the schema version {uuid, version}
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Metadata:
        return cls(raw["uuid"], int(raw["version"]), int(raw["size"]), raw["hash"],
                   raw.get("name"), raw.get("format"), raw.get("schema"), raw)

    @property
    def sha256(self) -> str:
        return self.hash


@dataclass(frozen=True)
class Loaded:
    """A version loaded: its metadata, its bytes (None when loaded with `with_bytes=False`, or
    when larger than the server's JSON limit: `bytes_url` then says where to download them),
    the events that touched it, and, for an object, the annotations attached to it
    (`annotations`), for an annotation, the object versions it is attached to (`objects`)."""

    kind: str
    meta: Metadata
    data: bytes | None
    bytes_url: str | None
    events: list[EventReview]
    annotations: list[ItemInfo] = field(default_factory=list)
    objects: list[VersionRef] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> str:
        """`rejected`, `deleted`, `pending` or `accepted`, from the reviews of its events."""
        reviews = {(e.type, e.review) for e in self.events}
        if any(t.endswith(("CreateEvent", "UpdateEvent")) and r == "REJECTED" for t, r in reviews):
            return "rejected"
        if any(t.endswith("DeleteEvent") and r == "ACCEPTED" for t, r in reviews):
            return "deleted"
        if any(r == "PENDING" for _, r in reviews):
            return "pending"
        return "accepted"

    def document(self) -> Any:
        """The bytes parsed as JSON (schemas and annotations)."""
        if self.data is None:
            raise ValueError("loaded without its bytes")
        return json.loads(self.data)


@dataclass(frozen=True)
class Event:
    """An event of a dataset's log, exactly as the server stores and hashed it (`raw`, with
    `integrity`). `type` is e.g. ObjectCreateEvent, ReviewAcceptEvent."""

    uuid: str
    type: str
    timestamp: str
    author: str
    integrity: str
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Event:
        return cls(raw["uuid"], raw["type"], raw["timestamp"], raw["author"], raw["integrity"],
                   raw)

    def target(self) -> VersionRef | None:
        """The version a content event creates, updates or deletes (None for owner and review
        events)."""
        for key in ("object", "annotation", "object_identifier", "annotation_identifier"):
            found = self.raw.get(key)
            if isinstance(found, dict):
                return VersionRef.of(found)
        return None


@dataclass(frozen=True)
class PendingChange:
    """A pending event and what it changes: `kind` (object, schema or annotation), `action`
    (create, update or delete), `target` (the version) and `version`, that version loaded
    without its bytes (metadata, events, attached annotations or objects)."""

    event: Event
    kind: str
    action: str
    target: VersionRef
    version: Loaded


@dataclass(frozen=True)
class User:
    """A user of the server as an instance admin sees them (`Client.users()`): never their
    key. `deleted` is when they were deleted, None while they are not."""

    name: str
    admin: bool
    created: str
    deleted: str | None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> User:
        return cls(raw["name"], bool(raw.get("admin")), raw.get("created", ""), raw.get("deleted"))


@dataclass(frozen=True)
class NewKey:
    """A user and their new API key, shown this once (`Client.create_user`, `Client.new_key`)."""

    name: str
    key: str = field(repr=False)
    admin: bool | None = None


@dataclass(frozen=True)
class Claim:
    """A lease on one task of a dataset's work queue (`Dataset.claim`): `lease_id`, `task`
    ("annotate" or "review"), when it `expires`, and its item: for "annotate" the `object`
    ({"uuid", "version", "name"}) and `schema` ({"name", "uuid", "versions"}); for "review"
    the `event` (as the events list sends it)."""

    lease_id: str
    task: str
    expires: str
    item: dict[str, Any]

    @property
    def object(self) -> dict[str, Any] | None:
        return self.item.get("object")

    @property
    def event(self) -> dict[str, Any] | None:
        return self.item.get("event")


@dataclass(frozen=True)
class ReleaseInfo:
    """A release: a name given to one point of the log (`at`: `{"uuid", "index",
    "integrity"}`), the counts of its content and the sha256 of its manifest; `checkpoint`, the
    dataset's signed checkpoint at that point (check it with a pinned VerifierKey's
    `open_checkpoint`)."""

    name: str
    description: str
    author: str
    created: str
    at: dict[str, Any]
    counts: dict[str, int]
    manifest_sha256: str
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> ReleaseInfo:
        return cls(raw["name"], raw.get("description") or "", raw.get("author", ""),
                   raw.get("created", ""), raw.get("at") or {}, raw.get("counts") or {},
                   raw["manifest_sha256"], raw)

    @property
    def checkpoint(self) -> str | None:
        return self.raw.get("checkpoint")


@dataclass(frozen=True)
class ManifestLine:
    """One line of a release's manifest: a version in the release's content."""

    kind: str
    uuid: str
    version: int
    name: str | None
    mimetype: str
    sha256: str
    size: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> ManifestLine:
        return cls(raw["kind"], raw["uuid"], int(raw["version"]), raw.get("name"),
                   raw.get("mimetype", ""), raw["sha256"], int(raw["size"]), raw)


@dataclass(frozen=True)
class Change:
    """One entry of a diff: `change` is added, removed or changed; `before` and `after` are
    `{"version", "name", "sha256"}` or None."""

    kind: str
    uuid: str
    change: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Change:
        return cls(raw["kind"], raw["uuid"], raw["change"], raw.get("from"), raw.get("to"))


@dataclass(frozen=True)
class Stats:
    """A dataset's statistics at a point (see the README's Statistics section)."""

    at: dict[str, Any]
    objects: dict[str, int]
    schemas: dict[str, int]
    annotations: dict[str, int]
    bytes: int
    annotated_objects: int
    labels: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Stats:
        return cls(raw["at"], raw["objects"], raw["schemas"], raw["annotations"], raw["bytes"],
                   raw["annotated_objects"], raw["labels"], raw)


@dataclass(frozen=True)
class SampleAnnotation:
    """An annotation of a release's sample: its version, schema name and document."""

    uuid: str
    version: int
    schema: str | None
    document: Any


@dataclass(frozen=True)
class Sample:
    """An object of a release, on local disk: `path` holds exactly its bytes (checked against
    the manifest's sha256), `annotations` are the release's annotations attached to it."""

    uuid: str
    version: int
    name: str | None
    mimetype: str
    sha256: str
    path: Path
    annotations: list[SampleAnnotation]


@dataclass(frozen=True)
class PullSummary:
    """What a pull did: files written into the folder and skipped (already there), objects
    and schemas fetched from the server versus found in the cache, annotations written."""

    folder: Path
    written: int
    skipped: int
    downloaded: int
    downloaded_bytes: int
    from_cache: int
    annotations: int
    renamed: list[tuple[str, str, str]]


@dataclass(frozen=True)
class ChainReport:
    """`verify_chain`: how many events were checked and the last one's integrity."""

    events: int
    last_integrity: str | None
