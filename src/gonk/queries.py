"""The read side: queries over the projection, shaped as the API returns them."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Connection, select

from .domain import rules
from .domain.errors import NotFound, TooLarge
from .instance import Instance
from .storage import tables as t
from .storage.database import ITEM, LIVE, SCHEMA_NAMED, dataset_row, status_condition

NOUN = {rules.OBJECT: "object", rules.SCHEMA: "schema", rules.ANNOTATION: "annotation"}


def list_datasets(instance: Instance) -> list[str]:
    with instance.db.read() as conn:
        return list(conn.execute(select(t.datasets.c.name).order_by(t.datasets.c.name)).scalars())


def list_owners(instance: Instance, dataset: str) -> list[str]:
    with instance.db.read() as conn:
        ds = dataset_row(conn, dataset).id
        return list(conn.execute(select(t.owners.c.username).where(t.owners.c.dataset_id == ds)
                                 .order_by(t.owners.c.rank)).scalars())


# --- items (objects, schemas, annotations) ----------------------------------------------------


def _after_seq(conn: Connection, ds: int, kind: str, after: str | None) -> int:
    """The creation position of the `after` cursor (0 for none); 404 if it names no item."""
    if after is None:
        return 0
    seq = conn.execute(select(t.items.c.created_seq).where(
        t.items.c.dataset_id == ds, t.items.c.kind == kind, t.items.c.uuid == after)).scalar()
    if seq is None:
        raise NotFound(f"The 'after' cursor {after} names no {NOUN[kind]} of this dataset.")
    return seq


def list_items(instance: Instance, dataset: str, kind: str, after: str | None,
               limit: int | None) -> list[dict[str, Any]]:
    """[{"uuid", "versions"}] in creation order (schemas add "name")."""
    i = t.items.c
    with instance.db.read() as conn:
        ds = dataset_row(conn, dataset).id
        query = select(i.uuid, i.versions, i.name).where(
            i.dataset_id == ds, i.kind == kind, i.created_seq > _after_seq(conn, ds, kind, after)
        ).order_by(i.created_seq)
        if limit is not None:
            query = query.limit(limit)
        rows = conn.execute(query).all()
    if kind == rules.SCHEMA:
        return [{"name": r.name, "uuid": r.uuid, "versions": r.versions} for r in rows]
    return [{"uuid": r.uuid, "versions": r.versions} for r in rows]


def item_info(instance: Instance, dataset: str, kind: str, item_uuid: str) -> dict[str, Any]:
    with instance.db.read() as conn:
        ds = dataset_row(conn, dataset).id
        row = conn.execute(ITEM, {"p_ds": ds, "p_uuid": item_uuid}).first()
    if row is None or row.kind != kind:
        raise NotFound(f"No {NOUN[kind]} {item_uuid} in dataset {dataset}.")
    return {"uuid": row.uuid, "versions": row.versions}


def schema_item(conn: Connection, ds: int, dataset: str, name: str) -> Any:
    """The schema item a name refers to: the newest one created with that name."""
    row = conn.execute(SCHEMA_NAMED, {"p_ds": ds, "p_name": name}).first()
    if row is None:
        raise NotFound(f"No schema named {name} in dataset {dataset}.")
    return row


def schema_info(instance: Instance, dataset: str, name: str) -> dict[str, Any]:
    with instance.db.read() as conn:
        row = schema_item(conn, dataset_row(conn, dataset).id, dataset, name)
    return {"name": row.name, "uuid": row.uuid, "versions": row.versions}


def list_by_status(instance: Instance, dataset: str, kind: str, status: str,
                   after: str | None, limit: int | None) -> list[dict[str, Any]]:
    """One entry per version in that status, by the uuid's creation then version. A page never
    splits one uuid's versions: it is extended past `limit` to finish the last uuid."""
    v = t.versions.c
    with instance.db.read() as conn:
        ds = dataset_row(conn, dataset).id
        where = [v.dataset_id == ds, v.kind == kind, status_condition(status)]
        query = select(v.uuid, v.version, v.name).where(
            *where, v.created_seq > _after_seq(conn, ds, kind, after)
        ).order_by(v.created_seq, v.version)
        rows = conn.execute(query.limit(limit) if limit is not None else query).all()
        if limit is not None and len(rows) == limit:
            last = rows[-1]
            rows += conn.execute(select(v.uuid, v.version, v.name).where(
                *where, v.uuid == last.uuid, v.version > last.version).order_by(v.version)).all()
    if kind == rules.SCHEMA:
        return [{"uuid": r.uuid, "name": r.name, "version": r.version} for r in rows]
    return [{"uuid": r.uuid, "version": r.version} for r in rows]


# --- loading one version ----------------------------------------------------------------------


def _metadata(row: Any) -> dict[str, Any]:
    if row.kind == rules.ANNOTATION:
        return {"uuid": row.uuid, "version": row.version,
                "schema": {"uuid": row.schema_uuid, "version": row.schema_version},
                "size": row.size, "hash_type": 1, "hash": row.hash}
    return {"uuid": row.uuid, "version": row.version, "name": row.name, "format": row.format,
            "size": row.size, "hash_type": 1, "hash": row.hash}


