"""`gonk-api export` and `gonk-api diff`: a release written out as plain files, and the changes
between two points, read from a local installation or from a server over HTTP.

An export of release R of a dataset into a folder DIR writes:

    manifest.jsonl      the release's manifest, byte for byte (its sha256 is the release's
                        manifest_sha256); written last, so its presence means the export finished
    objects/<name>      each object's bytes, under its name when that is a safe path (below)
    schemas/<name>.json each schema's document
    objects.jsonl       one line per object: its manifest line plus "path", the file's path
                        relative to DIR ('/'-separated)
    schemas.jsonl       the same for schemas
    annotations.jsonl   one line per annotation: its manifest line plus "annotation", the
                        annotation's JSON document itself

Every line written is canonical JSON (RFC 8785; a line holding an integer beyond +-(2**53 - 1),
which RFC 8785 cannot represent, is written with sorted keys and compact separators instead),
in manifest order, so two exports of one release are identical file for file.

**Paths** (PathPlanner): an object keeps its name as its path under objects/ when the name is a
safe relative path (unsafe_reason) and does not clash with an earlier object of the manifest;
otherwise it is written as `objects/_gonk_renamed/<uuid>.<version>[.<ext>]`, <ext> being the
name's text after its last '.' when that is 1 to 16 ASCII letters and digits. Schemas likewise:
`schemas/<schema name>.json`, or `schemas/_gonk_renamed/<uuid>.<version>.json`.

**Safety**: nothing is written outside DIR: a path is only ever a checked name or a uuid and a
number, and the export refuses to write through a symbolic link found inside DIR. Every file is
first written in DIR/.gonk-export-tmp/ and renamed into place (os.replace) once its size and
sha256 match the manifest: an interrupted export leaves no partial file under a final name, and
a file that does not match is never kept. The files are flushed to disk (os.sync) before the
manifest is put in place.

**Resuming**: a file already in place with the manifest's size and sha256 is skipped, so an
interrupted export is finished by running the same command again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import rfc8785

from .domain import validation
from .domain.errors import GonkError
from .files import sha256_of_file
from .remote import domain_errors

if TYPE_CHECKING:
    from .installation import Installation

RESERVED_FOLDER = "_gonk_renamed"
"""Under objects/ and schemas/: where items whose names cannot be paths are written."""
TEMP_FOLDER = ".gonk-export-tmp"
"""Under DIR: files being written; emptied at the start of an export, removed at its end."""
MANIFEST_FILE = "manifest.jsonl"
OBJECTS_FILE = "objects.jsonl"
SCHEMAS_FILE = "schemas.jsonl"
ANNOTATIONS_FILE = "annotations.jsonl"
KIND_FOLDERS = {"object": "objects", "schema": "schemas"}
DIFF_PAGE = 1000  # the API's largest ?limit=
KINDS = ("schema", "object", "annotation")  # a manifest's and a diff's order


class ExportError(GonkError):
    """An export or diff that cannot go on; the message says why and what to do."""


# --- paths -------------------------------------------------------------------------------------

MAX_COMPONENT_BYTES = 255
WINDOWS_RESERVED = frozenset('<>:"|?*\\')
DEVICE_NAMES = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?", re.IGNORECASE)
EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,16})\Z")
# A component of printable ASCII without the reserved characters: no character of it needs the
# per-character checks (control characters are outside this range).
PLAIN_COMPONENT = re.compile(r"[ !#-)+-.0-9;=@-\[\]-{}~]+")


def unsafe_reason(name: object) -> str | None:
    """Why `name` cannot be a file's path relative to a folder, on any common file system (None:
    it can): it must be non-empty text, '/'-separated components, each of them

    - not empty (so no leading '/', no trailing '/', no '//'), not '.' and not '..';
    - free of control characters (U+0000 to U+001F, U+007F to U+009F), of the backslash and of
      the characters Windows reserves: < > : " | ? *;
    - at most 255 bytes in UTF-8 (and the name valid UTF-8 text);
    - not ending with '.' or ' ';
    - not a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9; alone or before a dot,
      such as con.txt), in any case;

    and the first component must not be the reserved folder _gonk_renamed (in any case)."""
    if not isinstance(name, str) or not name:
        return "the name is empty"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the name is not valid UTF-8 text"
    if name.startswith("/"):
        return "the name starts with '/'"
    parts = name.split("/")
    if fold_name(parts[0]) == fold_name(RESERVED_FOLDER):
        return f"the name's first folder is {RESERVED_FOLDER}, reserved for renamed files"
    for part in parts:
        if not part:
            return "the name has an empty component ('//' or a trailing '/')"
        if part in (".", ".."):
            return f"the name has a {part!r} component"
        plain = PLAIN_COMPONENT.fullmatch(part) is not None
        for char in () if plain else part:
            if unicodedata.category(char) == "Cc":
                return "the name holds a control character"
            if char in WINDOWS_RESERVED:
                return f"the name holds {char!r}, which Windows does not allow in file names"
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            return f"a component of the name is longer than {MAX_COMPONENT_BYTES} bytes"
        if part[-1] in ". ":
            return "a component of the name ends with '.' or ' '"
        if DEVICE_NAMES.fullmatch(part):
            return f"{part!r} is a Windows device name"
    return None


def fold_name(text: str) -> str:
    """The form two names are compared in: case-folded and NFC-normalised, so that names that
    one case-insensitive or normalising file system (Windows, macOS) takes for one are one."""
    if text.isascii():
        return text.lower()  # (ASCII text is NFC already, and folds as it lowers)
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def renamed_path(name: object, uuid: str, version: int) -> str:
    """`_gonk_renamed/<uuid>.<version>[.<ext>]`: <ext> is the name's text after its last '.'
    when that is 1 to 16 ASCII letters and digits (kept as it is, case included)."""
    found = EXTENSION.search(name) if isinstance(name, str) else None
    extension = f".{found.group(1)}" if found else ""
    return f"{RESERVED_FOLDER}/{uuid}.{version}{extension}"


@dataclass(frozen=True)
class Placement:
    path: str  # relative to the kind's folder, '/'-separated
    renamed: str | None = None  # why the name was not kept (None: it was)


class PathPlanner:
    """The paths of the items of one folder (objects/ or schemas/), given in manifest order: a
    name is kept when it is safe (unsafe_reason) and no earlier item took it, in any case or
    normalisation, or took a folder it needs as a file (`a` then `a/b`) or a file it needs as a
    folder (`a/b` then `a`); otherwise the item is renamed (renamed_path). The first item in
    the manifest (the oldest) keeps a contested name."""

    def __init__(self) -> None:
        self._files: set[str] = set()
        self._folders: set[str] = set()

    def place(self, name: object, uuid: str, version: int) -> Placement:
        reason = unsafe_reason(name)
        if reason is None:
            assert isinstance(name, str)
            keys = [fold_name(part) for part in name.split("/")]
            whole = "/".join(keys)
            folders = ["/".join(keys[:i]) for i in range(1, len(keys))]
            if whole in self._files:
                reason = "an earlier item has the same path, ignoring case"
            elif whole in self._folders:
                reason = "an earlier item's path has a folder of this name"
            elif any(folder in self._files for folder in folders):
                reason = "an earlier item's path is a file where this one needs a folder"
            else:
                self._files.add(whole)
                self._folders.update(folders)
                return Placement(name)
        return Placement(renamed_path(name, uuid, version), reason)


# --- sources -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of a manifest, checked (a server's answer is never trusted to be a path)."""

    line: dict[str, Any]
    kind: str
    uuid: str
    version: int
    name: Any
    size: int
    sha256: str


