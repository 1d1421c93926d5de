"""Gonk: a self-hostable backend for creating and versioning annotated datasets.

`gonk.Client` is the Python client of Gonk's HTTP API (gonk.client), and `gonk.GonkError`,
`gonk.NotFound`, `gonk.Conflict`, `gonk.Invalid`, `gonk.Forbidden`, `gonk.Unauthorized`,
`gonk.Unavailable`, ... are the client's exceptions (gonk.client.errors). They are imported on
first use, so that the server never loads the client. The server's own domain errors, of
similar names, are gonk.domain.errors: a client program never sees those.
"""

from typing import Any

__version__ = "0.2.0"

_CLIENT_NAMES = frozenset({
    "Client", "Dataset", "Release", "BlobCache", "GonkError", "ConnectionFailed", "Invalid",
    "DoesNotConform", "Unauthorized", "Forbidden", "NotFound", "Conflict", "TooLarge",
    "Unavailable", "InsufficientStorage", "ServerError", "IntegrityError", "ChainBroken",
    "ExportFailed", "VerifierKey", "ProofError", "LogRewritten",
    "MonitorError", "MonitorReport",
})


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module 'gonk' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_CLIENT_NAMES])
