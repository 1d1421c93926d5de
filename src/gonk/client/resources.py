"""The resources of a dataset, as `gonk.Client` reaches them: `Dataset` and its `objects`,
`schemas`, `annotations`, `events`, `owners` and `releases`.

Lists are iterators that ask for the next page themselves (`?after=` the last entry's uuid, or
name for releases), until a page comes back empty. Every read takes `as_of=`: a release name or
an event uuid, to read the dataset as it was right after that event.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import requests
import rfc8785

from .errors import ChainBroken, Conflict, ConnectionFailed, ExportFailed, IntegrityError, NotFound
from .http import Answer, Repeat, Transport, segment
from .log_proofs import (
    Checkpoint,
    ProofError,
    VerifierKey,
    decode_hashes,
    event_leaf_hash,
    verify_inclusion,
)
from .models import (
    AnnotationSummary,
    ChainReport,
    Change,
    Claim,
    Event,
    EventReview,
    ItemInfo,
    Loaded,
    Metadata,
    ObjectSummary,
    PendingChange,
    ReleaseInfo,
    SchemaInfo,
    SchemaVersionRef,
    Stats,
    VersionRef,
)

if TYPE_CHECKING:
    from ..importer import Summary as ImportSummary
    from .monitor import Report as MonitorReport
    from .pull import Release

PAGE = 1000  # the API's largest ?limit=
CHUNK = 1024 * 1024
Data = bytes | bytearray | memoryview | str | os.PathLike | IO[bytes]
"""What an upload takes: the bytes themselves, a file's path, or a binary file object."""
ItemRef = VersionRef | tuple[str, int] | dict
EventLike = str | Event | PendingChange


def _point(as_of: str | None) -> dict[str, Any]:
    return {"as_of": as_of} if as_of is not None else {}


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def _ref(item: ItemRef) -> dict[str, Any]:
    if isinstance(item, VersionRef):
        return item.as_json()
    if isinstance(item, dict):
        return {"uuid": item["uuid"], "version": item["version"]}
    return {"uuid": item[0], "version": item[1]}


def _document_bytes(document: Any) -> bytes:
    """A JSON document as bytes: bytes and str are sent as they are, anything else encoded."""
    if isinstance(document, (bytes, bytearray, memoryview)):
        return bytes(document)
    if isinstance(document, str):
        return document.encode("utf-8")
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _verifier(key: VerifierKey | str) -> VerifierKey:
    return key if isinstance(key, VerifierKey) else VerifierKey.parse(key)


def _event_uuid(event: EventLike) -> str:
    found = event.event if isinstance(event, PendingChange) else event
    return found.uuid if isinstance(found, Event) else str(found)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _loaded(kind: str, raw: dict[str, Any]) -> Loaded:
    data = raw.get("bytes")
    return Loaded(
        kind=kind, meta=Metadata.of(raw[kind]),
        data=base64.b64decode(data) if isinstance(data, str) else None,
        bytes_url=raw.get("bytes_url"),
        events=[EventReview(e["uuid"], e["type"], e.get("review")) for e in raw["events"]],
        annotations=[ItemInfo(a["uuid"], int(a["versions"])) for a in raw.get("annotations", [])],
        objects=[VersionRef.of(o) for o in raw.get("objects", [])],
        raw=raw)


def _body_of(data: Data) -> tuple[Callable[[], Any] | None, str | None]:
    """A body factory for each attempt of an upload (None when the data cannot be read twice:
    then only the first attempt sends it), and the file name the data suggests."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        payload = bytes(data)
        return (lambda: payload), None
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"No such file: {path}")
        return (lambda: open(path, "rb")), path.name
    handle = data
    name = getattr(handle, "name", None)
    suggested = Path(name).name if isinstance(name, str) else None
    try:
        start = handle.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None, suggested

    def rewound() -> Any:
        handle.seek(0, os.SEEK_END)
        length = handle.tell() - start
        handle.seek(start)
        return _Unclosed(handle, length)

    return rewound, suggested


def _once(handle: IO[bytes]) -> Callable[[], Any]:
    """The body of a file object that cannot be rewound: it can be sent only once."""
    sent: list[bool] = []

    def body() -> Any:
        if sent:
            raise ConnectionFailed("The upload failed and its file object cannot be read again "
                                   "(it is not seekable); upload it again.")
        sent.append(True)
        return _Unclosed(handle)

    return body


class _Unclosed:
    """A caller's file object given to requests as a body: read, never closed by us."""

    def __init__(self, handle: IO[bytes], length: int | None = None) -> None:
        self._handle = handle
        self._length = length

    def __len__(self) -> int:  # (requests sends Content-Length, or chunks when it is 0)
        return self._length or 0

    def __bool__(self) -> bool:  # (an empty-looking body would be dropped by requests)
        return True

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._handle.read(CHUNK):
            yield chunk


