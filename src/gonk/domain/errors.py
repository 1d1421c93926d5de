"""Typed domain errors. The HTTP layer maps each class to one status code (api/errors.py)."""

from __future__ import annotations

from typing import Any


class GonkError(Exception):
    """Base class: a request that cannot be carried out, with a sentence a person understands."""

    status = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}


class Invalid(GonkError):
    """Malformed request: a missing or mistyped field, bad base64, a bad name or UUID."""

    status = 400


class Unauthorized(GonkError):
    status = 401


class Forbidden(GonkError):
    """Authenticated, but not allowed (for example a non-owner reviewing)."""

    status = 403


class NotFound(GonkError):
    status = 404


class Conflict(GonkError):
    """The request conflicts with the dataset's state."""

    status = 409


class TooLarge(GonkError):
    status = 413


class UnsupportedMediaType(GonkError):
    status = 415


class DoesNotConform(GonkError):
    """An invalid JSON Schema, or an annotation that does not conform to its schema."""

    status = 422


class Unavailable(GonkError):
    """A storage component (the database or the blob store) cannot be reached or used right
    now: 503 with Retry-After. Nothing is acknowledged, and the server needs no restart when
    the component comes back. The message names the component; the driver's reason (which may
    name hosts and ports) goes to the server log, not to clients."""

    status = 503
    component = "storage"
    retry_after_seconds = 5

    def __init__(self, reason: str, **extra: Any) -> None:
        super().__init__(reason, **extra)
        self.reason = reason

    def public_message(self) -> str:
        return (f"The {self.component} is unavailable right now; the request could not be "
                "completed. Try again in a few seconds.")

    def to_json(self) -> dict[str, Any]:
        return {"error": self.public_message(), "component": self.component, **self.extra}


class InsufficientStorage(GonkError):
    """The disk (or quota) under the database or the blob store is full: 507. Reads keep
    working; writes work again once space is freed."""

    status = 507

    def __init__(self, component: str, **extra: Any) -> None:
        super().__init__(f"The {component}'s storage is full: nothing was stored. Reads still "
                         "work; writes will again once space is freed.",
                         component=component, **extra)


class NotInstalled(GonkError):
    """A feature that needs an optional package this installation lacks (the `labels` extra:
    Pillow, pyarrow): 501, with the pip command that adds it."""

    status = 501