def _version_row(conn: Connection, ds: int, dataset: str, kind: str, item_uuid: str | None,
                 version: int, schema_name: str | None = None) -> Any:
    if schema_name is not None:
        item_uuid = schema_item(conn, ds, dataset, schema_name).uuid
    v = t.versions.c
    row = conn.execute(select(t.versions).where(
        v.dataset_id == ds, v.uuid == item_uuid, v.version == version, v.kind == kind)).first()
    if row is None:
        what = schema_name if schema_name is not None else item_uuid
        raise NotFound(f"No {NOUN[kind]} {what} version {version} in dataset {dataset}.")
    return row


def version_metadata(instance: Instance, dataset: str, kind: str, item_uuid: str,
                     version: int) -> dict[str, Any]:
    with instance.db.read() as conn:
        ds = dataset_row(conn, dataset).id
        return _metadata(_version_row(conn, ds, dataset, kind, item_uuid, version))


def objects_with_hash(instance: Instance, dataset: str, digest: str) -> list[dict[str, Any]]:
    """Objects holding these bytes in a version that is neither rejected nor deleted: what a
    create of the same bytes would collide with (used by `gonk-api import` to skip files)."""
    v = t.versions.c
    with instance.db.read() as conn:
        ds = dataset_row(conn, dataset).id
        rows = conn.execute(select(v.uuid, v.version, v.created_seq).where(
            v.dataset_id == ds, v.kind == rules.OBJECT, v.hash == digest, LIVE)).all()
    # Sorted here: an ORDER BY would lead SQLite away from the hash index (see storage).
    rows.sort(key=lambda r: (r.created_seq, r.version))
    return [{"uuid": r.uuid, "version": r.version} for r in rows]


def load_version(instance: Instance, dataset: str, kind: str, item_uuid: str | None,
                 version: int, schema_name: str | None = None,
                 max_bytes: int | None = None) -> dict[str, Any]:
    """Metadata, base64 bytes and events of one version; for objects the annotations attached
    to it, for annotations the objects it is attached to. Versions larger than `max_bytes` are
    413, pointing to the raw-bytes endpoint."""
    e = t.events.c
    with instance.db.read() as conn:
        ds = dataset_row(conn, dataset).id
        row = _version_row(conn, ds, dataset, kind, item_uuid, version, schema_name)
        if max_bytes is not None and row.size > max_bytes:
            raise TooLarge(
                f"This version is {row.size} bytes, more than the {max_bytes} bytes this server "
                "sends inside JSON. Fetch its bytes from "
                f"/datasets/{dataset}/objects/{row.uuid}/{version}/bytes instead.",
                bytes_url=f"/datasets/{dataset}/objects/{row.uuid}/{version}/bytes")
        # A handful of rows, sorted here: with an ORDER BY, SQLite would rather walk the log
        # in order than use the target index (a scan that grows with the dataset).
        touched = sorted(conn.execute(select(e.uuid, e.type, e.review, e.seq).where(
            e.dataset_id == ds, e.target_uuid == row.uuid, e.target_version == version)).all(),
            key=lambda r: r.seq)
        result: dict[str, Any] = {
            NOUN[kind]: _metadata(row),
            "bytes": None,
            "events": [{"uuid": r.uuid, "type": r.type, "review": r.review} for r in touched],
        }
        links = t.annotation_links.c
        if kind == rules.OBJECT:
            annotation_uuids = conn.execute(select(links.annotation_uuid).where(
                links.dataset_id == ds, links.object_uuid == row.uuid,
                links.object_version == version)).scalars().all()
            attached = sorted(
                (conn.execute(ITEM, {"p_ds": ds, "p_uuid": u}).one() for u in annotation_uuids),
                key=lambda item: item.created_seq)
            result["annotations"] = [{"uuid": a.uuid, "versions": a.versions} for a in attached]
        elif kind == rules.ANNOTATION:
            objects = conn.execute(select(links.object_uuid, links.object_version).where(
                links.dataset_id == ds, links.annotation_uuid == row.uuid)
                .order_by(links.position)).all()
            result["objects"] = [{"uuid": o.object_uuid, "version": o.object_version}
                                 for o in objects]
    result["bytes"] = base64.b64encode(instance.blobs.get(row.hash)).decode("ascii")
    return result


# --- events -----------------------------------------------------------------------------------


def event_page(instance: Instance, dataset: str, after: str | None, limit: int) -> list[str]:
    """Stored JSON of events in log order after the cursor: exactly as hashed, plus integrity."""
    e = t.events.c
    with instance.db.read() as conn:
        ds = dataset_row(conn, dataset).id
        after_seq = 0
        if after is not None:
            after_seq = conn.execute(select(e.seq).where(
                e.dataset_id == ds, e.uuid == after)).scalar()
            if after_seq is None:
                raise NotFound(f"The 'after' cursor {after} names no event of this dataset.")
        return list(conn.execute(select(e.body).where(e.dataset_id == ds, e.seq > after_seq)
                                 .order_by(e.seq).limit(limit)).scalars())
