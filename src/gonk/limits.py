"""The limits on what one request may make the server do, each with its default and the
environment variable that changes it (read when an installation is opened).

The README's "Limits and hardening" section lists these with the HTTP limits (body sizes,
connections) that live beside the app and the server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    max_schema_bytes: int = 4 * MiB
    """The largest schema accepted (413 beyond). A parsed schema takes about ten times its text
    in memory, and a compiled one is kept per worker (schema_cache_bytes)."""
    max_annotation_bytes: int = 16 * MiB
    """The largest annotation accepted (413 beyond): it is parsed and validated in memory."""
    max_object_identifiers: int = 1000
    """The most object versions one annotation may be attached to (400 beyond)."""
    validation_seconds: float = 5.0
    """How long validating one annotation against its schema may take (422 beyond)."""
    schema_cache_bytes: int = 16 * MiB
    """How much schema text each worker keeps compiled (least recently used first out); the
    memory it takes is about ten times this."""
    thumbnail_max_pixels: int = 100_000_000
    """The largest image (width x height, read from its header) a thumbnail is made of (413
    beyond, without decoding it); decoding one takes up to 4 bytes per pixel (thumbnails.py)."""

    @classmethod
    def from_environment(cls) -> Limits:
        """The defaults, each overridden by GONK_<NAME IN CAPITALS> when set."""
        values: dict[str, int | float] = {}
        for field in fields(cls):
            text = os.environ.get(environment_name(field.name))
            if text is None or not text.strip():
                continue
            kind = float if field.type in (float, "float") else int
            try:
                value = kind(text)
            except ValueError:
                raise ValueError(f"{environment_name(field.name)} must be a number, "
                                 f"not {text!r}") from None
            if value <= 0:
                raise ValueError(f"{environment_name(field.name)} must be more than 0")
            values[field.name] = value
        return cls(**values)  # type: ignore[arg-type]  # each value has its field's type


def environment_name(field: str) -> str:
    return "GONK_" + field.upper()
