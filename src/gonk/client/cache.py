"""The client's local, content-addressed cache of bytes (`~/.cache/gonk`, or `$GONK_CACHE`).

A file is kept under its sha256 and nothing else: `<root>/sha256/<first two hex>/<sha256>`.
No name, dataset, server or release is part of the key, so a pull of one release is correct
whatever other revisions the cache holds, and bytes shared by several releases (or datasets,
or servers) are downloaded once.

- **Checked on every use**: `get` hashes the cached file and gives it only when its size and
  sha256 are the ones asked for; a file that does not match (corrupted on disk, truncated,
  edited by hand) is removed, and the caller downloads it again.
- **Atomic writes**: `put` writes under `<root>/tmp/` (same file system), checks the size and
  sha256 while writing, flushes, then renames into place (`os.replace`). An interrupted or
  concurrent writer never leaves a partial file under a final name; two processes filling
  the same entry both end with the same bytes.

The cache only grows; remove the folder (or any file in it) at any time to reclaim space.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..files import file_chunks, sha256_of_file
from .errors import IntegrityError

CACHE_ENV = "GONK_CACHE"
CHUNK = 1024 * 1024


def default_root() -> Path:
    """$GONK_CACHE, else $XDG_CACHE_HOME/gonk, else ~/.cache/gonk."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gonk"


def is_sha256(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(
        c in "0123456789abcdef" for c in text)


class BlobCache:
    """Bytes on local disk, by sha256 (see the module's docstring)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()

    def path(self, sha256: str) -> Path:
        """Where the bytes of this sha256 are kept (whether or not they are there)."""
        if not is_sha256(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    def get(self, sha256: str, size: int | None = None) -> Path | None:
        """The cached file holding exactly these bytes, or None. A file under that key whose
        bytes do not match is removed (it will be downloaded again)."""
        path = self.path(sha256)
        try:
            found = path.stat().st_size
        except (FileNotFoundError, NotADirectoryError):
            return None
        if (size is None or found == size) and sha256_of_file(path) == sha256:
            return path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None

    def put(self, sha256: str, size: int | None, chunks: Iterable[bytes]) -> Path:
        """Store the bytes `chunks` gives under `sha256`; IntegrityError (and nothing kept)
        when they are not `size` bytes with that sha256."""
        final = self.path(sha256)
        temp_root = self.root / "tmp"
        temp_root.mkdir(parents=True, exist_ok=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=temp_root, prefix=sha256[:16] + "-",  # noqa: SIM115
                                             delete=False)
        temp = Path(handle.name)
        try:
            digest, count = hashlib.sha256(), 0
            with handle:
                for chunk in chunks:
                    count += len(chunk)
                    if size is not None and count > size:
                        break
                    digest.update(chunk)
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            if (size is not None and count != size) or digest.hexdigest() != sha256:
                got = (f"more than {size} bytes" if size is not None and count > size
                       else f"{count} bytes with sha256 {digest.hexdigest()}")
                raise IntegrityError(f"Downloaded {got}, not the expected "
                                     f"{'' if size is None else f'{size} bytes with '}sha256 "
                                     f"{sha256}; nothing was kept.")
            os.replace(temp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return final

    def chunks(self, path: Path) -> Iterator[bytes]:
        """A cached file's bytes, in chunks."""
        return file_chunks(path)
