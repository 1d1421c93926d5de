"""Where an export's files go: a folder (`gonk-api export --format`), or a zip archive streamed
as it is built (the HTTP export route), never assembled on disk or in memory first.

**Zip archives are reproducible**: the entries come in the export's fixed order, each dated
1980-01-01 00:00 (the earliest time a zip can hold) with permissions rw-r--r--; object files
are stored as they are (images are compressed already), the format's files deflated. The
archive is written to a stream that cannot seek, so each entry's sizes and CRC follow its
data (a "data descriptor"); entries of unknown size carry Zip64 sizes, so no file is too large.

**Folders**: each file is written in DIR/.gonk-export-tmp/ and renamed into place, after
checking the sha256 of object files against the content's; an object file already in place
with the right sha256 is kept, so an interrupted export is finished by running it again. No
file is written through a symbolic link (exporting.checked_target). The report,
export-report.json, is written last, after every other file is flushed to disk: its presence
means the export is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..exporting import (
    ExportError,
    checked_target,
    fresh_temp_folder,
    make_folders,
    unsafe_reason,
)
from ..files import sha256_of_file
from .export import REPORT_FILE, OutputFile

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_CHUNK = 1024 * 1024  # bytes gathered before a write to the client


class _Sink:
    """A write-only stream that keeps what is written until `take` (zipfile writes into it)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


def zip_stream(files: Iterable[OutputFile]) -> Iterator[bytes]:
    """The zip archive of `files`, in chunks of about ZIP_CHUNK bytes, built as it is read."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w") as archive:  # type: ignore[call-overload]
        for output in files:
            info = zipfile.ZipInfo(output.path, date_time=ZIP_EPOCH)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED if output.compress else zipfile.ZIP_STORED
            if output.size is not None:
                info.file_size = output.size
            with archive.open(info, "w", force_zip64=output.size is None) as entry:
                for chunk in output.chunks():
                    entry.write(chunk)
                    if sink.size >= ZIP_CHUNK:
                        yield sink.take()
        # (the central directory is written when the archive closes)
    if sink.size:
        yield sink.take()


@dataclass
class FolderSummary:
    written: int = 0
    written_bytes: int = 0
    kept: int = 0  # object files already in place with the right sha256


def write_folder(files: Iterable[OutputFile], out: Path,
                 progress: Callable[[int], None] | None = None) -> FolderSummary:
    """Write `files` into the folder `out` (created if missing). `progress` is told the bytes
    of each chunk written or kept."""
    tell = progress or (lambda n: None)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder.")
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    temp = fresh_temp_folder(out)
    checked_target(out, REPORT_FILE).unlink(missing_ok=True)  # (not complete until the end)
    summary = FolderSummary()
    report: Path | None = None
    for number, output in enumerate(files):
        reason = unsafe_reason(output.path)
        if reason is not None:
            raise ExportError(f"The export holds a file that cannot be a path: {output.path!r} "
                              f"({reason}).")
        final = checked_target(out, output.path)
        if output.sha256 is not None and _in_place(final, output):
            summary.kept += 1
            tell(output.size or 0)
            continue
        make_folders(out, output.path)
        spooled = temp / f"{number}"
        _write(spooled, output, tell)
        checked_target(out, output.path)  # no link was put in the way meanwhile
        if output.path == REPORT_FILE:
            report = spooled  # put in place last, once everything is on disk
            continue
        if final.is_dir() and not final.is_symlink():
            raise ExportError(f"{final} is a folder, in the way of the export's {output.path}.")
        os.replace(spooled, final)
        summary.written += 1
        summary.written_bytes += output.size or spooled_size(final)
    if hasattr(os, "sync"):
        os.sync()
    if report is not None:
        os.replace(report, checked_target(out, REPORT_FILE))
        summary.written += 1
    with contextlib.suppress(OSError):
        temp.rmdir()
    return summary


def spooled_size(path: Path) -> int:
    return path.stat().st_size


def _in_place(final: Path, output: OutputFile) -> bool:
    try:
        found = final.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    if not stat.S_ISREG(found.st_mode):
        raise ExportError(f"{final} is in the way (not a file); move it away and run the "
                          "export again.")
    return found.st_size == output.size and sha256_of_file(final) == output.sha256


def _write(path: Path, output: OutputFile, tell: Callable[[int], None]) -> None:
    digest, size = hashlib.sha256(), 0
    flags = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
             | getattr(os, "O_BINARY", 0))
    handle: IO[bytes]
    with open(os.open(path, flags, 0o666), "wb") as handle:
        for chunk in output.chunks():
            size += len(chunk)
            digest.update(chunk)
            handle.write(chunk)
            tell(len(chunk))
    if output.sha256 is not None and (size != output.size
                                      or digest.hexdigest() != output.sha256):
        path.unlink()
        raise ExportError(f"{output.path}: the stored bytes read as {size} bytes with sha256 "
                          f"{digest.hexdigest()}, not the content's {output.size} bytes with "
                          f"sha256 {output.sha256}; the file was not kept.")


def zip_entries(archive: zipfile.ZipFile) -> Iterator[OutputFile]:
    """The files of a zip archive an export route sent, to write into a folder."""
    for info in archive.infolist():
        if info.is_dir():
            continue

        def chunks(info: zipfile.ZipInfo = info) -> Iterator[bytes]:
            with archive.open(info) as entry:
                while chunk := entry.read(ZIP_CHUNK):
                    yield chunk
        yield OutputFile(info.filename, chunks)
