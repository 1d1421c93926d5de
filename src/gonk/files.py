"""Local files read in chunks, and their sha256: what `gonk-api import`, `export`, the label
formats and the client's cache share. (Needs nothing else of Gonk, so the client can use it.)"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1024 * 1024
"""Bytes read at a time: large files never sit whole in memory."""


def file_chunks(path: Path) -> Iterator[bytes]:
    """The file's bytes, CHUNK at a time."""
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def sha256_of_file(path: Path) -> str:
    """The hex sha256 of the file's bytes."""
    digest = hashlib.sha256()
    for chunk in file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()
