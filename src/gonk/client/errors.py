"""The exceptions `gonk.Client` raises: one class per kind of refusal, all under `GonkError`.

These are the client's own classes, exported as `gonk.GonkError`, `gonk.NotFound` and so on.
They are distinct from the server's domain errors of the same names (`gonk.domain.errors`), which
the server raises internally and turns into HTTP answers: a client program only ever sees these.

Every error raised for an HTTP answer carries:

- `status`: the HTTP status (None when no answer came: `ConnectionFailed`, or a check that
  failed on this side: `IntegrityError`, `ExportFailed`);
- `message`: the server's own sentence (its `"error"` field);
- `extra`: every other field of the server's JSON answer (`existing`, `details`,
  `valid_statuses`, `component`, `objects`, ...);
- `method` and `url` of the request.
"""

from __future__ import annotations

from typing import Any


class GonkError(Exception):
    """Base class of every error `gonk.Client` raises."""

    def __init__(self, message: str, status: int | None = None,
                 extra: dict[str, Any] | None = None, method: str | None = None,
                 url: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra: dict[str, Any] = dict(extra or {})
        self.method = method
        self.url = url
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" if self.status is not None else self.message


class ConnectionFailed(GonkError):
    """No answer came: the server could not be reached, the connection broke, or it did not
    answer within the timeout (after the retries the request allowed)."""


class Invalid(GonkError):
    """400 (a malformed request: a bad name, UUID, field, status word, cursor...) or 422 (a
    schema that is not valid JSON Schema, an annotation that does not conform). `details` is
    the server's list of `{"path", "message"}` when it sent one (422), else []."""

    @property
    def details(self) -> list[dict[str, Any]]:
        details = self.extra.get("details")
        return details if isinstance(details, list) else []


class DoesNotConform(Invalid):
    """422: the schema or annotation sent does not conform (see `details`)."""


class Unauthorized(GonkError):
    """401: the API key is missing or unknown."""


class Forbidden(GonkError):
    """403: the key is valid, but its user may not do this (reviews and owner changes need an
    owner of the dataset)."""


class NotFound(GonkError):
    """404: no such dataset, item, version, event, release or user (at that point, for a read
    with `as_of`)."""


class Conflict(GonkError):
    """409: the request conflicts with the dataset's state (a name taken, already reviewed,
    duplicate content...). `existing` is what the server says already holds the content
    (`{"uuid", "version"}` or, for a schema name, `{"uuid", "versions"}`), or None."""

    @property
    def existing(self) -> dict[str, Any] | None:
        found = self.extra.get("existing")
        return found if isinstance(found, dict) else None


class TooLarge(GonkError):
    """413: a body larger than the server's limit (JSON bodies, raw uploads, schemas,
    annotations)."""


class Unavailable(GonkError):
    """503: the server's database or blob store cannot be reached right now; nothing was
    stored. `component` names which; `retry_after` is the server's Retry-After in seconds.
    The client has already retried (see `Client(retries=...)`) before raising it."""

    @property
    def component(self) -> str | None:
        found = self.extra.get("component")
        return found if isinstance(found, str) else None


class InsufficientStorage(GonkError):
    """507: the server's disk (or quota) is full; nothing was stored; reads still work."""


class ServerError(GonkError):
    """Any other status: a 500 (a server bug; its log has the details), a 502 or 504 from a
    proxy in front of it after the retries, a 501, ..."""


class IntegrityError(GonkError):
    """Bytes, a manifest or an event chain that do not match their sha256 or integrity: a
    download, a pull or `verify_chain` found data that is not what the server vouched for.
    Nothing that failed the check is kept."""


class ChainBroken(IntegrityError):
    """`verify_chain`: an event whose integrity is not the sha256 of the previous integrity
    and its canonical bytes. `event` is its uuid."""

    def __init__(self, message: str, event: str) -> None:
        super().__init__(message)
        self.event = event


class ExportFailed(GonkError):
    """A pull that cannot write its folder (a file or a symbolic link in the way, a release
    that is not what the server said); the message says what to do."""


_BY_STATUS: dict[int, type[GonkError]] = {
    400: Invalid, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
    413: TooLarge, 422: DoesNotConform, 503: Unavailable, 507: InsufficientStorage,
}


def for_status(status: int) -> type[GonkError]:
    """The class raised for an HTTP answer of this status."""
    return _BY_STATUS.get(status, ServerError)
