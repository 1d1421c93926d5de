"""Slow and idle clients against `gonk-api serve` (GonkWorker): they must not keep anyone else
from being answered, and each holds a connection (never a thread) only for a bounded time.

The server here has 2 workers x 2 threads: 4 threads in all, so 50 slow connections are far
more than it has threads (under gunicorn's gthread worker, 4 of them stalled every other
request). Tests never assert on timing beyond generous bounds: "answered within a few seconds
while 50 slow connections are open", "cut off within a few seconds of its timeout".
bench/slow_clients.py measures the same with the default workers and up to 500 connections.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests

from tests.support.storage import installed_blobs, running_site
from tests.support.wire import (
    ResponseReader,
    exchange,
    is_closed_or_answered,
    read_response,
    slow_connections,
    wait_for,
)

pytestmark = pytest.mark.xdist_group("slow-clients")

HEADER_TIMEOUT = 3
BODY_TIMEOUT = 2
ANSWERED_WITHIN = 5.0  # seconds; a normal request takes milliseconds
SLOW = 50


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    with running_site(tmp_path_factory.mktemp("slow") / "gonk-data", "sqlite-files", request,
                      ("alice",), "serve",
                      ["--workers", "2", "--threads", "2", "--header-timeout",
                       str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT)],
                      new_session=True, split_stderr=True) as site:
        site.port = site.server.port
        site.auth = {"x-api-key": site.key}
        yield site


def _normal_requests_are_answered(site: SimpleNamespace, count: int = 10) -> None:
    """`count` normal requests, each on a new connection, each answered 200 in time."""
    for _ in range(count):
        started = time.monotonic()
        resp = requests.get(f"{site.base}/datasets", headers=site.auth,
                            timeout=ANSWERED_WITHIN)
        assert resp.status_code == 200
        assert time.monotonic() - started < ANSWERED_WITHIN


def _new_dataset(site: SimpleNamespace) -> str:
    name = f"slow-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{site.base}/datasets", json={"name": name}, headers=site.auth,
                         timeout=ANSWERED_WITHIN).status_code == 200
    return name


def test_normal_requests_are_answered_while_50_slow_clients_hold_connections(
        site: SimpleNamespace) -> None:
    """Five kinds of slow client, 10 of each, all open while normal requests are made: idle,
    half a request line, a head sent a byte at a time, a small JSON body sent a byte at a time,
    and a complete head whose body never comes (announced small)."""
    head = f"GET /datasets HTTP/1.1\r\nHost: slow\r\nx-api-key: {site.key}\r\n\r\n".encode()
    body = b'{"name": "never-sent-in-full"}'
    post = (f"POST /datasets HTTP/1.1\r\nHost: slow\r\nx-api-key: {site.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    starts = [b"", b"GET /datasets HTT", b"", post, post + body[:5]] * (SLOW // 5)
    drips = [b"", b"", head, body, b""] * (SLOW // 5)
    with slow_connections(site.port, starts, drips) as socks:
        time.sleep(0.3)  # the server has accepted them
        _normal_requests_are_answered(site)
        still_open = [sock for sock in socks if not is_closed_or_answered(sock)]
        assert len(still_open) == SLOW  # the server waits for them, it did not drop them
    assert "never-sent-in-full" not in requests.get(f"{site.base}/datasets", headers=site.auth,
                                                    timeout=ANSWERED_WITHIN).json()


def test_a_head_that_does_not_arrive_in_time_is_408_json_then_closed(
        site: SimpleNamespace) -> None:
    """Half a head: 408 with a JSON error once the header timeout has passed, then the
    connection is closed. A connection that sends nothing at all is closed then too, without
    an answer (there is no request to answer)."""
    timeout = HEADER_TIMEOUT + 10
    with socket.create_connection(("127.0.0.1", site.port), timeout=timeout) as partial, \
            socket.create_connection(("127.0.0.1", site.port), timeout=timeout) as idle:
        partial.sendall(b"GET /datasets HTTP/1.1\r\nHost: slow\r\nx-api")
        started = time.monotonic()
        answer = read_response(partial)
        assert HEADER_TIMEOUT - 1 < time.monotonic() - started < HEADER_TIMEOUT + 5
        assert answer.status == 408
        assert "did not arrive" in answer.json()["error"]
        assert partial.recv(1) == b""
        assert idle.recv(1) == b""
        assert time.monotonic() - started < HEADER_TIMEOUT + 5


def test_idle_keep_alive_connections_hold_no_thread_and_stay_usable(
        site: SimpleNamespace) -> None:
    """20 connections that made a request and keep the connection open (5 times the threads):
    others are answered meanwhile, and each can still make its next request."""
    request = f"GET /datasets HTTP/1.1\r\nHost: slow\r\nx-api-key: {site.key}\r\n\r\n".encode()
    socks = [socket.create_connection(("127.0.0.1", site.port), timeout=10) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(request)
            assert read_response(sock).status == 200
        _normal_requests_are_answered(site)
        for sock in socks:
            sock.sendall(request)
            answer = read_response(sock)
            assert answer.status == 200 and answer.headers.get("connection") != "close"
    finally:
        for sock in socks:
            sock.close()


def test_a_request_sent_a_byte_at_a_time_is_answered(site: SimpleNamespace) -> None:
    """The main loop puts a head (and small body) together from pieces as small as one byte,
    its end split across them."""
    name = f"bytewise-{uuid.uuid4().hex[:8]}"
    body = f'{{"name": "{name}"}}'.encode()
    message = (f"POST /datasets HTTP/1.1\r\nHost: slow\r\nx-api-key: {site.key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
               ).encode() + body
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in message:
            sock.send(bytes([byte]))
            time.sleep(0.002)
        answer = read_response(sock)
    assert (answer.status, answer.json()) == (200, {"dataset": name})


def test_pipelined_requests_are_all_answered_in_order(site: SimpleNamespace) -> None:
    """Several requests sent at once on one connection (the first with a small body): the main
    loop reads them together, and each request's leftover bytes start the next one."""
    body = b'{"name": "pipelined-%s"}' % uuid.uuid4().hex[:8].encode()
    post = (f"POST /datasets HTTP/1.1\r\nHost: slow\r\nx-api-key: {site.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    get = f"GET /datasets HTTP/1.1\r\nHost: slow\r\nx-api-key: {site.key}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as sock:
        sock.sendall(post + body + get + get)
        reader = ResponseReader(sock)
        answers = [reader.next() for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert body.split(b'"')[3].decode() in answers[2].json()


def test_bodies_that_stop_or_trickle_free_their_threads_and_store_nothing(
        site: SimpleNamespace) -> None:
    """Twice as many uploads as threads: half send part of their body and stop, half send a
    byte every half second. Each fails within a few seconds of the body timeout (400, nothing
    stored), so the threads they held serve others again."""
    dataset = _new_dataset(site)
    blobs = installed_blobs(site.data_dir, site.env)
    blobs_before = sorted(digest for digest, _ in blobs.all_blobs())
    head = (f"POST /datasets/{dataset}/objects?name=slow.bin HTTP/1.1\r\nHost: slow\r\n"
            f"x-api-key: {site.key}\r\nContent-Type: application/octet-stream\r\n"
            "Content-Length: 1000000\r\n\r\n").encode()
    starts = [head + b"x" * 70_000, head] * 4
    drips = [b"", b"y" * 1000] * 4
    with slow_connections(site.port, starts, drips) as socks:
        started = time.monotonic()
        answers = [read_response(sock) for sock in socks]
        assert time.monotonic() - started < 3 * BODY_TIMEOUT + 10
        assert [a.status for a in answers] == [400] * len(socks)
        assert all("nothing was" in a.json()["error"].lower() for a in answers), answers
    _normal_requests_are_answered(site)
    objects = requests.get(f"{site.base}/datasets/{dataset}/objects", headers=site.auth,
                           timeout=ANSWERED_WITHIN)
    assert objects.json() == []
    assert sorted(digest for digest, _ in blobs.all_blobs()) == blobs_before
    assert wait_for(lambda: list(blobs.temporary_uploads()) == [], 5)


def test_a_body_the_application_does_not_read_is_not_waited_for(site: SimpleNamespace) -> None:
    """A 401 before a large body is read: answered at once, and no thread then waits for the
    rest of the body (the connection is closed instead)."""
    head = (b"POST /datasets/x/objects?name=a.bin HTTP/1.1\r\nHost: slow\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n")
    with slow_connections(site.port, [head + b"z" * 1000] * 8, [b""] * 8) as socks:
        for sock in socks:
            answer = read_response(sock)
            assert answer.status == 401
        _normal_requests_are_answered(site)


def test_a_small_body_sent_with_its_head_works_as_before(site: SimpleNamespace) -> None:
    name = f"whole-{uuid.uuid4().hex[:8]}"
    body = f'{{"name": "{name}"}}'.encode()
    answer = exchange(site.port, (f"POST /datasets HTTP/1.1\r\nHost: slow\r\n"
                                  f"x-api-key: {site.key}\r\nContent-Type: application/json\r\n"
                                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
                      .encode() + body)
    assert (answer.status, answer.json()) == (200, {"dataset": name})
