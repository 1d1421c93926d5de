"""Content-addressed blob storage: bytes stored under their sha256, so a blob never changes.

Two stores share one interface (BlobStore): LocalBlobStore keeps blobs as files in a directory,
S3BlobStore (storage/blobs/s3.py) as objects in an S3-compatible bucket. `open_blob_store` picks
one from a URL. Either way a blob is durably stored before the transaction that references it
commits. A blob that no committed event references is garbage, not corruption (`gonk-api gc`
removes it, through `collect`, which never removes a blob that a committed event references).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .local import LocalBlobStore
from .store import (
    CHUNK,
    UPLOAD_PREFIX,
    BlobStat,
    BlobStore,
    BlobStoreUnavailable,
    BlobTooLarge,
    ChunkStream,
    MeasuredStream,
    StoredBlob,
    check_range,
    is_digest,
    sha256_hex,
)

__all__ = [
    "CHUNK",
    "UPLOAD_PREFIX",
    "BlobStat",
    "BlobStore",
    "BlobStoreUnavailable",
    "BlobTooLarge",
    "ChunkStream",
    "LocalBlobStore",
    "MeasuredStream",
    "StoredBlob",
    "check_range",
    "is_digest",
    "open_blob_store",
    "sha256_hex",
]


def open_blob_store(url: str | None, data_dir: Path) -> BlobStore:
    """The blob store a URL names:

    - None or "": files under <data_dir>/blobs (the default);
    - file:///absolute/path: files under that directory;
    - s3://bucket or s3://bucket/prefix: objects in an S3-compatible bucket, through boto3, which
      takes the endpoint, credentials and region from the standard AWS_* environment variables
      (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION) or its
      configuration files.

    Raises ValueError for any other URL, BlobStoreUnavailable if boto3 is not installed. Nothing
    is contacted here: `check()` does that."""
    if not url:
        return LocalBlobStore(Path(data_dir) / "blobs")
    parts = urlsplit(url)
    plain = not (parts.query or parts.fragment)
    if parts.scheme == "file" and plain and parts.netloc in ("", "localhost") \
            and parts.path.startswith("/"):
        return LocalBlobStore(Path(unquote(parts.path)))
    if parts.scheme == "s3" and plain and _BUCKET_NAME.fullmatch(parts.netloc):
        return _s3_store(parts.netloc, unquote(parts.path).strip("/"))
    raise ValueError(f"Unsupported blob store URL {url!r}: use file:///absolute/path or "
                     "s3://bucket/optional/prefix (or nothing, for <data dir>/blobs).")


_BUCKET_NAME = re.compile(r"[A-Za-z0-9._-]+")  # lenient: legacy AWS and other providers' names


def _s3_store(bucket: str, prefix: str) -> BlobStore:
    """An S3BlobStore, importing boto3 only when an s3:// URL asks for it."""
    try:
        from .s3 import S3BlobStore
    except ModuleNotFoundError as exc:
        if exc.name not in ("boto3", "botocore", "s3transfer"):
            raise
        raise BlobStoreUnavailable("S3 blob storage needs boto3, which is not installed: "
                                   "pip install 'gonk[s3]'.") from None
    return S3BlobStore(bucket, prefix)