def stream_chunks(answer: Answer, what: str) -> Generator[bytes, None, None]:
    """A streamed answer's body in chunks (closed at the end); a body that breaks off is
    ConnectionFailed."""
    try:
        yield from answer.response.iter_content(CHUNK)
    except requests.RequestException as exc:
        raise ConnectionFailed(f"The download of {what} broke off ({exc}); run it again to go "
                               "on where it stopped.") from None
    finally:
        answer.response.close()


def _etag_sha256(answer: Answer) -> str | None:
    etag = answer.response.headers.get("ETag", "").strip()
    etag = etag.removeprefix("W/").strip('"')
    return etag if len(etag) == 64 else None


class _Resource:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.http: Transport = dataset.http
        self.base = dataset.base

    def _pages(self, path: str, params: dict[str, Any], page_size: int,
               cursor: str = "uuid", after: str | None = None) -> Iterator[dict[str, Any]]:
        while True:
            page = self.http.json("GET", self.base + path,
                                  params={**params, "limit": page_size, "after": after})
            if not page:
                return
            yield from page
            after = page[-1][cursor]

    def _download(self, path: str, target: Path, as_of: str | None, what: str,
                  expected: str | None = None) -> Path:
        """Stream the bytes at `path` into the file `target` (written beside it, checked
        against the ETag's sha256, or `expected`, then renamed into place)."""
        target = Path(target)
        answer = self.http.request("GET", self.base + path, params=_point(as_of), stream=True)
        expected = expected or _etag_sha256(answer) or self._sha256_of(path, as_of)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.",  # noqa: SIM115
                                             suffix=".gonk-tmp", delete=False)
        digest = hashlib.sha256()
        try:
            with handle:
                for chunk in stream_chunks(answer, what):
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != expected:
                raise IntegrityError(f"The bytes of {what} have sha256 {digest.hexdigest()}, "
                                     f"not {expected}; nothing was kept.")
            os.replace(handle.name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)
            raise
        return target

    def _read(self, path: str, as_of: str | None, what: str) -> bytes:
        answer = self.http.request("GET", self.base + path, params=_point(as_of), stream=True)
        expected = _etag_sha256(answer) or self._sha256_of(path, as_of)
        data = b"".join(stream_chunks(answer, what))
        if hashlib.sha256(data).hexdigest() != expected:
            raise IntegrityError(f"The bytes of {what} do not match their sha256 {expected}.")
        return data

    def _sha256_of(self, bytes_path: str, as_of: str | None) -> str:
        """The sha256 of a version's bytes from its metadata, for a download whose answer had
        no ETag (a proxy may drop it)."""
        found = self.http.json("GET", self.base + bytes_path.removesuffix("/bytes"),
                               params={"bytes": "false", **_point(as_of)})
        meta = next(found[key] for key in ("object", "schema", "annotation") if key in found)
        return str(meta["hash"])


class Objects(_Resource):
    """The objects of a dataset (files of any type, versioned). `for obj in dataset.objects`
    lists them all."""

    def __iter__(self) -> Iterator[ObjectSummary]:
        return self.list()

    def list(self, *, name: str | None = None, prefix: str | None = None,
             as_of: str | None = None, page_size: int = PAGE) -> Iterator[ObjectSummary]:
        """Every object in creation order (`name`: its newest version's), or only those whose
        newest name is `name`, or starts with `prefix`."""
        params = {"name": name, "prefix": prefix, **_point(as_of)}
        for raw in self._pages("/objects", params, page_size):
            yield ObjectSummary(raw["uuid"], int(raw["versions"]), raw["name"])

    def with_hash(self, sha256: str, *, as_of: str | None = None) -> builtins.list[VersionRef]:
        """The object versions, neither rejected nor deleted, holding bytes of this sha256."""
        found = self.http.json("GET", self.base + "/objects",
                               params={"hash": sha256, **_point(as_of)})
        return [VersionRef.of(v) for v in found]

    def status(self, status: str, *, as_of: str | None = None,
               page_size: int = PAGE) -> Iterator[VersionRef]:
        """The versions in a status: `accepted`, `pending`, `deleted` or `rejected`."""
        for raw in self._pages(f"/objects/{segment(status)}", _point(as_of), page_size):
            yield VersionRef.of(raw)

    def info(self, uuid: str, *, as_of: str | None = None) -> ItemInfo:
        """The object's uuid and number of versions."""
        raw = self.http.json("GET", self.base + f"/objects/{segment(uuid)}",
                             params=_point(as_of))
        return ItemInfo(raw["uuid"], int(raw["versions"]))

    def load(self, uuid: str, version: int, *, with_bytes: bool = True,
             as_of: str | None = None) -> Loaded:
        """A version: metadata, bytes (unless `with_bytes=False`, or too large for JSON: see
        `Loaded.bytes_url`; `read` and `download` stream any size), events, annotations."""
        raw = self.http.json("GET", self.base + f"/objects/{segment(uuid)}/{int(version)}",
                             params={"bytes": _bool(with_bytes), **_point(as_of)})
        return _loaded("object", raw)

    def read(self, uuid: str, version: int, *, as_of: str | None = None) -> bytes:
        """The version's bytes, in memory (checked against their sha256)."""
        return self._read(f"/objects/{segment(uuid)}/{int(version)}/bytes", as_of,
                          f"object {uuid} version {version}")

    def download(self, uuid: str, version: int, path: str | os.PathLike[str], *,
                 as_of: str | None = None) -> Path:
        """Stream the version's bytes into the file `path` (checked against their sha256,
        written beside it and renamed into place); returns the path."""
        return self._download(f"/objects/{segment(uuid)}/{int(version)}/bytes", Path(path),
                              as_of, f"object {uuid} version {version}")

    def create(self, data: Data, name: str | None = None, mimetype: str | None = None, *,
               exist_ok: bool = False) -> VersionRef:
        """Same as `Dataset.upload`."""
        return self.dataset.upload(data, name, mimetype, exist_ok=exist_ok)

    def update(self, uuid: str, data: Data, name: str | None = None,
               mimetype: str | None = None) -> VersionRef:
        """A new version of the object, streamed (a pending update). `name` defaults to the
        newest version's name; `mimetype` to the server's guess from the bytes and name."""
        body, _ = _body_of(data)
        if body is None:
            body = _once(data)  # type: ignore[arg-type]
        if name is None:
            info = self.info(uuid)
            name = self.load(uuid, info.versions - 1, with_bytes=False).meta.name
        headers = {"Content-Type": mimetype} if mimetype else None
        raw = self.http.json("PATCH", self.base + f"/objects/{segment(uuid)}",
                             params={"name": name}, body=body, headers=headers,
                             repeat=Repeat.ONCE)
        return VersionRef.of(raw)

    def delete(self, uuid: str, version: int) -> VersionRef:
        """Propose deleting the version (pending until reviewed)."""
        raw = self.http.json("DELETE", self.base + f"/objects/{segment(uuid)}/{int(version)}",
                             repeat=Repeat.ONCE)
        return VersionRef.of(raw)


