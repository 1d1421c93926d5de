"""Releases on local disk: `Release.pull(folder)` and `Release.samples()`.

A pull writes exactly what `gonk-api export --format gonk` writes (the same code does it:
gonk.exporting.Export, with this module's `ClientSource` as its source), but every version's
bytes go through the client's content-addressed cache (gonk.client.cache): bytes already in the
cache, checked against the manifest's sha256, are never downloaded again; the others are
downloaded into the cache (checked, written atomically), then copied into the folder, where the
export checks them once more against the manifest. The manifest itself is cached under its
sha256 (the release's `manifest_sha256`), so a second pull of a release sends two small
requests (the release, and nothing else) and no bytes of any object.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import BlobCache
from .errors import ExportFailed, IntegrityError
from .http import Transport, segment
from .models import ManifestLine, PullSummary, ReleaseInfo, Sample, SampleAnnotation
from .resources import stream_chunks

if TYPE_CHECKING:
    from ..exporting import Entry
    from .resources import Dataset


class ClientSource:
    """A dataset on a server, as gonk.exporting's `Source`: a release, its manifest, each
    version's bytes (through `cache` when given), and diff pages."""

    def __init__(self, http: Transport, dataset: str, cache: BlobCache | None = None) -> None:
        self.http = http
        self.dataset = dataset
        self.base = f"/datasets/{segment(dataset)}"
        self.cache = cache
        self.known: dict[str, Any] = {}  # release name -> its JSON (manifest_sha256)
        self.downloaded = 0  # versions whose bytes came from the server
        self.downloaded_bytes = 0
        self.from_cache = 0  # versions whose bytes the cache held

    def release(self, name: str) -> dict[str, Any]:
        found = self.http.json("GET", self.base + f"/releases/{segment(name)}")
        if not isinstance(found, dict):
            raise ExportFailed(f"The server at {self.http.url} answered a release that is not "
                               "an object.")
        self.known[name] = found
        return found

    def manifest(self, name: str) -> Iterator[bytes]:
        expected = (self.known.get(name) or {}).get("manifest_sha256")
        if self.cache is not None and isinstance(expected, str):
            path = self.cache.get(expected)
            if path is None:
                answer = self.http.request(
                    "GET", self.base + f"/releases/{segment(name)}/manifest", stream=True)
                try:
                    path = self.cache.put(expected, None, stream_chunks(answer, "the manifest"))
                except IntegrityError as exc:
                    raise IntegrityError(f"The manifest of release {name}: {exc.message}") \
                        from None
            yield from self.cache.chunks(path)
            return
        answer = self.http.request("GET", self.base + f"/releases/{segment(name)}/manifest",
                                   stream=True)
        yield from stream_chunks(answer, "the manifest")

    def _bytes_path(self, entry: Entry) -> str:
        if entry.kind == "schema":
            from ..domain import validation

            if not isinstance(entry.name, str) or not validation.SCHEMA_NAME.fullmatch(
                    entry.name):
                raise ExportFailed(f"The manifest names schema {entry.uuid} {entry.name!r}, "
                                   "which is not a schema name.")
            return self.base + f"/schemas/{entry.name}/{entry.version}/bytes"
        return self.base + f"/{entry.kind}s/{entry.uuid}/{entry.version}/bytes"

    def _what(self, entry: Entry) -> str:
        return f"{entry.kind} {entry.uuid} version {entry.version}"

    def cached(self, entry: Entry, release: str) -> Path:
        """The version's bytes in the cache, downloaded first when the cache lacks them."""
        assert self.cache is not None
        path = self.cache.get(entry.sha256, entry.size)
        if path is not None:
            self.from_cache += 1
            return path
        answer = self.http.request("GET", self._bytes_path(entry), params={"as_of": release},
                                   stream=True)
        path = self.cache.put(entry.sha256, entry.size,
                              stream_chunks(answer, self._what(entry)))
        self.downloaded += 1
        self.downloaded_bytes += entry.size
        return path

    @contextlib.contextmanager
    def content(self, entry: Entry, release: str) -> Iterator[Iterator[bytes]]:
        if self.cache is not None:
            yield self.cache.chunks(self.cached(entry, release))
            return
        answer = self.http.request("GET", self._bytes_path(entry), params={"as_of": release},
                                   stream=True)
        chunks = stream_chunks(answer, self._what(entry))
        try:
            yield chunks
        finally:
            chunks.close()

    def diff_page(self, from_point: str, to_point: str | None, after: str | None,
                  limit: int) -> tuple[list[dict[str, Any]], str | None]:
        answer = self.http.request("GET", self.base + "/diff", params={
            "from": from_point, "to": to_point, "after": after, "limit": limit})
        try:
            page = answer.json()
        finally:
            answer.response.close()
        if not isinstance(page, list):
            raise ExportFailed(f"The server at {self.http.url} answered a diff that is not a "
                               "list.")
        return page, answer.response.headers.get("Gonk-Diff-To")


