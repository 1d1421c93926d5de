"""`gonk.Client`: Gonk's API from Python.

    import gonk

    with gonk.Client("http://127.0.0.1:5000", key) as client:   # or GONK_URL, GONK_API_KEY
        birds = client.dataset("birds")
        for obj in birds.objects.list(prefix="2024/", as_of="v1.0"):
            print(obj.uuid, obj.name)
        birds.release("v1.0").pull("birds-v1.0")                 # verified, through the cache

Everything the command line does through a server (`gonk-api import --url`, `export --url`,
`diff --url`, `import-labels --url`) goes through this client. See `Client` for the reference
and gonk.client.http for what is retried.
"""

from __future__ import annotations

import os
from typing import Any

import requests

from .cache import BlobCache
from .errors import (
    ChainBroken,
    Conflict,
    ConnectionFailed,
    DoesNotConform,
    ExportFailed,
    Forbidden,
    GonkError,
    InsufficientStorage,
    IntegrityError,
    Invalid,
    NotFound,
    ServerError,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from .http import DEFAULT_TIMEOUT, Repeat, Transport, segment
from .log_proofs import Checkpoint, ProofError, VerifierKey
from .models import (
    AnnotationSummary,
    ChainReport,
    Change,
    Claim,
    Event,
    EventReview,
    ItemInfo,
    Loaded,
    ManifestLine,
    Metadata,
    NewKey,
    ObjectSummary,
    PendingChange,
    PullSummary,
    ReleaseInfo,
    Sample,
    SampleAnnotation,
    SchemaInfo,
    SchemaVersionRef,
    Stats,
    User,
    VersionRef,
)
from .monitor import LogRewritten, MonitorError
from .monitor import Report as MonitorReport
from .pull import Release
from .resources import (
    Annotations,
    Dataset,
    Events,
    Members,
    Objects,
    Owners,
    Releases,
    Schemas,
)

URL_ENV = "GONK_URL"
KEY_ENV = "GONK_API_KEY"


class Client:
    """A connection to one Gonk server, as one user.

    `Client(url=None, key=None)`: the server's address and your API key; when not given, read
    from the environment variables GONK_URL and GONK_API_KEY. Use it as a context manager (or
    call `close()`): one `requests.Session` is reused for every request.

    Options:
      timeout        (connect, read) seconds per attempt, default (10, 300); None: no timeout.
      retries        how many times a failed request may be repeated (default 4), with
                     exponential backoff from `backoff` seconds (default 0.5), honouring the
                     server's Retry-After. Reads are repeated after connection errors,
                     timeouts, 502, 503 and 504; uploads too (a repeat that finds the bytes
                     created returns that version); other writes only when nothing reached
                     the server or it answered 503 (see gonk.client.http).
      cache          where pulled bytes are kept: a folder, a BlobCache, or None for
                     $GONK_CACHE, else ~/.cache/gonk (see gonk.client.cache).
      session        a requests.Session to use (e.g. with your own adapters or proxies).

    Reference:
      client.health() -> dict            the server's /health answer (needs no key)
      client.datasets() -> list[str]     every dataset's name
      client.dataset(name) -> Dataset    a handle; `.create()` creates it
      client.create_dataset(name)        the same as client.dataset(name).create()

    Dataset (see `help(gonk.client.Dataset)`):
      .objects      list(name=, prefix=, as_of=), status(s), with_hash(sha), info, load,
                    read, download, create, update, delete
      .schemas      list, status, info, load, read, document, create, update, delete
      .annotations  list(schema=), status, info, load, read, document, create, update, delete
      .events       list(pending=, as_of=), accept, reject
      .owners       list, add, remove
      .releases     list, get, create(name, description, at)
      .upload(path_or_bytes, name=None, mimetype=None), .download(uuid, version, path),
      .import_folder(path), .pending(), .accept(event), .reject(event), .stats(as_of=),
      .diff(from, to), .verify_chain(), .release(name) -> Release
      .checkpoint(key) -> Checkpoint, .inclusion_proof(event, size), .consistency_proof(m, n),
      .verify_event(event, key), .monitor(state_file, key, watch=[uuid...])

    The verifiable log: client.log_key() -> VerifierKey (what the server says its key is: pin
    the one you got from its operator, not this); gonk.client.log_proofs verifies by hand.

    Release: .info(), .manifest(), .pull(folder) -> PullSummary, .samples() -> Sample...

    Errors are GonkError subclasses carrying `status`, `message` (the server's sentence) and
    `extra` (its other fields): Invalid (400, 422; `.details`), Unauthorized (401), Forbidden
    (403), NotFound (404), Conflict (409; `.existing`), TooLarge (413), Unavailable (503),
    InsufficientStorage (507), ServerError (others), ConnectionFailed (no answer),
    IntegrityError and ChainBroken (data that does not match its sha256 or chain).
    """

    def __init__(self, url: str | None = None, key: str | None = None, *,
                 timeout: float | tuple[float, float] | None = DEFAULT_TIMEOUT,
                 retries: int = 4, backoff: float = 0.5, max_retry_after: float = 60.0,
                 cache: str | os.PathLike[str] | BlobCache | None = None,
                 session: requests.Session | None = None) -> None:
        url = url or os.environ.get(URL_ENV)
        if not url:
            raise ValueError(f"Give the server's address: Client(url=...) or ${URL_ENV}.")
        key = key if key is not None else os.environ.get(KEY_ENV)
        self.url = url.rstrip("/")
        self.http = Transport(self.url, key, timeout, retries, backoff,
                              max_retry_after=max_retry_after, session=session)
        self._cache = cache

    @property
    def cache(self) -> BlobCache:
        """The local cache of pulled bytes (made on first use)."""
        if not isinstance(self._cache, BlobCache):
            self._cache = BlobCache(self._cache)
        return self._cache

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the session's connections."""
        self.http.close()

    def health(self) -> dict[str, Any]:
        """The server's /health answer: {"status": "ok", "database": "ok", "blob_store":
        "ok"}; Unavailable (503) when it cannot work."""
        return dict(self.http.json("GET", "/health"))

    def me(self) -> dict[str, Any]:
        """Who the key belongs to: {"user": name, "admin": bool}."""
        return dict(self.http.json("GET", "/me"))

    def users(self) -> list[User]:
        """Every user of the server, deleted ones included (instance admins only: Forbidden
        otherwise)."""
        return [User.of(raw) for raw in self.http.json("GET", "/users")]

    def create_user(self, name: str, *, admin: bool = False) -> NewKey:
        """Create a user (instance admins only); the answer holds their key, shown once.
        Not repeated after a failure that may have reached the server (a repeat would be a
        Conflict, and the key of the first attempt lost)."""
        raw = self.http.json("POST", "/users", json={"name": name, "admin": admin},
                             repeat=Repeat.ONCE)
        return NewKey(raw["name"], raw["key"], bool(raw.get("admin")))

    def new_key(self, name: str | None = None) -> NewKey:
        """A new key for user `name` (default: yourself; anyone else's takes an instance
        admin). The old key stops working at once: a client rekeying itself goes on with the new
        one."""
        me = self.me()["user"]
        who = me if name is None else name
        raw = self.http.json("POST", f"/users/{segment(who)}/key", repeat=Repeat.ONCE)
        if who == me:
            self.http.session.headers["x-api-key"] = raw["key"]
        return NewKey(raw["name"], raw["key"])

    def delete_user(self, name: str) -> str:
        """Delete a user (instance admins only): their key stops working at once, their name
        is never given again. Returns when."""
        return str(self.http.json("DELETE", f"/users/{segment(name)}",
                                  repeat=Repeat.ONCE)["deleted"])

    def log_key(self) -> VerifierKey:
        """The server's log verifier key, as GET /log-key serves it. Checking checkpoints
        against the key this returns proves nothing about a server you do not trust: pin the
        key its operator gave you (`gonk-api log-key`) and compare."""
        answer = self.http.request("GET", "/log-key")
        try:
            return VerifierKey.parse(answer.response.content.decode("utf-8"))
        finally:
            answer.response.close()

    def datasets(self) -> list[str]:
        """Every dataset's name, sorted."""
        return list(self.http.json("GET", "/datasets"))

    def dataset(self, name: str) -> Dataset:
        """The dataset of this name (a handle: nothing is sent until it is used)."""
        return Dataset(self, name)

    def create_dataset(self, name: str) -> Dataset:
        """Create a dataset (you become its first owner); Conflict if the name is taken."""
        return Dataset(self, name).create()


__all__ = [
    "AnnotationSummary", "Annotations", "BlobCache", "ChainBroken", "ChainReport", "Change",
    "Checkpoint", "Claim", "Client", "Conflict", "ConnectionFailed", "Dataset", "DoesNotConform",
    "Event", "EventReview", "Events", "ExportFailed", "Forbidden", "GonkError",
    "InsufficientStorage", "IntegrityError", "Invalid", "ItemInfo", "Loaded", "LogRewritten",
    "ManifestLine", "Members", "Metadata", "MonitorError", "MonitorReport", "NewKey", "NotFound",
    "ObjectSummary", "Objects", "Owners", "PendingChange", "ProofError", "PullSummary", "Release",
    "ReleaseInfo", "Releases", "Repeat", "Sample", "SampleAnnotation", "SchemaInfo",
    "SchemaVersionRef", "Schemas", "ServerError", "Stats", "TooLarge", "Unauthorized",
    "Unavailable", "User", "VerifierKey", "VersionRef"
]
