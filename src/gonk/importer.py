"""`gonk-api import`: add every file under some paths as objects of a dataset, streaming.

Files whose bytes are already in the dataset (in a version that is neither rejected nor deleted)
are skipped, so an interrupted import can simply be run again. Works on a local data directory
(as a named user) or against a running server over HTTP (`--url`, `--key`). Hidden files and
folders, and those matching `--exclude`, are left out (Selection); files whose names cannot be
object names are reported and skipped (storable_files), so that a re-run can succeed.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .domain import content_types, validation
from .domain.errors import Conflict, GonkError
from .files import file_chunks, sha256_of_file
from .remote import domain_errors

if TYPE_CHECKING:
    from .client import Client, Dataset
    from .installation import Installation


def guess_mimetype(path: Path) -> str:
    """From the content's magic numbers first (reliable for binary formats), then the name
    (text formats have no magic), then whether the start reads as UTF-8 text: the guess the
    API makes for uploads that do not say (domain/content_types.py), on the file's head."""
    with open(path, "rb") as handle:
        head = handle.read(content_types.HEAD_BYTES)
    return content_types.guess(head, path.name)


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str  # the object name: the path relative to the folder given, with '/' separators
    size: int


@dataclass
class Selection:
    """Which files under the folders given are imported, and how many were left out.

    Hidden files and folders (names starting with '.') are left out unless `include_hidden`;
    a file named on the command line itself is never hidden. Each `exclude` pattern (shell-style:
    `*`, `?`, `[...]`; case-sensitive; `*` also matches '/') leaves out every file and folder
    whose object name (the path relative to the folder given, '/'-separated) or whose own name
    matches it, with everything inside such a folder; a pattern ending in '/' matches folders
    only. So `*.tmp` leaves out every .tmp file at any depth, `cache` every file or folder named
    cache, `cache/` every folder named cache, and `raw/*` everything under the top folder raw.
    """

    include_hidden: bool = False
    exclude: tuple[str, ...] = ()
    hidden: int = 0  # files and folders left out for being hidden (a folder counts once)
    excluded: int = 0  # ... for matching an --exclude pattern
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # folders: (name, why)

    def __post_init__(self) -> None:
        for pattern in self.exclude:
            if not pattern.removeprefix("./").strip("/"):
                raise ValueError(f"--exclude {pattern!r} is not a pattern; give a name or a "
                                 "glob such as '*.tmp'.")

    def leaves_out(self, name: str, is_dir: bool, explicit: bool = False) -> bool:
        """Whether the file or folder with this object name is left out (and counted)."""
        base = name.rsplit("/", 1)[-1]
        if base.startswith(".") and not explicit and not self.include_hidden:
            self.hidden += 1
            return True
        for pattern in self.exclude:
            folders_only = pattern.endswith("/")
            pattern = pattern.removeprefix("./").strip("/")
            if folders_only and not is_dir:
                continue
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(base, pattern):
                self.excluded += 1
                return True
        return False


def collect_files(paths: list[Path], selection: Selection | None = None) -> list[SourceFile]:
    """Every regular file under the given files and folders that `selection` keeps (by default:
    every file that is not hidden), in a stable (sorted) order. Symbolic links to files are
    followed; links to folders are not descended into."""
    selection = selection or Selection()
    found: list[SourceFile] = []
    for root in paths:
        if root.is_file():
            if not selection.leaves_out(root.name, is_dir=False, explicit=True):
                found.append(SourceFile(root, root.name, root.stat().st_size))
        elif root.is_dir():
            found += sorted(_walk(root, selection), key=lambda f: f.name.split("/"))
        else:
            raise FileNotFoundError(f"No such file or folder: {root}")
    return found


def _walk(root: Path, selection: Selection) -> Iterator[SourceFile]:
    def unreadable(error: OSError) -> None:
        folder = Path(error.filename or root)
        name = "." if folder == root else folder.relative_to(root).as_posix()
        selection.unreadable.append((f"{name}/", f"cannot read this folder: {error.strerror}"))

    for folder, dirnames, filenames in os.walk(root, onerror=unreadable):
        prefix = Path(folder).relative_to(root).as_posix()
        prefix = "" if prefix == "." else prefix + "/"
        dirnames[:] = sorted(d for d in dirnames
                             if not selection.leaves_out(prefix + d, is_dir=True))
        for filename in sorted(filenames):
            path = Path(folder, filename)
            if path.is_file() and not selection.leaves_out(prefix + filename, is_dir=False):
                yield SourceFile(path, prefix + filename, path.stat().st_size)


def unstorable_reason(name: str) -> str | None:
    """Why a file's object name cannot be stored (None: it can): it is not UTF-8 text, or it
    breaks a rule of object names (validation.object_name), such as starting with 'schema-'."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "The name is not valid UTF-8 text."
    if len(name) > validation.MAX_OBJECT_NAME:
        return (f"Object names are at most {validation.MAX_OBJECT_NAME} characters; this one has "
                f"{len(name)}.")
    if validation.CONTROL_CHARACTERS.search(name):
        return "Object names may not contain control characters (such as a line break)."
    try:
        validation.object_name(name)  # every other rule (e.g. the 'schema-' prefix), as worded
    except GonkError as exc:
        return exc.message
    return None


def shown_name(name: str) -> str:
    """A file's name, printable on any terminal: bytes that are not UTF-8 as \\xNN and control
    characters escaped."""
    try:
        text = os.fsencode(name).decode("utf-8", "backslashreplace")
    except UnicodeError:
        text = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return validation.CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


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
    unstorable: list[tuple[str, str]] = field(default_factory=list)  # (name, why): skipped
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, why)

    def line(self) -> str:
        return (f"Imported {self.imported} files ({self.imported_bytes} bytes); skipped "
                f"{self.skipped} already in the dataset; {len(self.unstorable)} skipped (names "
                f"Gonk cannot store); {len(self.failed)} failed.")


def storable_files(files: list[SourceFile], summary: Summary,
                   strict: bool = False) -> list[SourceFile]:
    """The files whose names can be object names. The others are recorded in `summary` with
    the reason: as skipped, or with `strict` as failed."""
    kept = []
    for source in files:
        reason = unstorable_reason(source.name)
        if reason is None:
            kept.append(source)
        else:
            (summary.failed if strict else summary.unstorable).append((source.name, reason))
    return kept


def import_one(target: Target, source: SourceFile, summary: Summary) -> None:
    try:
        validation.object_name(source.name)
        if target.existing(sha256_of_file(source.path)):
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
    """A Gonk server, through gonk.Client (raw uploads, streamed from disk). The client's
    errors come out as the domain errors import_one handles (gonk.remote)."""

    def __init__(self, url: str, key: str, dataset: str) -> None:
        from .remote import open_client

        self.client: Client = open_client(url, key)
        self.dataset: Dataset = self.client.dataset(dataset)
        with domain_errors():
            self.dataset.owners.list()  # 404 now, not once per file

    @classmethod
    def of(cls, dataset: Dataset) -> RemoteTarget:
        """The target of a dataset handle of an existing client (Dataset.import_folder)."""
        target = cls.__new__(cls)
        target.client, target.dataset = dataset.client, dataset
        return target

    def existing(self, digest: str) -> bool:
        with domain_errors():
            return bool(self.dataset.objects.with_hash(digest))

    def create(self, source: SourceFile, mimetype: str) -> str:
        with domain_errors():
            return self.dataset.upload(source.path, source.name, mimetype).uuid