def parse_entry(raw: bytes) -> Entry:
    try:
        line = json.loads(raw)
    except ValueError:
        raise ExportError("The manifest holds a line that is not JSON.") from None
    ok = (isinstance(line, dict) and line.get("kind") in KINDS
          and validation.is_uuid(line.get("uuid"))
          and _whole(line.get("version")) and _whole(line.get("size"))
          and validation.is_sha256(line.get("sha256")))
    if not ok:
        raise ExportError(f"The manifest holds a line Gonk does not understand: "
                          f"{raw[:200].decode('utf-8', 'replace')}")
    return Entry(line, line["kind"], line["uuid"].lower(), line["version"], line.get("name"),
                 line["size"], line["sha256"])


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class Source(Protocol):
    """Where a release is read from: a local installation or a server."""

    def release(self, name: str) -> dict[str, Any]: ...

    def manifest(self, name: str) -> Iterator[bytes]: ...

    def content(self, entry: Entry, release: str) -> contextlib.AbstractContextManager[
            Iterator[bytes]]:
        """The version's bytes, in chunks (closed when the context ends)."""

    def diff_page(self, from_point: str, to_point: str | None, after: str | None,
                  limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """A page of changes, and the `to` point's event uuid when the source says it."""


class LocalSource:
    """The installation's database and blob store (bytes are read by their sha256)."""

    def __init__(self, installation: Installation, dataset: str) -> None:
        self.installation, self.dataset = installation, dataset

    def release(self, name: str) -> dict[str, Any]:
        from .releases import get_release

        return get_release(self.installation, self.dataset, validation.release_name(name))

    def manifest(self, name: str) -> Iterator[bytes]:
        from .releases import release_manifest

        return release_manifest(self.installation, self.dataset, name)[1]

    @contextlib.contextmanager
    def content(self, entry: Entry, release: str) -> Iterator[Iterator[bytes]]:
        try:
            stream = self.installation.blobs.read_range(entry.sha256, 0, entry.size - 1)
        except FileNotFoundError:
            raise ExportError(f"The stored bytes of {entry.kind} {entry.uuid} version "
                              f"{entry.version} (sha256 {entry.sha256}) are missing from the "
                              "blob store.") from None
        try:
            yield stream
        finally:
            stream.close()

    def diff_page(self, from_point: str, to_point: str | None, after: str | None,
                  limit: int) -> tuple[list[dict[str, Any]], str | None]:
        from .releases import diff_page_to

        return diff_page_to(self.installation, self.dataset, from_point, to_point, after,
                            limit)


class RemoteSource:
    """A Gonk server, through gonk.Client (downloads streamed; gonk.client.pull's
    ClientSource without a cache), its errors as the domain errors the commands print."""

    def __init__(self, url: str, key: str, dataset: str) -> None:
        from .client.pull import ClientSource
        from .remote import open_client

        self.url = url
        self.client = open_client(url, key)
        self.source = ClientSource(self.client.http, dataset)

    def release(self, name: str) -> dict[str, Any]:
        with domain_errors(ExportError):
            return self.source.release(validation.release_name(name))

    def manifest(self, name: str) -> Iterator[bytes]:
        with domain_errors(ExportError):
            yield from self.source.manifest(name)

    @contextlib.contextmanager
    def content(self, entry: Entry, release: str) -> Iterator[Iterator[bytes]]:
        with domain_errors(ExportError), self.source.content(entry, release) as chunks:
            yield _translated(chunks)

    def diff_page(self, from_point: str, to_point: str | None, after: str | None,
                  limit: int) -> tuple[list[dict[str, Any]], str | None]:
        with domain_errors(ExportError):
            return self.source.diff_page(from_point, to_point, after, limit)


def _translated(chunks: Iterator[bytes]) -> Iterator[bytes]:
    with domain_errors(ExportError):
        yield from chunks


# --- canonical JSON ---------------------------------------------------------------------------


def canonical_line(value: Any) -> bytes:
    """`value` as one line of canonical JSON (RFC 8785), with its newline. RFC 8785 cannot hold
    integers beyond +-(2**53 - 1): a value with one is written with sorted keys, compact
    separators and no ASCII escapes instead (its integers exact)."""
    try:
        return rfc8785.dumps(value) + b"\n"
    except rfc8785.IntegerDomainError:
        return (json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                + "\n").encode("utf-8")


# --- export ------------------------------------------------------------------------------------


@dataclass
class ExportSummary:
    written: int = 0  # object and schema files downloaded and put in place
    written_bytes: int = 0
    skipped: int = 0  # already in place with the right sha256
    annotations: int = 0
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # (name, path, why)
    strays: int = 0  # files under objects/ and schemas/ that are not in the release

    def line(self, release: str, dataset: str, out: Path) -> str:
        return (f"Exported release {release} of {dataset} to {out}: {self.written} files "
                f"written ({self.written_bytes} bytes), {self.skipped} skipped (already "
                f"there), {self.annotations} annotations; {len(self.renamed)} renamed.")


class Export:
    """One export of a release into a folder; `run` does it (the release is read first, so a
    caller can size a progress bar from `total_bytes`)."""

    def __init__(self, source: Source, dataset: str, release: str, out: Path) -> None:
        self.source, self.dataset, self.release_name = source, dataset, release
        self.release = source.release(release)
        counts = self.release.get("counts")
        expected = self.release.get("manifest_sha256")
        if not isinstance(counts, dict) or not validation.is_sha256(expected):
            raise ExportError("The release has no counts or manifest_sha256.")
        self.manifest_sha256 = str(expected)
        self.total_bytes = int(counts.get("bytes") or 0)
        if out.exists() and not out.is_dir():
            raise ExportError(f"{out} exists and is not a folder.")
        out.mkdir(parents=True, exist_ok=True)
        self.out = out.resolve()
        self.summary = ExportSummary()
        self.progress: Callable[[int], None] = lambda n: None

    def run(self, progress: Callable[[int], None] | None = None) -> ExportSummary:
        """Write the export; `progress` is told each number of bytes done."""
        if progress is not None:
            self.progress = progress
        temp = self._temp_folder()
        manifest = temp / MANIFEST_FILE
        self._fetch_manifest(manifest)
        self._forget_other_release()
        planners = {"object": PathPlanner(), "schema": PathPlanner()}
        in_place: set[str] = set()
        seen: set[str] = set()
        with contextlib.ExitStack() as stack:
            indexes = {kind: stack.enter_context(open(temp / name, "wb"))
                       for kind, name in (("schema", SCHEMAS_FILE), ("object", OBJECTS_FILE),
                                          ("annotation", ANNOTATIONS_FILE))}
            with open(manifest, "rb") as lines:
                for raw in lines:
                    entry = parse_entry(raw)
                    if entry.uuid in seen:
                        raise ExportError(f"The manifest lists {entry.uuid} twice.")
                    seen.add(entry.uuid)
                    if entry.kind == "annotation":
                        indexes["annotation"].write(self._annotation(entry))
                        continue
                    folder = KIND_FOLDERS[entry.kind]
                    name = entry.name
                    if entry.kind == "schema":
                        name = f"{name}.json" if isinstance(name, str) else None
                    placed = planners[entry.kind].place(name, entry.uuid, entry.version)
                    relative = f"{folder}/{placed.path}"
                    if placed.renamed is not None:
                        self.summary.renamed.append((str(entry.name), relative, placed.renamed))
                    self._put(entry, relative)
                    in_place.add(relative)
                    indexes[entry.kind].write(canonical_line({**entry.line, "path": relative}))
            for index in indexes.values():
                _sync(index)
        if hasattr(os, "sync"):  # every file on disk before the manifest says the export is done
            os.sync()
        for name in (SCHEMAS_FILE, OBJECTS_FILE, ANNOTATIONS_FILE, MANIFEST_FILE):
            self._replace(temp / name, name)
        with contextlib.suppress(OSError):
            temp.rmdir()
        self.summary.strays = self._strays(in_place)
        return self.summary

    # - the pieces -

    def _forget_other_release(self) -> None:
        """DIR holding a finished export of another release (or another manifest): its
        manifest and index files go before any of its files is overwritten, so that an
        interrupted export never leaves a manifest.jsonl that does not describe DIR."""
        final = self.out / MANIFEST_FILE
        if not final.is_file() or sha256_of_file(final) == self.manifest_sha256:
            return
        for name in (MANIFEST_FILE, OBJECTS_FILE, SCHEMAS_FILE, ANNOTATIONS_FILE):
            (self.out / name).unlink(missing_ok=True)
        os.sync()

    def _temp_folder(self) -> Path:
        return fresh_temp_folder(self.out)

    def _fetch_manifest(self, target: Path) -> None:
        digest = hashlib.sha256()
        with open(target, "wb") as handle:
            for chunk in self.source.manifest(self.release_name):
                digest.update(chunk)
                handle.write(chunk)
            _sync(handle)
        if digest.hexdigest() != self.manifest_sha256:
            target.unlink()
            raise ExportError(f"The manifest of release {self.release_name} has sha256 "
                              f"{digest.hexdigest()}, not the release's manifest_sha256 "
                              f"{self.manifest_sha256}; nothing more was written.")

    def _put(self, entry: Entry, relative: str) -> None:
        """The version's bytes at DIR/relative: kept if they are there already."""
        final = self._target(relative)
        try:
            found = final.lstat()
        except (FileNotFoundError, NotADirectoryError):  # (_make_folders says what is in the way)
            found = None
        if found is not None:
            if not stat.S_ISREG(found.st_mode):
                raise ExportError(f"{final} is in the way (not a file); move it away and run "
                                  "the export again.")
            if found.st_size == entry.size and sha256_of_file(final) == entry.sha256:
                self.summary.skipped += 1
                self.progress(entry.size)
                return
        self._make_folders(relative)
        temp = self.out / TEMP_FOLDER / f"{entry.kind}-{entry.uuid}-{entry.version}"
        digest, size = hashlib.sha256(), 0
        flags = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_BINARY", 0))
        try:
            with open(os.open(temp, flags, 0o666), "wb") as handle:
                with self.source.content(entry, self.release_name) as chunks:
                    for chunk in chunks:
                        size += len(chunk)
                        if size > entry.size:
                            break
                        digest.update(chunk)
                        handle.write(chunk)
                        self.progress(len(chunk))
            if size != entry.size or digest.hexdigest() != entry.sha256:
                got = (f"more than {entry.size} bytes" if size > entry.size
                       else f"{size} bytes with sha256 {digest.hexdigest()}")
                raise ExportError(f"{relative}: the bytes of {entry.kind} {entry.uuid} version "
                                  f"{entry.version} read as {got}, not the manifest's "
                                  f"{entry.size} bytes with sha256 {entry.sha256}; the file was "
                                  "not kept.")
            self._target(relative)  # no link was put in the way meanwhile
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        self.summary.written += 1
        self.summary.written_bytes += size

    def _annotation(self, entry: Entry) -> bytes:
        """The annotation's line of annotations.jsonl (its bytes checked, then parsed)."""
        data = bytearray()
        with self.source.content(entry, self.release_name) as chunks:
            for chunk in chunks:
                data += chunk
                if len(data) > entry.size:
                    break
        if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
            raise ExportError(f"The bytes of annotation {entry.uuid} version {entry.version} "
                              f"do not match the manifest's size {entry.size} and sha256 "
                              f"{entry.sha256}.")
        self.progress(entry.size)
        try:
            document = json.loads(bytes(data))
        except ValueError:
            raise ExportError(f"Annotation {entry.uuid} version {entry.version} is not "
                              "JSON.") from None
        self.summary.annotations += 1
        return canonical_line({**entry.line, "annotation": document})

    def _target(self, relative: str) -> Path:
        return checked_target(self.out, relative)

    def _make_folders(self, relative: str) -> None:
        make_folders(self.out, relative)

    def _replace(self, temp: Path, name: str) -> None:
        final = self._target(name)
        if final.exists() and final.is_dir():
            raise ExportError(f"{final} is a folder, in the way of the export's {name}.")
        os.replace(temp, final)

    def _strays(self, in_place: set[str]) -> int:
        """Files under objects/ and schemas/ that this release does not hold (left as they are:
        the folder held something else before)."""
        count = 0
        for folder in KIND_FOLDERS.values():
            top = self.out / folder
            if not top.is_dir() or top.is_symlink():
                continue
            for where, _, files in os.walk(top):
                base = Path(where).relative_to(self.out).as_posix()
                count += sum(1 for f in files if f"{base}/{f}" not in in_place)
        return count


def checked_target(out: Path, relative: str) -> Path:
    """out/relative, after checking that no component of it that exists inside `out` is a
    symbolic link (a link would lead the write out of `out`)."""
    path = out
    for part in relative.split("/"):
        path = path / part
        try:
            if stat.S_ISLNK(path.lstat().st_mode):
                raise ExportError(f"{path} is a symbolic link; the export does not write "
                                  f"through links (to {relative}). Remove it and run the "
                                  "export again.")
        except (FileNotFoundError, NotADirectoryError):
            break
    return out / relative


def fresh_temp_folder(out: Path) -> Path:
    """out/.gonk-export-tmp, emptied of what an interrupted export left there."""
    temp = checked_target(out, TEMP_FOLDER)
    if temp.exists() and not temp.is_dir():
        raise ExportError(f"{temp} is in the way of the export's own files; remove it.")
    temp.mkdir(exist_ok=True)
    for leftover in temp.iterdir():
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    return temp


def make_folders(out: Path, relative: str) -> None:
    """The folders of out/relative, made where missing (an error names a file in the way)."""
    path = out
    for part in relative.split("/")[:-1]:
        path = path / part
        try:
            path.mkdir()
        except FileExistsError:
            if not stat.S_ISDIR(path.lstat().st_mode):
                raise ExportError(f"{path} is in the way (a file where {relative} needs a "
                                  "folder); move it away and run the export again.") from None




def _sync(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


# --- diff ----------------------------------------------------------------------------------------


@dataclass
class DiffSummary:
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: {
        kind: {"added": 0, "removed": 0, "changed": 0} for kind in KINDS})

    def add(self, change: dict[str, Any]) -> None:
        self.counts[change["kind"]][change["change"]] += 1

    def line(self) -> str:
        return "; ".join(f"{kind}s: {c['added']} added, {c['removed']} removed, "
                         f"{c['changed']} changed" for kind, c in self.counts.items())


def diff_changes(source: Source, from_point: str, to_point: str | None) -> Iterator[dict[str, Any]]:
    """Every change between the two points, page after page, in the API's order (schemas,
    objects, annotations; each in creation order)."""
    after: str | None = None
    while True:
        page, resolved = source.diff_page(from_point, to_point, after, DIFF_PAGE)
        if to_point is None and resolved is not None:
            to_point = resolved  # "the latest event" stays the same point on every page
        for change in page:
            if (not isinstance(change, dict) or change.get("kind") not in KINDS
                    or change.get("change") not in ("added", "removed", "changed")):
                raise ExportError(f"The diff holds a change Gonk does not understand: "
                                  f"{str(change)[:200]}")
            yield change
        if len(page) < DIFF_PAGE:
            return
        after = page[-1]["uuid"]


def change_line(change: dict[str, Any]) -> str:
    """`added object <uuid> v0 cat.jpg`, `changed object <uuid> v0 -> v1 cat.jpg` (a renamed
    one: `old.jpg -> new.jpg`), `removed annotation <uuid> v2`."""
    old, new = change.get("from") or {}, change.get("to") or {}
    what, kind, item = change["change"], change["kind"], change["uuid"]
    if what == "added":
        return f"added {kind} {item} v{new.get('version')}{_shown(new.get('name'))}"
    if what == "removed":
        return f"removed {kind} {item} v{old.get('version')}{_shown(old.get('name'))}"
    names = _shown(new.get("name"))
    if old.get("name") != new.get("name"):
        names = f"{_shown(old.get('name'))} ->{_shown(new.get('name'))}"
    return f"changed {kind} {item} v{old.get('version')} -> v{new.get('version')}{names}"


def _shown(name: object) -> str:
    """' <name>' with control characters escaped, or '' for an item without a name."""
    if not isinstance(name, str) or not name:
        return ""
    return " " + validation.CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", name)


def write_diff(source: Source, from_point: str, to_point: str | None,
               echo: Callable[[str], None]) -> DiffSummary:
    """The summary line, then one line per change. The lines wait in a temporary file while
    the pages are read (the summary comes first), so memory stays flat on any diff."""
    summary = DiffSummary()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as held:
        for change in diff_changes(source, from_point, to_point):
            summary.add(change)
            held.write(change_line(change) + "\n")
        echo(summary.line())
        held.seek(0)
        for line in held:
            echo(line.rstrip("\n"))
    return summary
