"""Requests whose framing is broken, sent as raw bytes to real servers: `gonk-api serve`
(gunicorn, GonkWorker) and, where its HTTP server has a say, `gonk-api run`.

- A JSON body with broken chunked framing (a bad chunk size, a missing CRLF after a chunk, a
  body the client cuts short) is 400 with a JSON error, and nothing is carried out.
- A chunked JSON body longer than the JSON limit is 413, never cut at the limit and carried out.
- A JSON body shorter than its Content-Length is 400, never carried out.
- What the HTTP server refuses before the application sees the request (a bad request line,
  headers too large or too many, bad or conflicting Content-Length / Transfer-Encoding) gets
  a JSON error body with the status the server chose.

These are about the HTTP layer, so they run on SQLite and local files only; the in-process
versions of the body cases (every storage kind) are in tests/api/test_http_edges.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests

from tests.support.storage import running_site
from tests.support.wire import exchange

pytestmark = pytest.mark.xdist_group("http-framing")

MAX_JSON = 1000
LIMITS = ["--max-json-bytes", str(MAX_JSON)]
TIMEOUT = 10


def _start(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
           command: str, args: list[str]) -> Iterator[SimpleNamespace]:
    with running_site(tmp_path_factory.mktemp(command) / "gonk-data", "sqlite-files", request,
                      ("alice",), command, args, new_session=True) as site:
        site.port = site.server.port
        site.auth = {"x-api-key": site.key}
        assert requests.post(f"{site.base}/datasets", json={"name": "framing"},
                             headers=site.auth, timeout=TIMEOUT).status_code == 200
        yield site


@pytest.fixture(scope="module")
def serve_site(tmp_path_factory: pytest.TempPathFactory,
               request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    yield from _start(tmp_path_factory, request, "serve", ["--workers", "2", *LIMITS])


@pytest.fixture(scope="module")
def run_site(tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    yield from _start(tmp_path_factory, request, "run", LIMITS)


@pytest.fixture(params=["serve", "run"])
def site(request: pytest.FixtureRequest) -> SimpleNamespace:
    site: SimpleNamespace = request.getfixturevalue(f"{request.param}_site")
    return site


def _state(site: SimpleNamespace) -> tuple[list[str], list[str], list[str]]:
    """What a request could have changed: the datasets, and the dataset `framing`'s events and
    objects."""
    def get(path: str) -> list:
        resp = requests.get(f"{site.base}{path}", headers=site.auth, timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        return resp.json()

    return (get("/datasets"), [e["uuid"] for e in get("/datasets/framing/events?limit=1000")],
            [o["uuid"] for o in get("/datasets/framing/objects?limit=1000")])


def _head(site: SimpleNamespace, path: str, framing: str, method: str = "POST") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: {site.key}\r\n"
            f"Content-Type: application/json\r\nConnection: close\r\n{framing}\r\n").encode()


JSON_BODIES = {
    "/datasets": b'{"name": "created-by-a-broken-body"}',
    "/datasets/framing/objects": b'{"name": "o.txt", "mimetype": "text/plain", "object": "eA=="}',
    "/datasets/framing/schemas": b'{"name": "schema-broken", "schema": "e30="}',
}


def _chunked(body: bytes, how: str) -> tuple[bytes, bool]:
    """A chunked body broken in one way; and whether the client then closes its sending side
    (the body it cut short would otherwise be waited for)."""
    if how == "bad chunk size":
        return b"zz\r\n" + body + b"\r\n0\r\n\r\n", False
    if how == "missing chunk terminator":
        return f"{len(body):x}\r\n".encode() + body + b"XX0\r\n\r\n", False
    if how == "cut short":
        return f"{len(body) + 100:x}\r\n".encode() + body, True
    raise AssertionError(how)


@pytest.mark.parametrize("how", ["bad chunk size", "missing chunk terminator", "cut short"])
@pytest.mark.parametrize("path", list(JSON_BODIES))
def test_a_json_body_with_broken_chunked_framing_is_400_and_changes_nothing(
        site: SimpleNamespace, path: str, how: str) -> None:
    before = _state(site)
    body, half_close = _chunked(JSON_BODIES[path], how)
    answer = exchange(site.port, _head(site, path, "Transfer-Encoding: chunked\r\n") + body,
                      half_close=half_close)
    assert answer.status == 400, answer
    assert "body" in answer.json()["error"]
    assert _state(site) == before


@pytest.mark.parametrize("padding", [MAX_JSON, 10 * MAX_JSON])
def test_a_chunked_json_body_over_the_limit_is_413_and_not_carried_out(
        site: SimpleNamespace, padding: int) -> None:
    """Valid JSON within the limit, then whitespace past it: read only up to the limit, it
    parsed, and the dataset was created."""
    before = _state(site)
    name = f"padded-{uuid.uuid4().hex[:8]}"
    body = f'{{"name": "{name}"}}'.encode() + b" " * padding
    chunks = b"".join(f"{len(body[i:i + 100]):x}\r\n".encode() + body[i:i + 100] + b"\r\n"
                      for i in range(0, len(body), 100))
    answer = exchange(site.port, _head(site, "/datasets", "Transfer-Encoding: chunked\r\n")
                      + chunks + b"0\r\n\r\n")
    assert answer.status == 413, answer
    assert str(MAX_JSON) in answer.json()["error"]
    assert _state(site) == before


def test_a_chunked_json_body_within_the_limit_is_carried_out(site: SimpleNamespace) -> None:
    name = f"chunked-{uuid.uuid4().hex[:8]}"
    body = f'{{"name": "{name}"}}'.encode()
    answer = exchange(site.port, _head(site, "/datasets", "Transfer-Encoding: chunked\r\n")
                      + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    assert (answer.status, answer.json()) == (200, {"dataset": name})


@pytest.mark.parametrize("path", list(JSON_BODIES))
def test_a_json_body_shorter_than_its_content_length_is_400_and_not_carried_out(
        site: SimpleNamespace, path: str) -> None:
    """The client announces 30 bytes more than it sends, then closes its sending side: what
    arrived is valid JSON, but not the request it meant."""
    before = _state(site)
    body = JSON_BODIES[path]
    answer = exchange(site.port, _head(site, path, f"Content-Length: {len(body) + 30}\r\n")
                      + body, half_close=True)
    assert answer.status == 400, answer
    assert "Content-Length" in answer.json()["error"]
    assert _state(site) == before


# --- requests the HTTP server refuses itself ----------------------------------------------------

HOST = "Host: 127.0.0.1\r\n"
GET = f"GET /datasets HTTP/1.1\r\n{HOST}"
POST = f"POST /datasets HTTP/1.1\r\n{HOST}Content-Type: application/json\r\n"
MANY_HEADERS = "".join(f"X-Header-{n}: {n}\r\n" for n in range(120))

SERVE_REFUSES = [
    ("bad request line", b"GARBAGE\r\n\r\n", 400),
    ("lowercase method", f"get /datasets HTTP/1.1\r\n{HOST}\r\n".encode(), 400),
    ("bad HTTP version", f"GET /datasets HTTP/9.9\r\n{HOST}\r\n".encode(), 400),
    ("bare LF", b"GET /datasets HTTP/1.1\nHost: 127.0.0.1\n\n", 400),
    ("request line too long", f"GET /{'a' * 9000} HTTP/1.1\r\n{HOST}\r\n".encode(), 414),
    ("too many headers", f"{GET}{MANY_HEADERS}\r\n".encode(), 431),
    ("header too large", f"{GET}X-Big: {'b' * 10000}\r\n\r\n".encode(), 431),
    ("head over 64 KiB", (GET + "".join(f"X-Large-{n}: {'c' * 4000}\r\n" for n in range(20))
                          + "\r\n").encode(), 431),
    ("bad header name", f"{GET}Bad Name: x\r\n\r\n".encode(), 400),
    ("bad Content-Length", f"{POST}Content-Length: abc\r\n\r\n{{}}".encode(), 400),
    ("negative Content-Length", f"{POST}Content-Length: -2\r\n\r\n{{}}".encode(), 400),
    ("two Content-Lengths", f"{POST}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{{}}".encode(),
     400),
    ("Content-Length and chunked",
     f"{POST}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
     .encode(), 400),
    ("chunked not last", f"{POST}Transfer-Encoding: chunked, gzip\r\n\r\n".encode(), 400),
    ("chunked twice", f"{POST}Transfer-Encoding: chunked, chunked\r\n\r\n".encode(), 400),
    ("chunked in HTTP/1.0", f"POST /datasets HTTP/1.0\r\n{HOST}Transfer-Encoding: chunked\r\n"
                            "\r\n0\r\n\r\n".encode(), 400),
    ("unknown transfer coding", f"{POST}Transfer-Encoding: bogus\r\n\r\n".encode(), 501),
]


@pytest.mark.parametrize(("message", "status"), [case[1:] for case in SERVE_REFUSES],
                         ids=[case[0] for case in SERVE_REFUSES])
def test_requests_gunicorn_refuses_get_a_json_error(serve_site: SimpleNamespace, message: bytes,
                                                    status: int) -> None:
    before = _state(serve_site)
    answer = exchange(serve_site.port, message)
    assert answer.status == status, answer
    assert answer.headers["connection"] == "close"
    error = answer.json()["error"]
    assert isinstance(error, str) and error.strip()
    assert len(error) < 500  # the client's bytes are quoted, but not kilobytes of them
    assert _state(serve_site) == before


RUN_REFUSES = [
    ("bad request line", b"GARBAGE\r\n\r\n", 400),
    ("bad HTTP version", f"GET /datasets HTTP/9.9\r\n{HOST}\r\n".encode(), 505),
    ("too many headers", f"{GET}{MANY_HEADERS}\r\n".encode(), 431),
]


@pytest.mark.parametrize(("message", "status"), [case[1:] for case in RUN_REFUSES],
                         ids=[case[0] for case in RUN_REFUSES])
def test_requests_the_development_server_refuses_get_a_json_error(
        run_site: SimpleNamespace, message: bytes, status: int) -> None:
    answer = exchange(run_site.port, message)
    assert answer.status == status, answer
    assert answer.json()["error"].strip()