class Schemas(_Resource):
    """The JSON Schemas of a dataset, by name (`schema-...`)."""

    def __iter__(self) -> Iterator[SchemaInfo]:
        return self.list()

    def list(self, *, name: str | None = None, prefix: str | None = None,
             as_of: str | None = None) -> Iterator[SchemaInfo]:
        """Every schema in creation order (or those of this name, or name prefix)."""
        found = self.http.json("GET", self.base + "/schemas",
                               params={"name": name, "prefix": prefix, **_point(as_of)})
        return iter([SchemaInfo.of(raw) for raw in found])

    def status(self, status: str, *, as_of: str | None = None) -> Iterator[SchemaVersionRef]:
        """The versions in a status: `accepted`, `pending`, `deprecated` or `rejected`."""
        found = self.http.json("GET", self.base + f"/schemas/{segment(status)}",
                               params=_point(as_of))
        return iter([SchemaVersionRef(r["uuid"], r["name"], int(r["version"])) for r in found])

    def info(self, name: str, *, as_of: str | None = None) -> SchemaInfo:
        """The schema's name, uuid and number of versions."""
        return SchemaInfo.of(self.http.json("GET", self.base + f"/schemas/{segment(name)}",
                                            params=_point(as_of)))

    def load(self, name: str, version: int, *, with_bytes: bool = True,
             as_of: str | None = None) -> Loaded:
        """A version: metadata, the document's bytes (`Loaded.document()` parses them),
        events."""
        raw = self.http.json("GET", self.base + f"/schemas/{segment(name)}/{int(version)}",
                             params={"bytes": _bool(with_bytes), **_point(as_of)})
        return _loaded("schema", raw)

    def read(self, name: str, version: int, *, as_of: str | None = None) -> bytes:
        """The schema version's document as bytes (checked against their sha256)."""
        return self._read(f"/schemas/{segment(name)}/{int(version)}/bytes", as_of,
                          f"{name} version {version}")

    def document(self, name: str, version: int, *, as_of: str | None = None) -> Any:
        """The schema version's JSON document, parsed."""
        return json.loads(self.read(name, version, as_of=as_of))

    def create(self, name: str, document: Any) -> SchemaInfo:
        """A new schema (pending). `document`: a dict, or its JSON as bytes or text."""
        raw = self.http.json("POST", self.base + "/schemas", repeat=Repeat.ONCE,
                             json={"name": name, "schema": _b64(_document_bytes(document))})
        return SchemaInfo.of(raw)

    def update(self, name: str, document: Any) -> SchemaInfo:
        """A new version of the schema (pending). `document`: a dict, or its JSON."""
        raw = self.http.json("PATCH", self.base + f"/schemas/{segment(name)}",
                             repeat=Repeat.ONCE,
                             json={"schema": _b64(_document_bytes(document))})
        return SchemaInfo.of(raw)

    def delete(self, name: str, version: int) -> SchemaVersionRef:
        """Propose deprecating the version (pending until reviewed)."""
        raw = self.http.json("DELETE", self.base + f"/schemas/{segment(name)}/{int(version)}",
                             repeat=Repeat.ONCE)
        return SchemaVersionRef(raw["uuid"], raw.get("name", name), int(raw["version"]))


