"""The write use cases: one function per change a client can ask for.

Each is one unit of work: store the bytes (content-addressed, flushed) before the transaction,
then in one transaction lock the dataset, let the rules decide, link the event into the chain,
store the event and its projection, commit. A refused request raises a typed error from
domain/errors.py and leaves nothing behind but, at most, an unreferenced blob.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .domain import content, rules, validation
from .domain import events as ev
from .domain.errors import NotFound, TooLarge
from .installation import Installation
from .storage import datasets, queue, users
from .storage.blobs import BlobTooLarge, StoredBlob
from .storage.log import DatasetLog
from .storage.projection import SqlState


@contextmanager
def _locked(installation: Installation, dataset: str) -> Iterator[DatasetLog]:
    with installation.db.write() as conn:
        yield DatasetLog.lock(conn, dataset)


def _require_dataset(installation: Installation, dataset: str, reader: str | None = None) -> None:
    """404 for an unknown dataset, or with `reader`, for one they may not read (a private
    dataset they are not a member of: the same 404, so its name leaks nothing). Datasets are
    never deleted, so one seen once is remembered (for the existence check alone)."""
    if reader is not None:
        with installation.db.single_statement() as conn:
            if not datasets.readable(conn, dataset, reader):
                raise NotFound(f"No dataset named {dataset}.")
        return
    if dataset in installation.known_datasets:
        return
    with installation.db.read() as conn:
        datasets.get(conn, dataset)
    installation.known_datasets.add(dataset)


def store_stream(installation: Installation, dataset: str, chunks: Iterable[bytes],
                 max_bytes: int | None, reader: str | None = None) -> StoredBlob:
    """Store a streamed body (hashing as it goes, never holding it in memory) before the
    transaction that will reference it. 413 past `max_bytes`, with nothing stored."""
    _require_dataset(installation, dataset, reader)
    try:
        return installation.blobs.put_stream(chunks, max_bytes)
    except BlobTooLarge as exc:
        raise TooLarge(f"The body is larger than this server's limit of {exc.limit} bytes for "
                       "streamed uploads.") from None


def _stored(installation: Installation, dataset: str, data: bytes | StoredBlob,
            reader: str) -> StoredBlob:
    """Bytes are stored before the transaction that will reference them (outside the dataset's
    lock, so slow disks do not hold up other writers), and only for an existing dataset."""
    if isinstance(data, StoredBlob):
        return data
    _require_dataset(installation, dataset, reader)
    return StoredBlob(installation.blobs.put(data), len(data))


# --- datasets and owners ----------------------------------------------------------------------


def create_dataset(installation: Installation, author: str, name: str) -> dict[str, Any]:
    validation.dataset_name(name)
    with installation.db.write() as conn:
        log = DatasetLog.create(conn, name, ev.now())  # Conflict if the name is taken
        log.append(ev.owner_event(author, author, add=True))
    return {"dataset": name}


def add_owner(installation: Installation, dataset: str, author: str, user: str) -> dict[str, Any]:
    with _locked(installation, dataset) as log:
        if author in log.state.owners() and not users.exists(log.conn, user):
            raise NotFound(f"No user named {user}.")
        log.append(ev.owner_event(author, user, add=True))
    return {"user": user}


def remove_owner(installation: Installation, dataset: str, author: str,
                 user: str) -> dict[str, Any]:
    with _locked(installation, dataset) as log:
        log.append(ev.owner_event(author, user, add=False))
    return {"user": user}


# --- members and settings --------------------------------------------------------------------


def set_member(installation: Installation, dataset: str, author: str, user: str,
               role: str) -> dict[str, Any]:
    """Give `user` a role in the dataset (MemberSetEvent; owners only, checked by the rules)."""
    with _locked(installation, dataset) as log:
        if author in log.state.owners() and not users.exists(log.conn, user):
            raise NotFound(f"No user named {user}.")
        log.append(ev.member_set(author, user, role))
    return {"user": user, "role": role}


def remove_member(installation: Installation, dataset: str, author: str,
                  user: str) -> dict[str, Any]:
    with _locked(installation, dataset) as log:
        log.append(ev.member_remove(author, user))
    return {"user": user}


def change_settings(installation: Installation, dataset: str, author: str,
                    visibility: str | None, require_other_reviewer: bool | None
                    ) -> dict[str, Any]:
    """Change some of the dataset's settings (DatasetSettingsEvent with all of them, as they
    are after the change; owners only)."""
    with _locked(installation, dataset) as log:
        current = log.state.settings()
        log.append(ev.settings(
            author, current.visibility if visibility is None else visibility,
            current.require_other_reviewer if require_other_reviewer is None
            else require_other_reviewer))
        after = log.state.settings()
    return {"dataset": dataset, "visibility": after.visibility,
            "require_other_reviewer": after.require_other_reviewer}


# --- schemas ----------------------------------------------------------------------------------


def create_schema(installation: Installation, dataset: str, author: str, name: str,
                  data: bytes) -> dict[str, Any]:
    validation.schema_name(name)
    content.check_size(data, "schema", installation.limits.max_schema_bytes)
    content.check_schema(data)
    digest = _stored(installation, dataset, data, author).digest
    meta = ev.object_metadata(ev.new_uuid(), 0, name, ev.SCHEMA_FORMAT, len(data), digest)
    with _locked(installation, dataset) as log:
        log.append(ev.object_write(author, meta))
    return {"name": name, "uuid": meta["uuid"], "versions": 1}


def _schema_item(state: rules.StateView, dataset: str, name: str) -> rules.Item:
    item = state.schema_named(name)
    if item is None:
        raise NotFound(f"No schema named {name} in dataset {dataset}.")
    return item


def update_schema(installation: Installation, dataset: str, author: str, name: str,
                  data: bytes) -> dict[str, Any]:
    content.check_size(data, "schema", installation.limits.max_schema_bytes)
    content.check_schema(data)
    digest = _stored(installation, dataset, data, author).digest
    with _locked(installation, dataset) as log:
        item = _schema_item(log.state, dataset, name)
        meta = ev.object_metadata(item.uuid, item.versions, name, ev.SCHEMA_FORMAT, len(data),
                                  digest)
        log.append(ev.object_write(author, meta))
    return {"name": name, "uuid": item.uuid, "versions": item.versions + 1}


def deprecate_schema(installation: Installation, dataset: str, author: str, name: str,
                     version: int) -> dict[str, Any]:
    with _locked(installation, dataset) as log:
        item = _schema_item(log.state, dataset, name)
        if version >= item.versions:
            raise NotFound(f"Schema {name} has no version {version}.")
        log.append(ev.object_delete(author, item.uuid, version))
    return {"uuid": item.uuid, "version": version, "name": name}


# --- objects ----------------------------------------------------------------------------------


def create_object(installation: Installation, dataset: str, author: str, name: str, mimetype: str,
                  data: bytes | StoredBlob) -> dict[str, Any]:
    """`data` is the bytes, or a blob already stored by `store_stream`."""
    blob = _stored(installation, dataset, data, author)
    meta = ev.object_metadata(ev.new_uuid(), 0, name, mimetype, blob.size, blob.digest)
    with _locked(installation, dataset) as log:
        log.append(ev.object_write(author, meta))
    return {"uuid": meta["uuid"], "version": 0}


def update_object(installation: Installation, dataset: str, author: str, item_uuid: str, name: str,
                  mimetype: str, data: bytes | StoredBlob) -> dict[str, Any]:
    blob = _stored(installation, dataset, data, author)
    with _locked(installation, dataset) as log:
        item = log.state.item(item_uuid)
        if item is None or item.kind != rules.OBJECT:
            raise NotFound(f"No object {item_uuid} in dataset {dataset}.")
        meta = ev.object_metadata(item_uuid, item.versions, name, mimetype, blob.size,
                                  blob.digest)
        log.append(ev.object_write(author, meta))
    return {"uuid": item_uuid, "version": item.versions}


def delete_object(installation: Installation, dataset: str, author: str, item_uuid: str,
                  version: int) -> dict[str, Any]:
    with _locked(installation, dataset) as log:
        target = log.state.version(item_uuid, version)
        if target is None or target.kind != rules.OBJECT:
            raise NotFound(f"No object version {item_uuid}/{version} in dataset {dataset}.")
        log.append(ev.object_delete(author, item_uuid, version))
    return {"uuid": item_uuid, "version": version}


# --- annotations ------------------------------------------------------------------------------


def _checked_schema(installation: Installation, dataset: str, ref: dict[str, Any],
                    data: bytes) -> tuple[rules.Version, content.Labels | None]:
    """The schema version an annotation names, after checking the annotation conforms to it,
    and the annotation's labels when that schema declares a label kind (stored with the new
    version, for the dataset's statistics: no request ever reads them back from the bytes).

    Runs before the bytes are stored and the dataset is locked: a schema version's bytes never
    change, and the rules check its status again under the lock."""
    content.check_size(data, "annotation", installation.limits.max_annotation_bytes)
    with installation.db.read() as conn:
        state = SqlState(conn, datasets.get(conn, dataset).id)
        item = _schema_item(state, dataset, ref["name"])
        schema = rules.check_schema_ref(state, {"uuid": item.uuid, "version": ref["version"]})
    labels = content.check_annotation(
        data, schema.hash, lambda: installation.blobs.get(schema.hash), installation.validators,
        installation.limits.validation_seconds)
    return schema, labels


def create_annotation(installation: Installation, dataset: str, author: str,
                      schema_ref: dict[str, Any], object_identifiers: list[dict[str, Any]],
                      data: bytes) -> dict[str, Any]:
    # Everything whose cost grows with the request is checked before the dataset's lock: the
    # identifiers' shape here (linear), their objects under the lock by `decide`, in one query.
    objects = rules.parse_object_identifiers(object_identifiers,
                                             installation.limits.max_object_identifiers)
    schema, labels = _checked_schema(installation, dataset, schema_ref, data)
    digest = installation.blobs.put(data)
    with _locked(installation, dataset) as log:
        meta = ev.annotation_metadata(ev.new_uuid(), 0, schema.uuid, schema.version, len(data),
                                      digest)
        log.append(ev.annotation_create(
            author, meta, [ev.identifier(u, n) for u, n in objects]), labels)
        # the work is done: leases on annotating these objects against the schema end
        queue.end_annotate_leases(log.conn, log.dataset_id, schema.uuid,
                                  sorted({u for u, _ in objects}))
    return {"uuid": meta["uuid"], "version": 0}


def update_annotation(installation: Installation, dataset: str, author: str, item_uuid: str,
                      schema_ref: dict[str, Any], data: bytes) -> dict[str, Any]:
    schema, labels = _checked_schema(installation, dataset, schema_ref, data)
    digest = installation.blobs.put(data)
    with _locked(installation, dataset) as log:
        item = log.state.item(item_uuid)
        if item is None or item.kind != rules.ANNOTATION:
            raise NotFound(f"No annotation {item_uuid} in dataset {dataset}.")
        meta = ev.annotation_metadata(item_uuid, item.versions, schema.uuid, schema.version,
                                      len(data), digest)
        log.append(ev.annotation_update(author, meta), labels)
    return {"uuid": item_uuid, "version": item.versions}


def delete_annotation(installation: Installation, dataset: str, author: str, item_uuid: str,
                      version: int) -> dict[str, Any]:
    with _locked(installation, dataset) as log:
        log.append(ev.annotation_delete(author, item_uuid, version))
    return {"uuid": item_uuid, "version": version}


# --- reviews ----------------------------------------------------------------------------------


def review(installation: Installation, dataset: str, author: str, event_uuid: str,
           accept: bool) -> dict[str, Any]:
    with _locked(installation, dataset) as log:
        log.append(ev.review(author, event_uuid, accept))
        queue.end_review_lease(log.conn, log.dataset_id, event_uuid)  # decided: the lease ends
    return {"uuid": event_uuid}
