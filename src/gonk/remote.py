"""The command line's remote modes (`import --url`, `import-labels --url`, `export --url`,
`diff --url`) reach the server through `gonk.Client`, the codebase's one HTTP client. This module
makes that client and turns its exceptions into the domain errors those commands already handle
and print, with the same words as before: `<status>: <the server's sentence>`, or `Cannot reach
a Gonk server at URL.`"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .domain import errors as domain

if TYPE_CHECKING:
    from .client import Client

def open_client(url: str, key: str, read_timeout: float = 300.0) -> Client:
    """A client for a command: a couple of quick retries (a server restarting, a proxy's
    502), so that a wrong address still fails within a second."""
    from .client import Client

    return Client(url, key, timeout=(10.0, read_timeout), retries=2, backoff=0.25)


@contextlib.contextmanager
def domain_errors(failure: type[domain.GonkError] = domain.GonkError) -> Iterator[None]:
    """Inside: the client's errors become domain errors. A refusal of the server keeps its
    class where the commands tell them apart (404, 409) and its extra fields (`existing`);
    errors without an answer (no connection, a broken download) become `failure`."""
    from .client import errors as client

    try:
        yield
    except client.GonkError as exc:
        raise as_domain(exc, failure) from None


def as_domain(exc: Any, failure: type[domain.GonkError] = domain.GonkError) -> domain.GonkError:
    extra = {k: v for k, v in exc.extra.items() if k != "message"}
    if exc.status is None:
        return failure(exc.message, **extra)
    error_class = {404: domain.NotFound, 409: domain.Conflict}.get(exc.status, failure)
    return error_class(f"{exc.status}: {exc.message}", **extra)
