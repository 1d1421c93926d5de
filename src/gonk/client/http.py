"""The client's one HTTP session: timeouts, retries with backoff, and errors as exceptions.

**What is repeated** (`Repeat`), and why it is safe:

- `Repeat.SAFE`, reads (GET): after any transient failure: no connection, a connection reset or
  cut, a timeout, or an answer 502, 503 or 504.
- `Repeat.DUPLICATE`, creates of objects: after any transient failure too. If a lost answer
  hid a create that did happen, the repeat is refused with 409 and the `existing` version (the
  server never stores the same bytes twice in live objects); the caller sees `attempts > 1` on
  that Conflict and returns the existing version instead of failing (`Dataset.upload`).
- `Repeat.REVIEW`, accept and reject: after any transient failure too; a repeat refused with
  409 because the event is reviewed already is resolved by the caller, which reads the event's
  review back and succeeds when it is the decision asked for (`Dataset.accept`).
- `Repeat.ONCE`, every other write (dataset, schema, annotation, release creates, updates,
  deletes, owners): only when the server certainly did not act on it: the connection could not
  be made (nothing was sent), or the server answered 503 (Gonk answers 503 only when nothing
  was stored: its database or blob store is unreachable). A reset, timeout, 502 or 504 after the
  request went out is raised (`ConnectionFailed`, `ServerError`): whether it was applied is
  unknown, and repeating it could apply it twice.

A wait before attempt n+1 is `backoff * 2**n` seconds (at most `max_backoff`), or the answer's
`Retry-After` when it gives one (at most `max_retry_after`).
"""

from __future__ import annotations

import email.utils
import enum
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
import urllib3.exceptions

from .errors import ConnectionFailed, GonkError, for_status

DEFAULT_TIMEOUT = (10.0, 300.0)
"""(connect, read) seconds: a server that does not accept the connection within 10 s, or goes
silent for 5 minutes in the middle of an answer, fails the attempt."""
RETRY_STATUSES = frozenset({502, 503, 504})


class Repeat(enum.Enum):
    """Which failures of a request may be repeated (see the module's docstring)."""

    SAFE = "safe"
    DUPLICATE = "duplicate"
    REVIEW = "review"
    ONCE = "once"


def segment(text: str) -> str:
    """`text` as one path segment of a URL (every '/' and '%' escaped)."""
    return quote(text, safe="")


@dataclass
class Answer:
    """A successful answer: the response (open when streamed: close it) and how many attempts
    it took."""

    response: requests.Response
    attempts: int

    def json(self) -> Any:
        try:
            return self.response.json()
        except ValueError:
            raise GonkError(f"The server at {self.response.url} did not answer JSON.",
                            self.response.status_code) from None


class Transport:
    """One `requests.Session` against one server, with the key sent on every request."""

    def __init__(self, url: str, key: str | None, timeout: float | tuple[float, float] | None
                 = DEFAULT_TIMEOUT, retries: int = 4, backoff: float = 0.5,
                 max_backoff: float = 20.0, max_retry_after: float = 60.0,
                 session: requests.Session | None = None) -> None:
        from .. import __version__

        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"gonk-client/{__version__}"
        if key:
            self.session.headers["x-api-key"] = key
        self.sleep: Callable[[float], None] = time.sleep

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, body: Callable[[], Any] | None = None,
                headers: Mapping[str, str] | None = None, stream: bool = False,
                repeat: Repeat = Repeat.SAFE, ok: tuple[int, ...] = (200,)) -> Answer:
        """Send the request (retrying as `repeat` allows) and return the answer when its status
        is in `ok`; raise the GonkError of its status otherwise. `body` makes the request's
        body afresh for each attempt (bytes, or a file opened anew)."""
        address = self.url + path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempt = 0
        while True:
            attempt += 1
            data = body() if body is not None else None
            try:
                response = self.session.request(method, address, params=query, json=json,
                                                data=data, headers=headers, stream=stream,
                                                timeout=self.timeout)
            except requests.RequestException as exc:
                if attempt <= self.retries and self._may_repeat(repeat, exc):
                    self.sleep(self._delay(attempt, None))
                    continue
                raise ConnectionFailed(_failure(self.url, exc), method=method,
                                       url=address) from None
            finally:
                close = getattr(data, "close", None)
                if close is not None:
                    close()
            if response.status_code in ok:
                return Answer(response, attempt)
            if (attempt <= self.retries and response.status_code in RETRY_STATUSES
                    and (repeat is not Repeat.ONCE or response.status_code == 503)):
                wait = self._delay(attempt, response.headers.get("Retry-After"))
                response.close()
                self.sleep(wait)
                continue
            error = refusal(response, method)
            error.attempts = attempt  # type: ignore[attr-defined]
            raise error

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON body (the request as `request` sends it)."""
        answer = self.request(method, path, **kwargs)
        try:
            return answer.json()
        finally:
            answer.response.close()

    @staticmethod
    def _may_repeat(repeat: Repeat, exc: requests.RequestException) -> bool:
        if repeat is not Repeat.ONCE:  # (a body cut off mid-answer is ChunkedEncodingError)
            return isinstance(exc, (requests.ConnectionError, requests.Timeout,
                                    requests.exceptions.ChunkedEncodingError))
        return not_sent(exc)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_retry_after)
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)


def not_sent(exc: BaseException) -> bool:
    """Whether the request failed before anything reached the server: the connection was
    refused or could not be made in time."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, (urllib3.exceptions.NewConnectionError,
                               urllib3.exceptions.ConnectTimeoutError))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (RFC 9110: a number of seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def refusal(response: requests.Response, method: str) -> GonkError:
    """The error of an answer that is not a success: its class by status, the server's
    sentence (or the start of a body that is not Gonk's JSON) and its other fields."""
    try:
        body = response.json()
    except ValueError:
        body = None
    finally:
        response.close()
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message, extra = body["error"], {k: v for k, v in body.items() if k != "error"}
    else:
        text = response.text[:200] if body is None else str(body)[:200]
        message, extra = f"HTTP {response.status_code}: {text}", {}
    return for_status(response.status_code)(
        message, response.status_code, extra, method, response.url,
        parse_retry_after(response.headers.get("Retry-After")))


def _failure(url: str, exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"The server at {url} did not answer in time ({exc})."
    if isinstance(exc, requests.ConnectionError):
        if not_sent(exc):
            return f"Cannot reach a Gonk server at {url}."
        return f"The connection to {url} broke off ({exc})."
    return f"The request to {url} failed: {exc}"