class Release:
    """A release of a dataset (`dataset.release("v1.0")`): a name for one point of its log.
    Nothing is sent until a method is called."""

    def __init__(self, dataset: Dataset, name: str) -> None:
        self.dataset = dataset
        self.name = name
        self._info: ReleaseInfo | None = None

    def __repr__(self) -> str:
        return f"Release({self.dataset.name!r}, {self.name!r})"

    def info(self) -> ReleaseInfo:
        """The release: its point (`at`), counts, manifest_sha256, author, description."""
        self._info = self.dataset.releases.get(self.name)
        return self._info

    def _source(self) -> ClientSource:
        return ClientSource(self.dataset.http, self.dataset.name, self.dataset.client.cache)

    def manifest(self) -> list[ManifestLine]:
        """The release's manifest, one line per version of its content (checked against
        manifest_sha256, kept in the cache)."""
        source = self._source()
        source.release(self.name)
        data = b"".join(source.manifest(self.name))
        return [ManifestLine.of(json.loads(line)) for line in data.splitlines() if line]

    def pull(self, folder: str | os.PathLike[str]) -> PullSummary:
        """Write the release into `folder` as `gonk-api export --format gonk` does
        (manifest.jsonl, objects/, schemas/, objects.jsonl, schemas.jsonl, annotations.jsonl),
        every file checked against the manifest's sha256, through the local cache: bytes
        already cached are not downloaded again, files already in the folder with the right
        sha256 are kept. Run it again to finish an interrupted pull."""
        from ..domain.errors import GonkError as DomainError
        from ..exporting import Export

        source = self._source()
        try:
            job = Export(source, self.dataset.name, self.name, Path(folder))
            done = job.run()
        except DomainError as exc:  # the export's own refusals (gonk.exporting.ExportError)
            raise ExportFailed(exc.message) from None
        return PullSummary(Path(folder), done.written, done.skipped, source.downloaded,
                           source.downloaded_bytes, source.from_cache, done.annotations,
                           list(done.renamed))

    def samples(self, folder: str | os.PathLike[str] | None = None) -> Iterator[Sample]:
        """Per object of the release, in manifest order: a local file holding its bytes
        (checked against the manifest) and the release's annotations attached to it, as
        Python objects. Without `folder` the files are the cache's own (read them, do not
        change them); with `folder` the release is pulled there first and the paths are
        its files."""
        from ..domain.errors import GonkError as DomainError
        from ..exporting import OBJECTS_FILE, parse_entry

        source = self._source()
        source.release(self.name)
        raw_lines = b"".join(source.manifest(self.name)).splitlines()
        try:
            entries = [parse_entry(raw) for raw in raw_lines if raw]
        except DomainError as exc:  # a line that is not a manifest's
            raise ExportFailed(exc.message) from None
        schema_names = {e.uuid: e.name for e in entries if e.kind == "schema"}
        attached: dict[tuple[str, int], list[SampleAnnotation]] = {}
        for entry in entries:
            if entry.kind != "annotation":
                continue
            path = source.cached(entry, self.name)
            document = json.loads(path.read_bytes())
            schema = entry.line.get("schema") or {}
            note = SampleAnnotation(entry.uuid, entry.version,
                                    schema_names.get(str(schema.get("uuid"))), document)
            for obj in entry.line.get("objects") or []:
                attached.setdefault((obj["uuid"], obj["version"]), []).append(note)
        paths: dict[str, Path] = {}
        if folder is not None:
            self.pull(folder)
            with open(Path(folder) / OBJECTS_FILE, "rb") as index:
                for line in index:
                    found = json.loads(line)
                    paths[found["uuid"]] = Path(folder) / found["path"]
        for entry in entries:
            if entry.kind != "object":
                continue
            path = paths.get(entry.uuid) or source.cached(entry, self.name)
            yield Sample(entry.uuid, entry.version, entry.name,
                         str(entry.line.get("mimetype", "")), entry.sha256, path,
                         attached.get((entry.uuid, entry.version), []))


__all__ = ["ClientSource", "Release"]
