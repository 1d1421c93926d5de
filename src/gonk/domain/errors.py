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