class Annotations(_Resource):
    """The annotations of a dataset: JSON documents, each validated against a schema version
    and attached to object versions."""

    def __iter__(self) -> Iterator[AnnotationSummary]:
        return self.list()

    def list(self, *, schema: str | None = None, as_of: str | None = None,
             page_size: int = PAGE) -> Iterator[AnnotationSummary]:
        """Every annotation in creation order, or those whose newest version uses a schema of
        this name."""
        params = {"schema": schema, **_point(as_of)}
        for raw in self._pages("/annotations", params, page_size):
            yield AnnotationSummary(raw["uuid"], int(raw["versions"]), raw["schema"])

    def status(self, status: str, *, as_of: str | None = None,
               page_size: int = PAGE) -> Iterator[VersionRef]:
        """The versions in a status: `accepted`, `pending`, `deleted` or `rejected`."""
        for raw in self._pages(f"/annotations/{segment(status)}", _point(as_of), page_size):
            yield VersionRef.of(raw)

    def info(self, uuid: str, *, as_of: str | None = None) -> ItemInfo:
        """The annotation's uuid and number of versions."""
        raw = self.http.json("GET", self.base + f"/annotations/{segment(uuid)}",
                             params=_point(as_of))
        return ItemInfo(raw["uuid"], int(raw["versions"]))

    def load(self, uuid: str, version: int, *, with_bytes: bool = True,
             as_of: str | None = None) -> Loaded:
        """A version: metadata (`meta.schema`), the document's bytes (`Loaded.document()`),
        events and the object versions it is attached to (`objects`)."""
        raw = self.http.json("GET", self.base + f"/annotations/{segment(uuid)}/{int(version)}",
                             params={"bytes": _bool(with_bytes), **_point(as_of)})
        return _loaded("annotation", raw)

    def read(self, uuid: str, version: int, *, as_of: str | None = None) -> bytes:
        """The annotation version's document as bytes (checked against their sha256)."""
        return self._read(f"/annotations/{segment(uuid)}/{int(version)}/bytes", as_of,
                          f"annotation {uuid} version {version}")

    def document(self, uuid: str, version: int, *, as_of: str | None = None) -> Any:
        """The annotation version's JSON document, parsed."""
        return json.loads(self.read(uuid, version, as_of=as_of))

    def create(self, schema: str, schema_version: int, objects: Iterable[ItemRef],
               document: Any) -> VersionRef:
        """A new annotation (pending) of the object versions `objects` (VersionRefs, (uuid,
        version) pairs or dicts), validated against `schema` version `schema_version`."""
        raw = self.http.json("POST", self.base + "/annotations", repeat=Repeat.ONCE, json={
            "schema": {"name": schema, "version": int(schema_version)},
            "object_identifiers": [_ref(o) for o in objects],
            "annotation": _b64(_document_bytes(document))})
        return VersionRef.of(raw)

    def update(self, uuid: str, schema: str, schema_version: int, document: Any) -> VersionRef:
        """A new version (pending), attached to the same object versions."""
        raw = self.http.json("PATCH", self.base + f"/annotations/{segment(uuid)}",
                             repeat=Repeat.ONCE, json={
                                 "schema": {"name": schema, "version": int(schema_version)},
                                 "annotation": _b64(_document_bytes(document))})
        return VersionRef.of(raw)

    def delete(self, uuid: str, version: int) -> VersionRef:
        """Propose deleting the version (pending until reviewed)."""
        raw = self.http.json("DELETE",
                             self.base + f"/annotations/{segment(uuid)}/{int(version)}",
                             repeat=Repeat.ONCE)
        return VersionRef.of(raw)


class Events(_Resource):
    """The dataset's log: every event, in order, as hashed (see `Dataset.verify_chain`)."""

    def __iter__(self) -> Iterator[Event]:
        return self.list()

    def list(self, *, pending: bool = False, as_of: str | None = None,
             after: str | None = None, page_size: int = PAGE) -> Iterator[Event]:
        """Every event in log order (after the event of uuid `after`, if given), or with
        `pending=True` the create, update and delete events that await review."""
        params = {"pending": "true" if pending else None, **_point(as_of)}
        for raw in self._pages("/events", params, page_size, after=after):
            yield Event.of(raw)

    def accept(self, event: EventLike) -> str:
        """Same as `Dataset.accept`."""
        return self.dataset.accept(event)

    def reject(self, event: EventLike) -> str:
        """Same as `Dataset.reject`."""
        return self.dataset.reject(event)


