"""The read side: use cases that read, shaped as the API returns them (the queries themselves
are in storage/reads.py).

Every read of objects, schemas, annotations and events takes `as_of`: None for the current
state, or a point of the dataset's log (an event uuid or a release name, releases.py), to
answer exactly what the same request would have answered right after that event."""

from __future__ import annotations

import base64
from typing import Any

from .domain import rules
from .domain.errors import NotFound
from .domain.rules import Item, Version
from .installation import Installation
from .releases import point_seq
from .storage import datasets, reads
from .storage.database import Connection
from .storage.projection import SqlState

NOUN = {rules.OBJECT: "object", rules.SCHEMA: "schema", rules.ANNOTATION: "annotation"}


def all_datasets(installation: Installation) -> list[str]:
    """Every dataset's name, sorted (the command line's view: it acts for the installation)."""
    with installation.db.read() as conn:
        return datasets.names(conn)


def list_datasets(installation: Installation, user: str) -> list[str]:
    """The datasets `user` may read (every internal one, and the private ones they own or are a
    member of), sorted."""
    with installation.db.read() as conn:
        return datasets.readable_names(conn, user)


def require_readable(installation: Installation, dataset: str, user: str) -> None:
    """NotFound, worded as for a dataset that does not exist, unless `user` may read it."""
    with installation.db.single_statement() as conn:
        if not datasets.readable(conn, dataset, user):
            raise NotFound(f"No dataset named {dataset}.")


def dataset_info(installation: Installation, dataset: str, user: str) -> dict[str, Any]:
    """The dataset's settings and what `user` may do in it (rules.access_of)."""
    with installation.db.read() as conn:
        state = SqlState(conn, datasets.get(conn, dataset).id)
        settings = state.settings()
        return {"dataset": dataset, "visibility": settings.visibility,
                "require_other_reviewer": settings.require_other_reviewer,
                "access": rules.access_of(state, user)}


def list_members(installation: Installation, dataset: str) -> list[dict[str, str]]:
    """The dataset's members and their roles, by name (owners are listed apart)."""
    with installation.db.read() as conn:
        return [{"user": name, "role": role}
                for name, role in reads.members(conn, datasets.get(conn, dataset).id)]


def list_owners(installation: Installation, dataset: str) -> list[str]:
    with installation.db.read() as conn:
        return reads.owner_names(conn, datasets.get(conn, dataset).id)


# --- items (objects, schemas, annotations) ----------------------------------------------------


def _after_seq(conn: Connection, ds: int, kind: str, after: str | None,
               at: int | None = None) -> int:
    """The creation position of the `after` cursor (0 for none); 404 if it names no item (at
    a point: none created by then)."""
    if after is None:
        return 0
    seq = reads.created_seq(conn, ds, kind, after)
    if seq is None or (at is not None and seq > at):
        raise NotFound(f"The 'after' cursor {after} names no {NOUN[kind]} of this dataset.")
    return seq


def list_items(installation: Installation, dataset: str, kind: str, after: str | None,
               limit: int | None, name: str | None = None, prefix: str | None = None,
               schema_name: str | None = None, as_of: str | None = None
               ) -> list[dict[str, Any]]:
    """Items in creation order: [{"uuid", "versions"}] plus, from the newest version, objects'
    "name" and annotations' "schema": {"uuid", "version", "name"}; schemas are {"name", "uuid",
    "versions"}. Filters: the newest version's `name` or name `prefix`, and for annotations
    `schema_name` (the newest version uses a schema of that name: 404 if no schema ever had
    it); `after` stays the cursor."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        at = point_seq(conn, ds, as_of)
        schema_uuids = None
        if schema_name is not None:
            schema_uuids = reads.schema_uuids_named(conn, ds, schema_name, at)
            if not schema_uuids:
                raise NotFound(f"No schema named {schema_name} in dataset {dataset}.")
        listed = reads.items_page(conn, ds, kind, _after_seq(conn, ds, kind, after, at), limit,
                                  name=name, prefix=prefix, schema_uuids=schema_uuids, at=at)
    if kind == rules.SCHEMA:
        return [{"name": i.item.name, "uuid": i.item.uuid, "versions": i.item.versions}
                for i in listed]
    if kind == rules.ANNOTATION:
        return [{"uuid": i.item.uuid, "versions": i.item.versions,
                 "schema": {"uuid": i.newest.schema_uuid, "version": i.newest.schema_version,
                            "name": i.schema_name}} for i in listed]
    return [{"uuid": i.item.uuid, "versions": i.item.versions, "name": i.newest.name}
            for i in listed]


def item_info(installation: Installation, dataset: str, kind: str,
              item_uuid: str, as_of: str | None = None) -> dict[str, Any]:
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        item = reads.item(conn, ds, item_uuid, point_seq(conn, ds, as_of))
    if item is None or item.kind != kind:
        raise NotFound(f"No {NOUN[kind]} {item_uuid} in dataset {dataset}.")
    return {"uuid": item.uuid, "versions": item.versions}


def _schema_item(conn: Connection, ds: int, dataset: str, name: str,
                 at: int | None = None) -> Item:
    """The schema item a name refers to: the newest one created with that name."""
    item = reads.schema_named(conn, ds, name, at)
    if item is None:
        raise NotFound(f"No schema named {name} in dataset {dataset}.")
    return item


def schema_info(installation: Installation, dataset: str, name: str,
                as_of: str | None = None) -> dict[str, Any]:
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        item = _schema_item(conn, ds, dataset, name, point_seq(conn, ds, as_of))
    return {"name": item.name, "uuid": item.uuid, "versions": item.versions}


def list_by_status(installation: Installation, dataset: str, kind: str, status: str,
                   after: str | None, limit: int | None, as_of: str | None = None
                   ) -> list[dict[str, Any]]:
    """One entry per version in that status, by the uuid's creation then version. A page never
    splits one uuid's versions: it is extended past `limit` to finish the last uuid."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        at = point_seq(conn, ds, as_of)
        found = reads.versions_page(conn, ds, kind, status,
                                    _after_seq(conn, ds, kind, after, at), limit, at)
    if kind == rules.SCHEMA:
        return [{"uuid": v.uuid, "name": v.name, "version": v.version} for v in found]
    return [{"uuid": v.uuid, "version": v.version} for v in found]


