"""`gonk-api import`: add every file under some paths as objects of a dataset, streaming.

Files whose bytes are already in the dataset (in a version that is neither rejected nor deleted)
are skipped, so an interrupted import can simply be run again. Works on a local data directory
(as a named user) or against a running server over HTTP (`--url`, `--key`).
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

import filetype

from .domain import validation
from .domain.errors import Conflict, GonkError
from .storage.blobs import CHUNK

if TYPE_CHECKING:
    import requests

    from .installation import Installation

TEXT_SNIFF_BYTES = 8192


def guess_mimetype(path: Path) -> str:
    """From the content's magic numbers first (reliable for binary formats), then the name
    (text formats have no magic), then whether the start reads as UTF-8 text."""
    kind = filetype.guess(str(path))
    if kind is not None:
        return kind.mime
    by_name, _ = mimetypes.guess_type(path.name)
    if by_name:
        return by_name
    with open(path, "rb") as handle:
        start = handle.read(TEXT_SNIFF_BYTES)
    try:
        start.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(start) - 3:  # not just a character cut at the end of the sample
            return "application/octet-stream"
    return "text/plain" if b"\x00" not in start else "application/octet-stream"


def file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    for chunk in file_chunks(path):
        hasher.update(chunk)
    return hasher.hexdigest()


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str  # the object name: the path relative to the folder given, with '/' separators
    size: int


def collect_files(paths: list[Path]) -> list[SourceFile]:
    """Every regular file under the given files and folders, in a stable (sorted) order."""
    found: list[SourceFile] = []
    for root in paths:
        if root.is_file():
            found.append(SourceFile(root, root.name, root.stat().st_size))
        elif root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                found.append(SourceFile(path, path.relative_to(root).as_posix(),
                                        path.stat().st_size))
        else:
            raise FileNotFoundError(f"No such file or folder: {root}")
    return found


class Target(Protocol):
    """Where objects go: a local installation or a remote server."""

    def existing(self, digest: str) -> bool: ...

    def create(self, source: SourceFile, mimetype: str) -> str:
        """Create the object; return its uuid. Raises GonkError when refused."""


@dataclass
class Summary:
    imported: int = 0
    imported_bytes: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        return (f"Imported {self.imported} files ({self.imported_bytes} bytes); skipped "
                f"{self.skipped} already in the dataset; {len(self.failed)} failed.")


def import_one(target: Target, source: SourceFile, summary: Summary) -> None:
    try:
        validation.object_name(source.name)
        if target.existing(sha256_of(source.path)):
            summary.skipped += 1
            return
        target.create(source, guess_mimetype(source.path))
    except Conflict as exc:
        if "existing" in exc.extra:  # same bytes added meanwhile (by another import)
            summary.skipped += 1
            return
        summary.failed.append((source.name, exc.message))
        return
    except (GonkError, OSError) as exc:
        summary.failed.append((source.name, getattr(exc, "message", None) or str(exc)))
        return
    summary.imported += 1
    summary.imported_bytes += source.size


# --- targets ------------------------------------------------------------------------------------


class LocalTarget:
    def __init__(self, installation: Installation, dataset: str, user: str) -> None:
        from . import queries

        self.installation, self.dataset, self.user = installation, dataset, user
        queries.list_owners(installation, dataset)  # 404 now, not once per file

    def existing(self, digest: str) -> bool:
        from .queries import objects_with_hash

        return bool(objects_with_hash(self.installation, self.dataset, digest))

    def create(self, source: SourceFile, mimetype: str) -> str:
        from . import service

        blob = service.store_stream(self.installation, self.dataset, file_chunks(source.path), None)
        result = service.create_object(self.installation, self.dataset, self.user, source.name,
                                       mimetype, blob)
        return result["uuid"]


class RemoteTarget:
    """A Gonk server, through its HTTP API (raw uploads, streamed from disk)."""

    def __init__(self, url: str, key: str, dataset: str, timeout: float = 300) -> None:
        import requests

        self.base = f"{url.rstrip('/')}/datasets/{quote(dataset)}"
        self.session = requests.Session()
        self.session.headers["x-api-key"] = key
        self.timeout = timeout
        try:
            response = self.session.get(f"{self.base}/owners", timeout=timeout)
        except requests.ConnectionError:
            raise GonkError(f"Cannot reach a Gonk server at {url}.") from None
        self._check(response)

    @staticmethod
    def _check(response: requests.Response) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = {"error": f"HTTP {response.status_code}: {response.text[:200]}"}
        if response.status_code != 200:
            error_class = {409: Conflict}.get(response.status_code, GonkError)
            message = body.get("error", str(body)) if isinstance(body, dict) else str(body)
            extra = {k: v for k, v in body.items() if k != "error"} if isinstance(body, dict) \
                else {}
            raise error_class(f"{response.status_code}: {message}", **extra)
        return body

    def existing(self, digest: str) -> bool:
        found = self._check(self.session.get(self.base + "/objects", params={"hash": digest},
                                             timeout=self.timeout))
        return bool(found)

    def create(self, source: SourceFile, mimetype: str) -> str:
        with open(source.path, "rb") as handle:
            response = self.session.post(self.base + "/objects", params={"name": source.name},
                                         data=handle, headers={"Content-Type": mimetype},
                                         timeout=self.timeout)
        return self._check(response)["uuid"]