class Owners(_Resource):
    """The owners of a dataset (they review changes and manage owners), highest rank first."""

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def list(self) -> builtins.list[str]:
        """The owners' usernames, highest rank first."""
        return builtins.list(self.http.json("GET", self.base + "/owners"))

    def add(self, user: str) -> str:
        """Make `user` an owner (owners only; Conflict if they are one already)."""
        return str(self.http.json("PUT", self.base + f"/owners/{segment(user)}",
                                  repeat=Repeat.ONCE)["user"])

    def remove(self, user: str) -> str:
        """Remove an owner of equal or lower rank (never the last one: Conflict)."""
        return str(self.http.json("DELETE", self.base + f"/owners/{segment(user)}",
                                  repeat=Repeat.ONCE)["user"])


class Members(_Resource):
    """A dataset's members and their roles: "viewer" (reads), "annotator" (also proposes
    changes), "reviewer" (also accepts and rejects them). Owners are listed apart (`owners`).
    Changing them takes an owner; each change is an event of the dataset's log."""

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.list())

    def list(self) -> builtins.list[tuple[str, str]]:
        """(user, role) of every member, by name."""
        return [(m["user"], m["role"]) for m in self.http.json("GET", self.base + "/members")]

    def set(self, user: str, role: str) -> str:
        """Give `user` the role (or change theirs); returns the role."""
        return str(self.http.json("PUT", self.base + f"/members/{segment(user)}",
                                  json={"role": role}, repeat=Repeat.ONCE)["role"])

    def remove(self, user: str) -> str:
        return str(self.http.json("DELETE", self.base + f"/members/{segment(user)}",
                                  repeat=Repeat.ONCE)["user"])


class Releases(_Resource):
    """A dataset's releases: names given to points of its log."""

    def __iter__(self) -> Iterator[ReleaseInfo]:
        return self.list()

    def list(self, *, page_size: int = PAGE) -> Iterator[ReleaseInfo]:
        """Every release in creation order."""
        for raw in self._pages("/releases", {}, page_size, cursor="name"):
            yield ReleaseInfo.of(raw)

    def get(self, name: str) -> ReleaseInfo:
        """The release of this name (NotFound if there is none)."""
        return ReleaseInfo.of(self.http.json("GET", self.base + f"/releases/{segment(name)}"))

    def create(self, name: str, description: str = "", at: str | None = None) -> Release:
        """Name the point `at` (an event uuid; default: the latest event) `name`; owners
        only. Returns the release's handle (`pull`, `samples`, ...)."""
        body: dict[str, Any] = {"name": name, "description": description}
        if at is not None:
            body["at"] = at
        raw = self.http.json("POST", self.base + "/releases", json=body, repeat=Repeat.ONCE)
        release = self.dataset.release(name)
        release._info = ReleaseInfo.of(raw)
        return release

    def __call__(self, name: str) -> Release:
        return self.dataset.release(name)


