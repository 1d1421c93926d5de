"""Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph RGW).

Layout under the store's prefix (which may be empty):
- blobs/<sha256>: one object per blob, written whole and never changed in content;
- tmp/upload-<uuid>: a streamed upload in progress (hashed while it is sent, so its name is not
  known until the end), copied to blobs/<sha256> server-side when complete;
- gc/<sha256>: a blob that garbage collection has set aside while it decides (see `collect`).

Everything goes through one boto3 client, made once per store (boto3 clients are thread-safe,
sessions are not). boto3 reads the endpoint, credentials and region from the standard
variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION) or
its configuration files; with a custom endpoint it addresses buckets path-style, as MinIO and
Ceph expect. Checksum settings are boto3's defaults, so a provider that rejects the newer
checksum headers is served by the standard AWS_REQUEST_CHECKSUM_CALCULATION=when_required.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ...domain.errors import InsufficientStorage
from ..database import storage_timeout
from .store import (
    UPLOAD_PREFIX,
    BlobStat,
    BlobStoreUnavailable,
    ChunkStream,
    MeasuredStream,
    StoredBlob,
    check_range,
    is_digest,
    sha256_hex,
)

log = logging.getLogger("gonk.blobs")

MiB = 1024**2
PART_SIZE = 8 * MiB
"""Multipart parts start at 8 MiB (S3's minimum is 5 MiB) and double every PARTS_PER_SIZE parts,
so a stream of unknown length fits in S3's 10,000 parts up to its 5 TiB object limit while a
small upload holds at most 8 MiB in memory."""
PARTS_PER_SIZE = 1000

def _client_config(read_timeout: int, attempts: int) -> Config:
    return Config(connect_timeout=min(3, read_timeout), read_timeout=read_timeout,
                  retries={"mode": "standard", "total_max_attempts": attempts})


REQUESTS = "requests"
"""The client of requests: an unreachable endpoint fails in a few seconds, one that accepts
connections but stops answering within 2 x GONK_STORAGE_TIMEOUT (two attempts), so no request
holds a worker for longer; then the request is 503. A server-side copy of a large object answers
at once and keeps the connection alive while it copies, so the read timeout does not cut it."""
CHECKS = "checks"
"""The client of `check` at startup and `ping` (GET /health): a silent endpoint fails within
2 x 5 s at most."""


def _config_for(purpose: str) -> Config:
    timeout = storage_timeout()
    return _client_config(timeout if purpose == REQUESTS else min(timeout, 5), 2)
COPY_CONFIG = TransferConfig(
    multipart_threshold=1024 * MiB,  # one CopyObject up to 1 GiB; larger (up to 5 TiB) in parts
    multipart_chunksize=256 * MiB,
    max_concurrency=8,
)

GC_WAIT_SECONDS = 30.0
"""How long a write waits at most for a garbage collection that has set the same blob aside to
delete it or let it be (`S3BlobStore._survive_collection`): two requests, normally."""
STALE_ASIDE_SECONDS = 3600.0
"""An aside copy this old was left by a garbage collection that died: nobody to wait for."""
TIME_RESOLUTION = 1.0
"""S3 reports modification times to the second (HEAD's Last-Modified): a time read back may be up
to this much earlier than the write."""

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_REFUSED = frozenset({"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                      "InvalidToken", "ExpiredToken", "AllAccessDisabled"})
_MULTIPART_MARK = "#"  # in a temporary upload's name: <key under the prefix>#<upload id>
_OUR_FOLDERS = ("blobs/", "gc/", "tmp/")  # under the prefix; a shared bucket has other keys


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_SERVER_TROUBLE = frozenset({"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
                             "503", "500", "502", "504"})


_FULL = frozenset({"XMinioStorageFull", "QuotaExceeded", "XMinioAdminBucketQuotaExceeded"})


def _http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _is_server_trouble(exc: ClientError) -> bool:
    """The endpoint answered, but with a 5xx (overloaded, failing, throttling): unavailable."""
    return _error_code(exc) in _SERVER_TROUBLE or _http_status(exc) >= 500


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


_CLIENTS: dict[tuple[Any, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _shared_client(purpose: str) -> Any:
    """One boto3 client per process for each purpose (REQUESTS or CHECKS), timeout and set of
    AWS_* variables: making a client loads boto3's service model (a quarter of a second), and
    clients are thread-safe, so every store of a process (and every test) shares it."""
    key = (purpose, storage_timeout(), *(os.environ.get(name) for name in (
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "AWS_REGION",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")))
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = boto3.session.Session().client(
                "s3", config=_config_for(purpose))
        return client


class S3BlobStore:
    """Content-addressed blobs in a bucket, under `prefix` (may be empty)."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        """`client`: a boto3 S3 client to use instead of one made from the environment."""
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._base = f"{self.prefix}/" if self.prefix else ""
        self._given_client = client is not None
        self.client = client or _shared_client(REQUESTS)

    # --- keys ----------------------------------------------------------------------------------

    def _blob_key(self, digest: str) -> str:
        if not is_digest(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return f"{self._base}blobs/{digest}"

    def _aside_key(self, digest: str) -> str:
        self._blob_key(digest)  # the same check of the digest
        return f"{self._base}gc/{digest}"

    def _tmp_key(self, name: str) -> str:
        return f"{self._base}tmp/{name}"

    # --- the store as a whole ----------------------------------------------------------------

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def endpoint(self) -> str:
        return str(self.client.meta.endpoint_url)

    def create(self) -> None:
        """Nothing to make: the bucket is the operator's (creating one needs rights and choices,
        region and retention, that are not Gonk's), and keys need no directories."""

    def check(self) -> None:
        """Reach the bucket and write (then remove) a small probe under tmp/, so that a missing
        bucket, refused credentials or an unreachable endpoint are reported at startup in one
        line rather than as the first upload's error; with short timeouts, so that an endpoint
        that does not answer is reported in seconds."""
        probe = self._tmp_key(f"{UPLOAD_PREFIX}check-{uuid.uuid4().hex}")
        client = self.client if self._given_client else _shared_client(CHECKS)
        try:
            client.head_bucket(Bucket=self.bucket)
            client.put_object(Bucket=self.bucket, Key=probe, Body=b"")
            client.delete_object(Bucket=self.bucket, Key=probe)
        except NoCredentialsError:
            raise BlobStoreUnavailable(
                f"No S3 credentials for {self.describe()}: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or configure boto3).") from None
        except ClientError as exc:
            raise BlobStoreUnavailable(self._refusal(exc)) from None
        except BotoCoreError as exc:  # connection refused, timeouts, bad endpoint URL
            raise BlobStoreUnavailable(f"Cannot reach the S3 endpoint {self.endpoint} for "
                                       f"{self.describe()}: {_first_line(exc)}") from None

    def ping(self) -> None:
        """One HEAD of the bucket, with the short timeouts of `check`."""
        client = self.client if self._given_client else _shared_client(CHECKS)
        try:
            client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:  # a missing bucket is "404" here, not NoSuchBucket
            raise BlobStoreUnavailable(self._refusal(exc)) from exc
        except BotoCoreError as exc:
            raise BlobStoreUnavailable(f"Cannot reach the S3 endpoint {self.endpoint} for "
                                       f"{self.describe()}: {_first_line(exc)}") from exc

    def _refusal(self, exc: ClientError) -> str:
        code = _error_code(exc)
        if code in ("404", "NoSuchBucket"):
            return (f"The bucket {self.bucket!r} does not exist at {self.endpoint}: create it "
                    f"first (blob store {self.describe()}).")
        if code in _REFUSED:
            return (f"Access to {self.describe()} at {self.endpoint} was refused ({code}): check "
                    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's permissions.")
        return f"Cannot use {self.describe()} at {self.endpoint}: {_first_line(exc)}"

    @contextlib.contextmanager
    def _translated(self, key: str) -> Iterator[None]:
        """S3's answers as the errors callers handle for files: a missing key is
        FileNotFoundError; a missing bucket, refused credentials, a 5xx answer or no answer at
        all (connection refused or reset, timeouts: after boto3's retries) are
        BlobStoreUnavailable, which a request answers with 503."""
        try:
            yield
        except ClientError as exc:
            code = _error_code(exc)
            if code == "NoSuchBucket" or code in _REFUSED:
                raise BlobStoreUnavailable(self._refusal(exc)) from exc
            if code in _MISSING:
                raise FileNotFoundError(f"no such blob: s3://{self.bucket}/{key}") from None
            if code in _FULL or _http_status(exc) == 507:
                raise InsufficientStorage("blob store") from exc
            if _is_server_trouble(exc):
                raise BlobStoreUnavailable(f"{self.describe()} at {self.endpoint} answered "
                                           f"{code or 'an error'}: {_first_line(exc)}") from exc
            raise
        except BotoCoreError as exc:
            raise BlobStoreUnavailable(f"Cannot reach the S3 endpoint {self.endpoint} for "
                                       f"{self.describe()}: {_first_line(exc)}") from exc

    # --- single keys ---------------------------------------------------------------------------

    def _stat_key(self, key: str) -> BlobStat:
        with self._translated(key):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        return BlobStat(int(head["ContentLength"]), head["LastModified"].timestamp())

    def _key_exists(self, key: str) -> bool:
        try:
            self._stat_key(key)
        except FileNotFoundError:
            return False
        return True

    def _copy(self, source: str, target: str) -> None:
        """Server-side copy through boto3's managed transfer: one CopyObject, or for objects
        over COPY_CONFIG's threshold a multipart copy (the only way past CopyObject's 5 GiB
        limit). The target's time is the copy's."""
        with self._translated(source):
            self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target,
                             Config=COPY_CONFIG)

    def _delete(self, key: str) -> None:
        with self._translated(key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def _delete_quietly(self, key: str) -> None:
        """Cleanup that must not hide the error being handled; gc removes what it leaves."""
        try:
            self._delete(key)
        except Exception:
            log.warning("could not remove s3://%s/%s", self.bucket, key, exc_info=True)

    def _list(self, under: str) -> Iterator[tuple[str, float]]:
        """(key, modification time) of every object whose key starts with `under`."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=under)
        with self._translated(under):
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"].timestamp()

    # --- writing -------------------------------------------------------------------------------

    def put(self, data: bytes) -> str:
        """One PutObject straight to blobs/<sha256>, the hash being known up front. Written
        every time, even when the blob exists: that refreshes its time, which keeps it from
        garbage collection (see `collect`)."""
        digest = sha256_hex(data)
        key = self._blob_key(digest)

        def write() -> None:
            with self._translated(key):
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

        write()
        self._survive_collection(digest, write)
        return digest

    def put_stream(self, chunks: Iterable[bytes], max_bytes: int | None = None) -> StoredBlob:
        """Hash while sending to tmp/upload-<uuid> (a multipart upload, part by part, so at most
        one part is held in memory; one PutObject for a body under one part), then copy
        server-side to blobs/<sha256> (every time, like `put`) and remove the temporary key.
        Past `max_bytes`, or on any error, the multipart upload is aborted and the temporary
        key removed: nothing is left behind."""
        temporary = self._tmp_key(f"{UPLOAD_PREFIX}{uuid.uuid4().hex}")
        upload = _StreamedUpload(self.client, self.bucket, temporary)
        measured = MeasuredStream(max_bytes)
        try:
            with self._translated(temporary):
                for chunk in chunks:
                    measured.add(chunk)
                    upload.write(chunk)
                upload.finish()
            blob = measured.stored()
            final = self._blob_key(blob.digest)
            self._copy(temporary, final)
            self._survive_collection(blob.digest, lambda: self._copy(temporary, final))
        except BaseException:
            upload.discard()
            raise
        self._delete_quietly(temporary)
        return blob

    def _survive_collection(self, digest: str, write_again: Callable[[], None]) -> None:
        """After writing blobs/<digest>, make sure a garbage collection running at the same time
        has not deleted it (see `collect` for the whole argument).

        S3 cannot delete conditionally, so gc may delete the key just after this write landed
        (if the write came after gc copied the blob aside and checked its time). gc keeps its
        aside copy, gc/<digest>, from before that check until after the delete; so while that
        copy exists, watch the blob: once it is gone, gc has made its one delete, and the blob
        is written again (gc keeps a blob that reappears, and never deletes it twice). This
        costs one HEAD per write; waiting happens only when a write meets gc on the very same
        blob, for the two requests gc makes between the copy and the delete."""
        aside, final = self._aside_key(digest), self._blob_key(digest)
        deadline = time.monotonic() + GC_WAIT_SECONDS
        delay = 0.02
        while time.monotonic() < deadline:
            try:
                set_aside = self._stat_key(aside).modified
            except FileNotFoundError:
                break  # no gc at work on this blob (or it is done with it)
            if time.time() - set_aside > STALE_ASIDE_SECONDS:
                break  # left by a gc that died; the next gc puts it back
            if not self._key_exists(final):
                break  # gc has deleted it: write it again, below
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        if not self._key_exists(final):
            write_again()

    # --- reading -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """S3 answers 404 alike for a missing key and a missing bucket: when a blob is not
        found, ask about the bucket, so that a bucket gone (deleted, renamed, another account)
        is the store being unavailable (503), not a blob missing."""
        try:
            yield
        except FileNotFoundError:
            self.ping()
            raise

    def get(self, digest: str) -> bytes:
        key = self._blob_key(digest)
        with self._reading(), self._translated(key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            with contextlib.closing(body):
                return bytes(body.read())

    def exists(self, digest: str) -> bool:
        return self._key_exists(self._blob_key(digest))

    def size(self, digest: str) -> int:
        return self.stat(digest).size

    def stat(self, digest: str) -> BlobStat:
        with self._reading():
            return self._stat_key(self._blob_key(digest))

    def local_path(self, digest: str) -> None:
        return None

    def head(self, digest: str, size: int) -> bytes:
        stream = self.read_range(digest, 0, size - 1)
        try:
            return b"".join(stream)
        finally:
            stream.close()

    def read_range(self, digest: str, start: int, end_inclusive: int) -> ChunkStream:
        """One GetObject with a Range header, its body streamed chunk by chunk (the request is
        made here, so a missing blob raises FileNotFoundError before any chunk)."""
        check_range(start)
        key = self._blob_key(digest)
        if end_inclusive < start:
            with self._reading():
                self._stat_key(key)  # still say whether the blob exists
            return ChunkStream(lambda _: b"", 0, lambda: None)
        try:
            with self._reading(), self._translated(key):
                response = self.client.get_object(Bucket=self.bucket, Key=key,
                                                  Range=f"bytes={start}-{end_inclusive}")
        except ClientError as exc:
            if _error_code(exc) != "InvalidRange":
                raise
            return ChunkStream(lambda _: b"", 0, lambda: None)  # starts past the end: nothing
        body = response["Body"]
        return ChunkStream(body.read, int(response["ContentLength"]), body.close)

    # --- garbage collection -------------------------------------------------------------------

    def all_blobs(self) -> Iterator[tuple[str, float]]:
        for key, modified in self._list(f"{self._base}blobs/"):
            digest = key.rsplit("/", 1)[-1]
            if is_digest(digest):
                yield digest, modified

    def temporary_uploads(self) -> Iterator[tuple[str, float]]:
        """Temporary keys of uploads that never finished, and unfinished multipart uploads to
        this store's keys (a process killed mid-upload or mid-copy leaves its parts, which are
        stored and billed but listed nowhere else; other keys in a shared bucket are not
        ours). An upload's time is that of its latest part, so a long upload still in progress
        stays young."""
        for key, modified in self._list(self._tmp_key(UPLOAD_PREFIX)):
            yield key.removeprefix(self._base), modified
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self._base)
        with self._translated(self._base):
            for page in pages:
                for upload in page.get("Uploads", []):
                    name = upload["Key"].removeprefix(self._base)
                    if name.startswith(_OUR_FOLDERS):
                        yield (f"{name}{_MULTIPART_MARK}{upload['UploadId']}",
                               self._last_activity(upload))

    def _last_activity(self, upload: dict[str, Any]) -> float:
        latest = upload["Initiated"].timestamp()
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        with contextlib.suppress(ClientError):  # finished or aborted meanwhile
            for page in pages:
                for part in page.get("Parts", []):
                    latest = max(latest, part["LastModified"].timestamp())
        return latest

    def remove_temporary(self, name: str) -> None:
        """Delete a temporary key, or abort a multipart upload (which frees its parts)."""
        key, _, upload_id = name.partition(_MULTIPART_MARK)
        ours = key.startswith(_OUR_FOLDERS if upload_id else f"tmp/{UPLOAD_PREFIX}")
        if not ours or ".." in key.split("/"):
            raise ValueError(f"not a temporary upload: {name!r}")
        if not upload_id:
            self._delete(self._base + key)
            return
        with self._translated(key):
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._base + key,
                                                   UploadId=upload_id)
            except ClientError as exc:
                if _error_code(exc) not in ("NoSuchUpload", *_MISSING):
                    raise

    def restore_set_aside(self) -> int:
        """Put back every gc/<digest> (a garbage collection killed midway) unless the blob is
        there already, and remove the aside copy: the next collection decides afresh."""
        restored = 0
        for key, _ in list(self._list(f"{self._base}gc/")):
            digest = key.rsplit("/", 1)[-1]
            if not is_digest(digest):
                continue
            if not self.exists(digest):
                self._copy(key, self._blob_key(digest))
            self._delete(key)
            restored += 1
        return restored

    def collect(self, digest: str, older_than: float, is_referenced: Callable[[], bool]) -> int:
        """Remove blobs/<digest> if it is older than `older_than` and, once it is gone,
        `is_referenced()` says no committed event references it. Returns the bytes freed.

        The rule is that gc never removes a blob a committed event references, even while
        writes are in flight. A write stores its blob (PutObject or copy: the key is written
        every time, which refreshes its time) and then commits an event. S3 has no rename and
        no conditional delete, so the blob is first copied to gc/<digest>, then deleted:

        1. too young (time >= older_than): kept, untouched; a write before this check made it
           young;
        2. copy aside to gc/<digest>; then the blob's time is read again: a write that landed
           between (1) and the copy made it young, so it stays (the aside copy is removed);
        3. delete the blob; then ask `is_referenced()` (an event committed by now is seen) and
           whether the blob reappeared (a write after the delete): in either case it is put
           back from the aside copy if missing, and kept;
        4. otherwise the aside copy is removed: the blob is gone.

        What remains is a write landing after the copy in (2) but before the delete in (3), its
        event committed after (3) asked: the delete erased it. That write, though, looks for
        gc/<digest> after storing its blob (`_survive_collection`): it finds the aside copy,
        which lives until gc is done with the blob, waits for it to go, and writes the blob
        again if it is missing; all before its event commits. A collection killed midway
        leaves the aside copy, which `restore_set_aside` puts back when gc next runs.

        S3 reports times to the second, so a time within TIME_RESOLUTION of `older_than`
        counts as young. Run one collection at a time (as with local files)."""
        final, aside = self._blob_key(digest), self._aside_key(digest)
        try:
            if self._is_young(final, older_than):
                return 0
            self._copy(final, aside)  # also tells writers that gc is at work on this blob
        except FileNotFoundError:
            return 0  # removed meanwhile
        try:
            keep = self._is_young(final, older_than)
        except FileNotFoundError:
            keep = True  # gone meanwhile, not by us: put our copy back, to be safe
        if not keep:
            self._delete(final)
            try:
                keep = is_referenced() or self._key_exists(final)
            except BaseException:  # the database (or S3) failed mid-question: put it back
                with contextlib.suppress(Exception):  # else the next gc's restore_set_aside
                    self._copy(aside, final)
                raise
        if keep:
            if not self._key_exists(final):
                self._copy(aside, final)
            self._delete(aside)
            return 0
        freed = self._stat_key(aside).size
        self._delete(aside)
        return freed

    def _is_young(self, key: str, older_than: float) -> bool:
        return self._stat_key(key).modified + TIME_RESOLUTION >= older_than


class _StreamedUpload:
    """A body of unknown length sent to one key: parts go out as they fill; a body smaller
    than one part goes as a single PutObject (multipart needs at least one part, and a small
    body is cheaper in one request)."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.completed = False

    def _part_size(self) -> int:
        return PART_SIZE * 2 ** (len(self.parts) // PARTS_PER_SIZE)

    def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        del chunk  # a retried part keeps this frame alive for a while (see `_body`)
        while len(self.buffer) >= self._part_size():
            size = self._part_size()
            self._send_part(size)
            del self.buffer[:size]

    def _body(self, size: int) -> io.BytesIO:
        """The buffer's first `size` bytes as a stream for one request, to be closed after it.

        Why a stream, closed: when botocore retries a request (a timeout, a dropped connection),
        the failed attempt's exception stays in a reference cycle with botocore's frames, which
        hold the request and the frames of its callers, up to ours. Only Python's cyclic
        collector frees that, which in a long-running process may be much later; had the body
        been `bytes`, every retried part would keep its 8 MiB (and boto3's copy of it) alive
        until then. Closing the stream frees its bytes whatever still refers to it."""
        with memoryview(self.buffer) as view:
            return io.BytesIO(view[:size])

    def _send_part(self, size: int) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        with contextlib.closing(self._body(size)) as body:
            sent = self.client.upload_part(Bucket=self.bucket, Key=self.key,
                                           UploadId=self.upload_id, PartNumber=number, Body=body)
        part = {"ETag": sent["ETag"], "PartNumber": number}
        # boto3 may add a checksum to each part; completing must then repeat it
        part.update({name: value for name, value in sent.items()
                     if name.startswith("Checksum") and name != "ChecksumType"})
        self.parts.append(part)

    def finish(self) -> None:
        if self.upload_id is None:
            with contextlib.closing(self._body(len(self.buffer))) as body:
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body)
        else:
            if self.buffer:
                self._send_part(len(self.buffer))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                MultipartUpload={"Parts": self.parts})
        self.completed = True
        self.buffer.clear()

    def discard(self) -> None:
        """Leave nothing behind: abort the multipart upload (its parts are freed), remove the
        key if it was written. Failures are logged, not raised: the original error matters."""
        self.buffer.clear()
        if self.upload_id is not None and not self.completed:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                                   UploadId=self.upload_id)
            except Exception:
                log.warning("could not abort the multipart upload of s3://%s/%s", self.bucket,
                            self.key, exc_info=True)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key)
        except Exception:
            log.warning("could not remove s3://%s/%s", self.bucket, self.key, exc_info=True)