# --- loading one version ----------------------------------------------------------------------


def _metadata(v: Version) -> dict[str, Any]:
    if v.kind == rules.ANNOTATION:
        return {"uuid": v.uuid, "version": v.version,
                "schema": {"uuid": v.schema_uuid, "version": v.schema_version},
                "size": v.size, "hash_type": 1, "hash": v.hash}
    return {"uuid": v.uuid, "version": v.version, "name": v.name, "format": v.format,
            "size": v.size, "hash_type": 1, "hash": v.hash}


def _version(conn: Connection, ds: int, dataset: str, kind: str, item_uuid: str | None,
             number: int, schema_name: str | None = None, at: int | None = None) -> Version:
    if schema_name is not None:
        item_uuid = _schema_item(conn, ds, dataset, schema_name, at).uuid
    found = reads.version(conn, ds, item_uuid, number, at) if item_uuid is not None else None
    if found is None or found.kind != kind:
        what = schema_name if schema_name is not None else item_uuid
        raise NotFound(f"No {NOUN[kind]} {what} version {number} in dataset {dataset}.")
    return found


def version_metadata(installation: Installation, dataset: str, kind: str, item_uuid: str | None,
                     version: int, schema_name: str | None = None,
                     as_of: str | None = None) -> dict[str, Any]:
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        return _metadata(_version(conn, ds, dataset, kind, item_uuid, version, schema_name,
                                  point_seq(conn, ds, as_of)))


def objects_with_hash(installation: Installation, dataset: str, digest: str,
                      as_of: str | None = None) -> list[dict[str, Any]]:
    """Objects holding these bytes in a version that is neither rejected nor deleted: what a
    create of the same bytes would collide with (used by `gonk-api import` to skip files)."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        found = reads.live_objects_with_hash(conn, ds, digest, point_seq(conn, ds, as_of))
    return [{"uuid": item_uuid, "version": number} for item_uuid, number in found]


def load_version(installation: Installation, dataset: str, kind: str, item_uuid: str | None,
                 version: int, schema_name: str | None = None, max_bytes: int | None = None,
                 with_bytes: bool = True, as_of: str | None = None) -> dict[str, Any]:
    """Metadata, base64 bytes and events of one version; for objects the annotations attached
    to it, for annotations the objects it is attached to. "bytes" is None (and the blob is not
    read) without `with_bytes`, or for a version larger than `max_bytes`: the caller points to
    the raw-bytes endpoint instead."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        at = point_seq(conn, ds, as_of)
        found = _version(conn, ds, dataset, kind, item_uuid, version, schema_name, at)
        touched = reads.events_touching(conn, ds, found.uuid, version, at)
        result: dict[str, Any] = {
            NOUN[kind]: _metadata(found),
            "bytes": None,
            "events": [{"uuid": e.uuid, "type": e.type, "review": e.review} for e in touched],
        }
        if kind == rules.OBJECT:
            result["annotations"] = [
                {"uuid": a.uuid, "versions": a.versions}
                for a in reads.annotations_of_object(conn, ds, found.uuid, version, at)]
        elif kind == rules.ANNOTATION:
            result["objects"] = [
                {"uuid": object_uuid, "version": number}
                for object_uuid, number in reads.objects_of_annotation(conn, ds, found.uuid)]
    if with_bytes and (max_bytes is None or found.size <= max_bytes):
        result["bytes"] = base64.b64encode(installation.blobs.get(found.hash)).decode("ascii")
    return result


# --- events -----------------------------------------------------------------------------------


def event_page(installation: Installation, dataset: str, after: str | None,
               limit: int, pending: bool = False, as_of: str | None = None) -> list[str]:
    """Stored JSON of events in log order after the cursor: exactly as hashed, plus integrity.
    With `pending`, only the events awaiting review; the cursor may be any event of the
    dataset (one reviewed since it was read included)."""
    with installation.db.read() as conn:
        ds = datasets.get(conn, dataset).id
        at = point_seq(conn, ds, as_of)
        after_seq = 0
        if after is not None:
            seq = reads.event_seq(conn, ds, after)
            if seq is None or (at is not None and seq > at):
                raise NotFound(f"The 'after' cursor {after} names no event of this dataset.")
            after_seq = seq
        return reads.stored_events(conn, ds, after_seq, limit, pending=pending, at=at)