class Dataset:
    """A dataset of a Gonk server, by name (`client.dataset("birds")`). Making the handle
    sends nothing; `create()` creates the dataset.

    Resources: `objects`, `schemas`, `annotations`, `events`, `owners`, `members`, `releases`.
    Settings: `info`, `configure`. The work queue: `claim`, `extend`, `give_back`,
    `set_priority`, `assign`, `queue`.
    Files: `upload`, `download`, `import_folder`. Review: `pending`, `accept`, `reject`.
    Points: `release(name)`, `diff`, `stats`, `verify_chain`.
    The verifiable log: `checkpoint(key)`, `checkpoint_note`, `inclusion_proof`,
    `consistency_proof`, `verify_event(event, key)`, `monitor(state_file, key)`.
    """

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        self.http: Transport = client.http
        self.base = f"/datasets/{segment(name)}"
        self.objects = Objects(self)
        self.schemas = Schemas(self)
        self.annotations = Annotations(self)
        self.events = Events(self)
        self.owners = Owners(self)
        self.members = Members(self)
        self.releases = Releases(self)

    def __repr__(self) -> str:
        return f"Dataset({self.name!r})"

    def create(self) -> Dataset:
        """Create the dataset (you become its first owner); Conflict if the name is taken."""
        self.http.json("POST", "/datasets", json={"name": self.name}, repeat=Repeat.ONCE)
        return self

    def info(self) -> dict[str, Any]:
        """{"dataset", "visibility", "require_other_reviewer", "access"}: its settings, and what
        you may do in it ("owner", "reviewer", "annotator" or "viewer")."""
        return dict(self.http.json("GET", self.base))

    def configure(self, *, visibility: str | None = None,
                  require_other_reviewer: bool | None = None) -> dict[str, Any]:
        """Change its settings (owners only): `visibility` "internal" or "private" (members
        only; 404 for anyone else), `require_other_reviewer` (nobody accepts their own change).
        Returns the settings after the change; Conflict if nothing would change."""
        body = {k: v for k, v in (("visibility", visibility),
                                  ("require_other_reviewer", require_other_reviewer))
                if v is not None}
        return dict(self.http.json("PATCH", self.base, json=body, repeat=Repeat.ONCE))

    # - the work queue -

    def claim(self, task: str = "annotate", schema: str | None = None, *,
              ttl: float | None = None) -> Claim | None:
        """Lease the next task: "annotate" (against `schema`) or "review". None when nothing
        is left for you. Sent once (a repeat after a lost answer would lease a second task)."""
        body: dict[str, Any] = {"task": task}
        if schema is not None:
            body["schema"] = schema
        if ttl is not None:
            body["ttl"] = ttl
        raw = self.http.json("POST", self.base + "/queue/claim", json=body, repeat=Repeat.ONCE)
        lease = raw.get("lease")
        if lease is None:
            return None
        return Claim(lease["id"], lease["task"], lease["expires"], raw.get("item") or {})

    def extend(self, claim: Claim | str, ttl: float | None = None) -> str:
        """Extend a lease you hold (`ttl` seconds from now, default 300); returns when it now
        expires."""
        lease_id = claim.lease_id if isinstance(claim, Claim) else claim
        raw = self.http.json("PUT", self.base + f"/queue/leases/{segment(lease_id)}",
                             json={} if ttl is None else {"ttl": ttl})
        return str(raw["lease"]["expires"])

    def give_back(self, claim: Claim | str) -> None:
        """Give a lease back: its task is claimable again at once."""
        lease_id = claim.lease_id if isinstance(claim, Claim) else claim
        self.http.json("DELETE", self.base + f"/queue/leases/{segment(lease_id)}",
                       repeat=Repeat.ONCE)

    def set_priority(self, object_uuid: str, priority: float) -> None:
        """Higher is claimed first (default 0); reviewers and owners."""
        self.http.json("PUT", self.base + f"/objects/{segment(object_uuid)}/priority",
                       json={"priority": priority})

    def assign(self, object_uuid: str, user: str | None) -> None:
        """Only `user` claims the object (None: anyone); reviewers and owners."""
        self.http.json("PUT", self.base + f"/objects/{segment(object_uuid)}/assignee",
                       json={"user": user})

    def queue(self, schema: str | None = None) -> dict[str, Any]:
        """What is left, leased and awaiting review, and per user what they proposed and what
        was accepted and rejected."""
        return dict(self.http.json("GET", self.base + "/queue", params={"schema": schema}))

    def exists(self) -> bool:
        """Whether the dataset exists (and the key may read it)."""
        try:
            self.owners.list()
        except NotFound:
            return False
        return True

    # - files -

    def upload(self, data: Data, name: str | None = None, mimetype: str | None = None, *,
               exist_ok: bool = False) -> VersionRef:
        """Create an object from bytes, a file's path or a binary file object, streamed as
        the raw body (never held whole in memory for a path or file). `name` defaults to the
        file's name (required for bytes); `mimetype` to the server's guess from the bytes and
        the name.

        The same bytes may not be in two live objects: Conflict (with `existing`). Should the
        answer to the create be lost (connection cut, 502, 504), the create is sent again, and
        a Conflict on that repeat means the first one went through: the existing version is
        returned (`existing=True`) instead of failing. With `exist_ok=True` that is so for
        any upload of bytes already in the dataset."""
        body, suggested = _body_of(data)
        name = name if name is not None else suggested
        if not name:
            raise ValueError("upload needs a name for bytes or an unnamed file object")
        headers = {"Content-Type": mimetype} if mimetype else None
        repeat = Repeat.DUPLICATE
        if body is None:
            body, repeat = _once(data), Repeat.ONCE  # type: ignore[arg-type]
        try:
            raw = self.http.json("POST", self.base + "/objects", params={"name": name},
                                 body=body, headers=headers, repeat=repeat)
        except Conflict as exc:
            repeated = getattr(exc, "attempts", 1) > 1
            if exc.existing is not None and "version" in exc.existing and (repeated or exist_ok):
                return VersionRef.of(exc.existing, existing=True)
            raise
        return VersionRef.of(raw)

    def download(self, uuid: str, version: int, path: str | os.PathLike[str], *,
                 as_of: str | None = None) -> Path:
        """Stream an object version's bytes into the file `path`, checked against their
        sha256 (nothing is kept if they do not match: IntegrityError); returns the path."""
        return self.objects.download(uuid, version, path, as_of=as_of)

    def import_folder(self, *paths: str | os.PathLike[str], include_hidden: bool = False,
                      exclude: Iterable[str] = (), strict: bool = False) -> ImportSummary:
        """Add every file under the folders (and files) given as objects, named by their path
        relative to the folder given, exactly as `gonk-api import --url` does: hidden files
        and folders are left out unless `include_hidden`, `exclude` globs leave out more, files
        whose bytes are already in the dataset are skipped (so an interrupted import is simply
        run again), files whose names cannot be object names are skipped (with `strict`:
        failed). Returns the importer's Summary (`imported`, `skipped`, `failed`, ...)."""
        from ..importer import (
            RemoteTarget,
            Selection,
            Summary,
            collect_files,
            import_one,
            storable_files,
        )

        self.owners.list()  # NotFound now, not once per file
        selection = Selection(include_hidden, tuple(exclude))
        files = collect_files([Path(p) for p in paths], selection)
        summary = Summary(failed=list(selection.unreadable))
        target = RemoteTarget.of(self)
        for source in storable_files(files, summary, strict):
            import_one(target, source, summary)
        return summary

    # - review -

    def pending(self, *, as_of: str | None = None) -> Iterator[PendingChange]:
        """The events that await review, oldest first, each with the version it changes
        (loaded without its bytes: name, mimetype, size, sha256, events, links)."""
        schema_names: dict[str, str] = {}
        for event in self.events.list(pending=True, as_of=as_of):
            target = event.target()
            if target is None:
                continue
            kind = "annotation" if event.type.startswith("Annotation") else "object"
            action = ("delete" if event.type.endswith("DeleteEvent") else
                      "update" if event.type.endswith("UpdateEvent") else "create")
            name = (event.raw.get("object") or {}).get("name")
            if kind == "object" and isinstance(name, str) and name.startswith("schema-"):
                kind = "schema"
            if kind == "annotation":
                version = self.annotations.load(target.uuid, target.version, with_bytes=False,
                                                as_of=as_of)
            elif kind == "object" and action == "delete":
                try:
                    version = self.objects.load(target.uuid, target.version, with_bytes=False,
                                                as_of=as_of)
                except NotFound:  # a schema's deprecation: its uuid is a schema's
                    if not schema_names:
                        schema_names.update((s.uuid, s.name) for s in self.schemas.list())
                    if target.uuid not in schema_names:
                        raise
                    kind, name = "schema", schema_names[target.uuid]
                    version = self.schemas.load(name, target.version, with_bytes=False,
                                                as_of=as_of)
            elif kind == "schema":
                version = self.schemas.load(str(name), target.version, with_bytes=False,
                                            as_of=as_of)
            else:
                version = self.objects.load(target.uuid, target.version, with_bytes=False,
                                            as_of=as_of)
            yield PendingChange(event, kind, action, target, version)

    def accept(self, event: EventLike) -> str:
        """Accept a pending event (an Event, a PendingChange or the event's uuid); owners
        only. Returns the event's uuid. See `reject` for what a repeated review does."""
        return self._review(event, True)

    def reject(self, event: EventLike) -> str:
        """Reject a pending event (an Event, a PendingChange or its uuid); owners only.

        A review whose answer was lost is sent again; the server then refuses it (409: already
        reviewed). When the event was given as an Event or PendingChange, the client reads
        the reviewed version back and returns normally if the event's review is the decision
        asked for (whoever made it); otherwise, and for a bare uuid, the Conflict is raised."""
        return self._review(event, False)

    def _review(self, event: EventLike, accept: bool) -> str:
        found = event.event if isinstance(event, PendingChange) else event
        uuid = found.uuid if isinstance(found, Event) else str(found)
        word = "accept" if accept else "reject"
        try:
            raw = self.http.json("PUT", self.base + f"/events/{segment(uuid)}/{word}",
                                 repeat=Repeat.REVIEW)
        except Conflict as exc:
            if getattr(exc, "attempts", 1) > 1 and isinstance(found, Event) \
                    and self._reviewed_as(found, "ACCEPTED" if accept else "REJECTED"):
                return uuid
            raise
        return str(raw["uuid"])

    def _reviewed_as(self, event: Event, review: str) -> bool:
        target = event.target()
        if target is None:
            return False
        loads: list[Callable[[], Loaded]] = [
            lambda: self.annotations.load(target.uuid, target.version, with_bytes=False),
            lambda: self.objects.load(target.uuid, target.version, with_bytes=False)]
        name = (event.raw.get("object") or {}).get("name")
        if isinstance(name, str) and name.startswith("schema-"):
            loads.append(lambda: self.schemas.load(name, target.version, with_bytes=False))
        for load in loads:
            try:
                version = load()
            except NotFound:
                continue
            return any(e.uuid == event.uuid and e.review == review for e in version.events)
        return False

    # - points -

    def release(self, name: str) -> Release:
        """The release of this name (a handle: nothing is sent until it is used)."""
        from .pull import Release

        return Release(self, name)

    def stats(self, *, as_of: str | None = None) -> Stats:
        """Counts by status, the content's bytes, annotated objects and labels at a point."""
        return Stats.of(self.http.json("GET", self.base + "/stats", params=_point(as_of)))

    def diff(self, from_point: str | None = None, to_point: str | None = None, *,
             page_size: int = PAGE) -> Iterator[Change]:
        """The changes between the content at two points (release names or event uuids;
        `from_point` None: the empty dataset; `to_point` None: the latest event, pinned on the
        first page so that events appended meanwhile do not move it)."""
        after: str | None = None
        while True:
            answer = self.http.request("GET", self.base + "/diff", params={
                "from": from_point, "to": to_point, "after": after, "limit": page_size})
            page = answer.json()
            answer.response.close()
            if to_point is None:
                to_point = answer.response.headers.get("Gonk-Diff-To")
            if not page:
                return
            for raw in page:
                yield Change.of(raw)
            after = page[-1]["uuid"]

    def verify_chain(self, *, as_of: str | None = None) -> ChainReport:
        """Fetch the whole log (to `as_of`, if given) and check every event's integrity here:
        sha256(previous integrity's 32 bytes + the event's RFC 8785 bytes without
        `integrity`). Raises ChainBroken naming the first event that does not match."""
        previous, count, last = b"", 0, None
        for event in self.events.list(as_of=as_of):
            body = {k: v for k, v in event.raw.items() if k != "integrity"}
            digest = hashlib.sha256(previous + rfc8785.dumps(body)).digest()
            if digest.hex() != event.integrity:
                raise ChainBroken(f"The chain of {self.name} is broken at event {event.uuid} "
                                  f"(number {count}): its integrity is {event.integrity}, "
                                  f"the events before it give {digest.hex()}.", event.uuid)
            previous, count, last = digest, count + 1, event.integrity
        return ChainReport(count, last)

    # - the verifiable log (gonk.client.log_proofs checks; nothing here trusts the server) -

    def checkpoint_note(self) -> str:
        """The dataset's current checkpoint as served: a C2SP signed note (unchecked)."""
        answer = self.http.request("GET", self.base + "/checkpoint")
        try:  # UTF-8 whatever the headers say (signature lines start with an em dash)
            return answer.response.content.decode("utf-8")
        finally:
            answer.response.close()

    def checkpoint(self, key: VerifierKey | str) -> Checkpoint:
        """The current checkpoint, its signature checked against `key` (a VerifierKey or the
        line `gonk-api log-key` prints) and its origin this dataset's: origin, size, root.
        ProofError if it does not check out."""
        verifier = _verifier(key)
        checkpoint = verifier.open_checkpoint(self.checkpoint_note())
        wanted = f"{verifier.name}/datasets/{self.name}"
        if checkpoint.origin != wanted:  # another dataset's checkpoint, however well signed
            raise ProofError(f"The checkpoint is of the log {checkpoint.origin!r}, not "
                             f"{wanted!r}.")
        return checkpoint

    def inclusion_proof(self, event: EventLike, size: int | None = None) -> dict[str, Any]:
        """{"index", "size", "hashes", "event"}: the server's proof that the event is leaf
        `index` of the tree of its first `size` events (default: all), with the event as
        stored (unchecked: see `verify_event`)."""
        return dict(self.http.json("GET", self.base + "/proofs/inclusion",
                                   params={"event": _event_uuid(event), "size": size}))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """{"from", "to", "hashes"}: the server's proof that the tree of its first `old_size`
        events is a prefix of the tree of `new_size` (default: all; unchecked)."""
        return dict(self.http.json("GET", self.base + "/proofs/consistency",
                                   params={"from": old_size, "to": new_size}))

    def verify_event(self, event: EventLike | dict[str, Any], key: VerifierKey | str,
                     checkpoint: Checkpoint | None = None) -> Checkpoint:
        """Prove that the event is in the signed log: checks the checkpoint's signature (the
        current one unless given), then the inclusion proof of the event's own bytes (an Event
        or its raw JSON you kept; for a bare uuid, the bytes the server sends with the proof)
        against its root. Returns the checkpoint; ProofError if anything does not check out."""
        if checkpoint is None:
            checkpoint = self.checkpoint(key)
        raw = event.raw if isinstance(event, Event) else event if isinstance(event, dict) \
            else None
        uuid = str(raw["uuid"]) if raw is not None else _event_uuid(event)  # type: ignore[arg-type]
        proof = self.inclusion_proof(uuid, checkpoint.size)
        if raw is None:
            raw = proof.get("event")
            if not isinstance(raw, dict) or str(raw.get("uuid", "")).lower() != uuid.lower():
                raise ProofError(f"The inclusion proof of event {uuid} carries another event.")
        leaf = event_leaf_hash(raw)
        if not verify_inclusion(leaf, int(proof["index"]), checkpoint.size,
                                decode_hashes(proof["hashes"]), checkpoint.root):
            raise ProofError(f"Event {uuid} is not in the log of dataset {self.name} that the "
                             f"checkpoint of {checkpoint.size} events signs.")
        return checkpoint

    def monitor(self, state_file: str | os.PathLike[str],
                key: VerifierKey | str | None = None, watch: Iterable[str] = ()) -> MonitorReport:
        """One run of the log monitor (gonk.client.monitor): signature, consistency with the
        checkpoint kept in `state_file`, the new events' chain and root, the inclusion of the
        watched events; then the new checkpoint is kept. LogRewritten if the log does not
        check out (the state file is left as it was)."""
        from .monitor import Monitor

        pinned = None if key is None else _verifier(key)
        return Monitor(self, state_file, pinned).run(watch)


__all__ = ["Annotations", "Dataset", "Events", "ExportFailed", "Objects", "Owners", "Releases",
           "Schemas"]
